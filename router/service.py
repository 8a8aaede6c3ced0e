"""
The router as a Twisted service: the core, its session factory and its listeners.

Shared by the ``wampd`` command and the ``twistd wampd`` plugin.
"""

import signal
from datetime import datetime, timezone
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IListeningPort, IProtocolFactory
from twisted.logger import Logger
from twisted.python.failure import Failure

from router import uris
from router.components import ComponentHost
from router.config import Config, ListenerConfig
from router.core import Router
from router.transport.handler import SessionFactory
from router.transport.rawsocket import rawsocket_factory
from router.transport.tls import ServerTLS, TLSConfigError, TLSListenerFactory, describe_certificate
from router.transport.universal import UniversalFactory
from router.transport.web import web_site
from router.transport.websocket import websocket_factory


def _protocol_factory(listener: ListenerConfig, router: Router, session_factory: SessionFactory,
                      reactor: Any) -> IProtocolFactory:
    names = list(listener.serializers)
    sessions = session_factory.with_methods(listener.auth)

    def rawsocket() -> IProtocolFactory:
        return rawsocket_factory(sessions, names, listener.max_message_size, max_send_buffer=listener.max_send_buffer,
                                 reactor=reactor)

    if listener.type == "rawsocket":
        return rawsocket()
    websocket = websocket_factory(sessions, names, listener.max_message_size, options=listener.websocket,
                                  max_send_buffer=listener.max_send_buffer)
    if listener.type == "websocket":
        return websocket
    site = web_site(router, websocket, listener.path, ["wamp.2." + name for name in names], listener.web_root)
    return UniversalFactory(rawsocket(), site, reactor=reactor)


def _address(port: IListeningPort) -> str:
    host = port.getHost()
    if hasattr(host, "port"):
        return "{}:{}".format(host.host, host.port)
    return "unix:{}".format(host.name.decode() if isinstance(host.name, bytes) else host.name)


