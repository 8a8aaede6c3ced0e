"""
The router as a Twisted service: the core, its session factory and its listeners.

Shared by the ``wampd`` command and the ``twistd wampd`` plugin.
"""

from typing import Any

from twisted.application.service import Service
from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IListeningPort, IProtocolFactory
from twisted.logger import Logger
from twisted.python.failure import Failure

from router import uris
from router.config import Config, ListenerConfig
from router.core import Router
from router.transport.handler import SessionFactory
from router.transport.rawsocket import rawsocket_factory
from router.transport.universal import UniversalFactory
from router.transport.web import web_site
from router.transport.websocket import websocket_factory


def _protocol_factory(listener: ListenerConfig, router: Router, session_factory: SessionFactory) -> IProtocolFactory:
    names = list(listener.serializers)
    sessions = session_factory.with_methods(listener.auth)
    if listener.type == "rawsocket":
        return rawsocket_factory(sessions, names, listener.max_message_size)
    websocket = websocket_factory(sessions, names, listener.max_message_size)
    if listener.type == "websocket":
        return websocket
    site = web_site(router, websocket, listener.path, ["wamp.2." + name for name in names])
    return UniversalFactory(rawsocket_factory(sessions, names, listener.max_message_size), site)


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
    """

    log = Logger()

    def __init__(self, config: Config, reactor: Any = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self._reactor = reactor
        self.config = config
        self.router = Router(config.router, clock=reactor)
        self.sessions = SessionFactory(self.router, reactor)
        self._endpoints = [
            (listener, endpoints.serverFromString(reactor, listener.endpoint),
             _protocol_factory(listener, self.router, self.sessions))
            for listener in config.listeners
        ]
        #: the listening ports, in the order of the configured listeners once :attr:`ready` fired
        self.ports: list[IListeningPort] = []
        self._opened: list[IListeningPort] = []
        #: fires when every listener listens, or fails with the first listening error
        self.ready: defer.Deferred[None] = defer.Deferred()

    def startService(self) -> None:
        Service.startService(self)
        d = defer.gatherResults([self._listen(*entry) for entry in self._endpoints], consumeErrors=True)
        d.addCallbacks(self._listening, self._not_listening)

    @defer.inlineCallbacks
    def _listen(self, listener: ListenerConfig, endpoint: Any, factory: IProtocolFactory) -> Any:
        port = yield endpoint.listen(factory)
        self._opened.append(port)
        self.log.info("wampd listening on {address} ({kind}{path})", address=_address(port),
                      kind=listener.type, path=" " + listener.path if listener.type == "universal" else "")
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
        ports, self.ports = self.ports, []
        yield defer.gatherResults([defer.maybeDeferred(port.stopListening) for port in ports])
        yield self.sessions.shutdown(uris.CLOSE_SYSTEM_SHUTDOWN)
        self.log.info("wampd stopped")
