"""
Components the router runs itself: the ``ApplicationSession`` classes its configuration lists, each
joined to its realm over an in-process connection (no socket) to the service's session factory.

:class:`ComponentHost` starts them with the service and, at shutdown, has them leave before the
router says goodbye to the other sessions::

    host = ComponentHost(config.components, sessions, reactor)
    host.start()
    ...
    yield host.stop()          # then sessions.shutdown(...)

A :class:`LocalConnection` carries messages through a real serializer, like a socket, and delivers
them on the next reactor turn, in order, so a component never runs inside the router's own call
stack.
"""

import importlib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from autobahn.wamp import types as wamp_types
from autobahn.wamp.exception import TransportLost
from autobahn.wamp.interfaces import ITransport, ITransportHandler
from autobahn.wamp.message import Message
from twisted.internet import defer
from twisted.logger import Logger

from router import uris
from router.codec import decode
from router.transport.handler import SessionFactory
from router.transport.serializers import SERIALIZERS

if TYPE_CHECKING:
    from router.config import ComponentConfig

#: the serializer of in-process connections (binary, and it carries bytes values as they are)
LOCAL_SERIALIZER = "msgpack"


def load_class(classname: str) -> type:
    """
    The class a dotted import path names, e.g. ``components.ticker.Ticker``.

    :raises ValueError: saying why it cannot be loaded.
    """
    module_name, _, attribute = classname.rpartition(".")
    if not module_name:
        raise ValueError("{!r} is not a dotted import path".format(classname))
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError("cannot import {}: {}".format(module_name, e)) from e
    found = getattr(module, attribute, None)
    if not isinstance(found, type):
        raise ValueError("{} has no class {}".format(module_name, attribute))
    return found