class RouterService(Service):
    """
    Runs a router on the configured listeners.

    :param config: What to run (endpoint strings already checked, see :func:`router.tap.build_config`).
    :param reactor: The reactor to listen with (the global one if not given).
    :param reload_on_sighup: Reload TLS certificates on SIGHUP while running (the processes
        ``wampd`` and ``twistd wampd`` do; tests call :meth:`reload_tls`).
    """

    log = Logger()

    def __init__(self, config: Config, reactor: Any = None, reload_on_sighup: bool = False) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self._reactor = reactor
        self.config = config
        self.router = Router(config.router, clock=reactor)
        self.sessions = SessionFactory(self.router, reactor)
        #: (index, listener, its TLS connection creator) for each TLS listener
        self._tls: list[tuple[int, ListenerConfig, ServerTLS]] = []
        self._reload_on_sighup = reload_on_sighup
        self._previous_sighup: Any = None
        self._sighup_installed = False
        self._endpoints = [
            (listener, endpoints.serverFromString(reactor, listener.endpoint),
             self._secure(i, listener, _protocol_factory(listener, self.router, self.sessions, reactor)))
            for i, listener in enumerate(config.listeners)
        ]
        #: the listening ports, in the order of the configured listeners once :attr:`ready` fired
        self.ports: list[IListeningPort] = []
        self._opened: list[IListeningPort] = []
        #: fires when every listener listens, or fails with the first listening error
        self.ready: defer.Deferred[None] = defer.Deferred()

    def _secure(self, index: int, listener: ListenerConfig, factory: IProtocolFactory) -> IProtocolFactory:
        if listener.tls is None:
            return factory
        creator = ServerTLS(listener.tls)
        self._tls.append((index, listener, creator))
        return TLSListenerFactory(creator, factory, self._reactor)

    def startService(self) -> None:
        Service.startService(self)
        self._install_sighup()
        # in-process components (router.components): started first, stopped before the goodbyes
        self.components = ComponentHost(self.config.components, self.sessions, self._reactor)
        self.components.start()
        d = defer.gatherResults([self._listen(*entry) for entry in self._endpoints], consumeErrors=True)
        d.addCallbacks(self._listening, self._not_listening)

    @defer.inlineCallbacks
    def _listen(self, listener: ListenerConfig, endpoint: Any, factory: IProtocolFactory) -> Any:
        port = yield endpoint.listen(factory)
        self._opened.append(port)
        self.log.info("wampd listening on {address} ({kind}{path})", address=_address(port),
                      kind=listener.type, path=" " + listener.path if listener.type == "universal" else "")
        if isinstance(factory, TLSListenerFactory):
            self._log_certificate("wampd TLS on {address}: {subject}, serial {serial}, valid until {not_after}",
                                  factory.creator, address=_address(port))
        return port

    def _listening(self, ports: list[IListeningPort]) -> None:
        self.ports = ports
        realms = ", ".join(self.router.realms) or "none"
        self.log.info("wampd ready: realms {realms}", realms=realms)
        self.ready.callback(None)

    def _not_listening(self, failure: Failure) -> None:
        error = failure.value.subFailure if isinstance(failure.value, defer.FirstError) else failure
        self.log.critical("wampd cannot listen: {error}", error=error.getErrorMessage())
        for port in self._opened:
            port.stopListening()
        self.ready.errback(error)

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        Service.stopService(self)
        self._uninstall_sighup()
        ports, self.ports = self.ports, []
        yield defer.gatherResults([defer.maybeDeferred(port.stopListening) for port in ports])
        if getattr(self, "components", None) is not None:
            yield self.components.stop()
        yield self.sessions.shutdown(uris.CLOSE_SYSTEM_SHUTDOWN)
        self.log.info("wampd stopped")

    # TLS certificate reloading (SIGHUP)

    def reload_tls(self) -> int:
        """
        Read every TLS listener's key and certificates again: new connections get the new ones, open
        connections and their sessions carry on untouched. A listener whose files cannot be used
        keeps its current certificate, and the error is logged.

        :returns: How many listeners now serve freshly read files.
        """
        reloaded = 0
        for index, listener, creator in self._tls:
            try:
                creator.reload()
            except TLSConfigError as e:
                self.log.error("TLS reload of listeners[{index}] ({endpoint}) failed; keeping the current "
                               "certificate: tls.{error}", index=index, endpoint=listener.endpoint, error=e)
                continue
            reloaded += 1
            self._log_certificate("TLS certificate of listeners[{index}] ({endpoint}) reloaded: {subject}, "
                                  "serial {serial}, valid until {not_after}", creator, index=index,
                                  endpoint=listener.endpoint)
        if not self._tls:
            self.log.info("TLS reload: no TLS listeners")
        return reloaded

    def _log_certificate(self, message: str, creator: ServerTLS, **fields: Any) -> None:
        details = describe_certificate(creator.certificate)
        if creator.expired(datetime.fromtimestamp(self._reactor.seconds(), timezone.utc)):
            self.log.warn(message + " (NOT VALID NOW)", **details, **fields)
        else:
            self.log.info(message, **details, **fields)

    def _install_sighup(self) -> None:
        if self._reload_on_sighup and hasattr(signal, "SIGHUP") and not self._sighup_installed:
            self._previous_sighup = signal.signal(signal.SIGHUP, self._sighup)
            self._sighup_installed = True

    def _uninstall_sighup(self) -> None:
        if self._sighup_installed:
            # None: the previous handler was not installed from Python; the default is the best guess
            previous = self._previous_sighup if self._previous_sighup is not None else signal.SIG_DFL
            signal.signal(signal.SIGHUP, previous)
            self._sighup_installed = False

    def _sighup(self, signum: int, frame: Any) -> None:
        # a signal handler interrupts whatever the reactor thread was doing: only schedule the work
        self._reactor.callFromThread(self.reload_tls)
