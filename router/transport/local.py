"""
In-process WAMP connections: a client session and the router's session factory joined without a
socket, messages passing through a real serializer in order.

The delivery queue decides when messages arrive: :class:`ReactorQueue` on later reactor turns (the
router's own components, which must never run inside the router's call stack), :class:`SyncQueue`
at once in one FIFO (:mod:`router.testing`, which runs without a reactor).
"""

from collections import deque
from typing import Any, Callable

from autobahn.wamp import types as wamp_types
from autobahn.wamp.exception import TransportLost
from autobahn.wamp.interfaces import ITransport, ITransportHandler
from autobahn.wamp.message import Message
from twisted.internet import defer
from twisted.logger import Logger

from router.codec import decode
from router.transport.serializers import SERIALIZERS


class SyncQueue:
    """
    One FIFO of actions, drained at once and without recursion.
    """

    def __init__(self) -> None:
        self._actions: deque[Callable[[], None]] = deque()
        self._running = False

    def post(self, action: Callable[[], None]) -> None:
        self._actions.append(action)
        if self._running:
            return
        self._running = True
        try:
            while self._actions:
                self._actions.popleft()()
        finally:
            self._running = False


class ReactorQueue:
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

    def __init__(self, connection: "LocalConnection", is_server: bool, peer: str, serializer: str) -> None:
        self._connection = connection
        self._serializer = SERIALIZERS[serializer]()
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
    :param queue: Runs the deliveries, in order: a :class:`ReactorQueue`, or :class:`SyncQueue` for
        tests without a reactor.
    :param peer: How the connection is described (``transport.peer`` in the session meta API).
    :param serializer: The serializer messages travel through, as on a socket.
    """

    def __init__(self, client: ITransportHandler, sessions: Callable[[], Any], queue: Any, peer: str,
                 serializer: str = "msgpack") -> None:
        self.queue = queue
        self.open = True
        #: fires when the connection is closed (by either side)
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.client = LocalTransport(self, is_server=False, peer=peer, serializer=serializer)
        self.server = LocalTransport(self, is_server=True, peer=peer, serializer=serializer)
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