class _Queue:
    """
    A FIFO of actions run on later reactor turns, a batch per turn.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._actions: deque[Callable[[], None]] = deque()
        self._scheduled: Any = None

    def post(self, action: Callable[[], None]) -> None:
        self._actions.append(action)
        if self._scheduled is None:
            self._scheduled = self._reactor.callLater(0, self._run)

    def _run(self) -> None:
        self._scheduled = None
        # only what was queued before this turn: a chatty pair cannot starve the reactor
        for _ in range(len(self._actions)):
            self._actions.popleft()()
        if self._actions and self._scheduled is None:
            self._scheduled = self._reactor.callLater(0, self._run)


class LocalTransport:
    """
    One end of a :class:`LocalConnection`; Autobahn's ``ITransport``.
    """

    log = Logger()

    def __init__(self, connection: "LocalConnection", is_server: bool, peer: str) -> None:
        self._connection = connection
        self._serializer = SERIALIZERS[LOCAL_SERIALIZER]()
        self._is_server = is_server
        self.handler: Any = None
        self.remote: "LocalTransport | None" = None
        self._details = wamp_types.TransportDetails(channel_type=wamp_types.TransportDetails.CHANNEL_TYPE_FUNCTION,
                                                    peer=peer, is_server=is_server, is_secure=False)
        #: fires with this transport once the connection is closed (as Autobahn's transports' does)
        self.is_closed: defer.Deferred[LocalTransport] = defer.Deferred()

    @property
    def transport_details(self) -> wamp_types.TransportDetails:
        return self._details

    def send(self, message: Message) -> None:
        if not self._connection.open:
            raise TransportLost()
        payload, is_binary = self._serializer.serialize(message)
        remote = self.remote
        assert remote is not None
        self._connection.queue.post(lambda: remote._receive(payload, is_binary))

    def _receive(self, payload: bytes, is_binary: bool) -> None:
        if not self._connection.open:
            return
        try:
            if self._is_server:
                for item in decode(self._serializer, payload, is_binary):
                    self.handler.onMessage(item)
            else:
                for msg in self._serializer.unserialize(payload, is_binary):
                    self.handler.onMessage(msg)
        except Exception:
            self.log.failure("Dropping the in-process connection of {peer}", peer=self._details.peer)
            self._connection.lost(clean=False)

    def isOpen(self) -> bool:
        return self._connection.open

    def close(self) -> None:
        """
        Close the connection once the messages already sent have arrived.
        """
        if self._connection.open:
            self._connection.queue.post(lambda: self._connection.lost(clean=True))

    def abort(self) -> None:
        """
        Close the connection now.
        """
        self._connection.lost(clean=False)


ITransport.register(LocalTransport)


class LocalConnection:
    """
    An in-process connection between a client session and the router's session factory.

    :param client: The client's handler (an ``ApplicationSession``).
    :param sessions: Makes the router side's handler.
    :param reactor: Runs the deliveries.
    :param peer: How the connection is described (``transport.peer`` in the session meta API).
    """

    def __init__(self, client: ITransportHandler, sessions: SessionFactory, reactor: Any, peer: str) -> None:
        self.queue = _Queue(reactor)
        self.open = True
        #: fires when the connection is closed (by either side)
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.client = LocalTransport(self, is_server=False, peer=peer)
        self.server = LocalTransport(self, is_server=True, peer=peer)
        self.client.remote, self.server.remote = self.server, self.client
        self.client.handler, self.server.handler = client, sessions()
        self.queue.post(lambda: self.server.handler.onOpen(self.server))
        self.queue.post(lambda: self.client.handler.onOpen(self.client))

    def lost(self, clean: bool) -> None:
        """
        Close both ends now, telling both handlers.
        """
        if not self.open:
            return
        self.open = False
        for end in (self.server, self.client):
            try:
                end.handler.onClose(clean)
            except Exception:
                LocalTransport.log.failure("Error closing the in-process connection of {peer}", peer=end._details.peer)
            end.is_closed.callback(end)
        self.closed.callback(None)


@dataclass
class RunningComponent:
    """
    A component the router started: its configuration, session and connection.
    """

    config: "ComponentConfig"
    session: Any
    connection: LocalConnection
    #: fires once the session has joined and run its ``onJoin`` (or failed to join)
    ready: "defer.Deferred[None]"


class ComponentHost:
    """
    Runs configured components in-process, each on its own :class:`LocalConnection`.

    :param components: What to run.
    :param sessions: The session factory of the router they join.
    :param reactor: For the in-process deliveries and the shutdown grace period.
    """

    log = Logger()

    def __init__(self, components: "tuple[ComponentConfig, ...]", sessions: SessionFactory, reactor: Any) -> None:
        self._components = components
        self._sessions = sessions
        self._reactor = reactor
        #: the components started, in configuration order (those that failed to start are left out)
        self.running: list[RunningComponent] = []
        self._stopping = False

    def start(self) -> None:
        """
        Start every component; one that cannot be loaded or created is logged and skipped.
        """
        for config in self._components:
            try:
                session_class = load_class(config.classname)
                session = session_class(wamp_types.ComponentConfig(realm=config.realm, extra=dict(config.extra)))
            except Exception:
                self.log.failure("Component {classname} could not be started", classname=config.classname)
                continue
            self.running.append(self._connect(config, session))

    def _connect(self, config: "ComponentConfig", session: Any) -> RunningComponent:
        ready: defer.Deferred[None] = defer.Deferred()

        def joined(session: Any, *args: Any) -> None:
            self.log.info("Component {classname} ready on realm {realm}", classname=config.classname,
                          realm=config.realm)
            if not ready.called:
                ready.callback(None)

        def left(session: Any, details: Any) -> None:
            level = self.log.info if self._stopping else self.log.warn
            level("Component {classname} left realm {realm}: {reason} {message}", classname=config.classname,
                  realm=config.realm, reason=details.reason, message=details.message or "")
            if not ready.called:
                ready.callback(None)

        def closed(result: None) -> None:
            if not ready.called:
                ready.callback(None)
            return result

        session.on("ready", joined)
        session.on("leave", left)
        connection = LocalConnection(session, self._sessions, self._reactor, "component:" + config.classname)
        connection.closed.addCallback(closed)
        return RunningComponent(config, session, connection, ready)

    def ready(self) -> "defer.Deferred[None]":
        """
        Fires when every started component has joined and run its ``onJoin`` (or given up).
        """
        return defer.gatherResults([running.ready for running in self.running]).addCallback(lambda _: None)

    def stop(self, grace: float = 2.0) -> "defer.Deferred[None]":
        """
        Have every component leave with ``wamp.close.system_shutdown``; fires when all their
        connections are closed, closing those still open after ``grace`` seconds.
        """
        self._stopping = True
        running, self.running = self.running, []
        for component in running:
            if not component.connection.open:
                continue
            if component.session.is_attached():
                component.session.leave(uris.CLOSE_SYSTEM_SHUTDOWN, "the router is shutting down")
            else:
                # not joined (yet): there is no session to leave, only the connection
                component.connection.client.close()
        done = defer.gatherResults([component.connection.closed for component in running])
        timer = self._reactor.callLater(grace, self._abandon, running)
        done.addBoth(lambda result: timer.active() and timer.cancel())
        return done.addCallback(lambda _: None)

    def _abandon(self, running: list[RunningComponent]) -> None:
        for component in running:
            if component.connection.open:
                self.log.warn("Component {classname} did not leave in time", classname=component.config.classname)
                component.connection.client.abort()
