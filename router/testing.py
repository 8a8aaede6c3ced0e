"""
An in-memory router with connected Autobahn client sessions: for wampd's tests and for yours.

Everything runs synchronously in memory through the real router core and a real serializer, with
no sockets and no reactor::

    from router.testing import MemoryRouter

    router = MemoryRouter()
    backend = router.join(MyBackend)          # an ApplicationSession subclass
    client = router.join()                    # a plain ApplicationSession
    result = client.call("com.example.add", 2, 3).result   # an already-fired Deferred

Messages are delivered in one FIFO queue, so the ordering a real router guarantees holds here too.
"""

from collections import deque
from typing import Any, Callable

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import TransportLost
from autobahn.wamp.interfaces import ITransport, ITransportHandler
from autobahn.wamp.message import Message
from autobahn.wamp.types import ComponentConfig, TransportDetails
from twisted.internet.task import Clock

from router.codec import decode
from router.core import Router, RouterOptions
from router.transport.handler import SessionFactory
from router.transport.serializers import SERIALIZERS


class _Pump:
    """
    One FIFO queue for every message in flight, drained without recursion.
    """

    def __init__(self) -> None:
        self._queue: deque[Callable[[], None]] = deque()
        self._running = False

    def post(self, action: Callable[[], None]) -> None:
        self._queue.append(action)
        if self._running:
            return
        self._running = True
        try:
            while self._queue:
                self._queue.popleft()()
        finally:
            self._running = False


class MemoryTransport:
    """
    One end of an in-memory connection; implements Autobahn's ``ITransport``.

    Messages are serialized on send and decoded on arrival, as on a socket.
    """

    def __init__(self, pump: _Pump, serializer_name: str, is_server: bool) -> None:
        self._pump = pump
        self._serializer = SERIALIZERS[serializer_name]()
        self._is_server = is_server
        self.handler: Any = None
        self.remote: "MemoryTransport | None" = None
        self._open = True
        self._details = TransportDetails(channel_type=TransportDetails.CHANNEL_TYPE_FUNCTION,
                                         peer="memory", is_server=is_server, is_secure=False)

    @property
    def transport_details(self) -> TransportDetails:
        return self._details

    def send(self, message: Message) -> None:
        if not self._open:
            raise TransportLost()
        payload, is_binary = self._serializer.serialize(message)
        remote = self.remote
        assert remote is not None
        self._pump.post(lambda: remote._receive(payload, is_binary))

    def _receive(self, payload: bytes, is_binary: bool) -> None:
        if not self._open or self.handler is None:
            return
        if self._is_server:
            for item in decode(self._serializer, payload, is_binary):
                self.handler.onMessage(item)
        else:
            for msg in self._serializer.unserialize(payload, is_binary):
                self.handler.onMessage(msg)

    def isOpen(self) -> bool:
        return self._open

    def close(self) -> None:
        if self._open:
            self._pump.post(lambda: self._lost(True))

    def abort(self) -> None:
        self.close()

    def _lost(self, clean: bool) -> None:
        for end in (self, self.remote):
            if end is not None and end._open:
                end._open = False
                if end.handler is not None:
                    end.handler.onClose(clean)


ITransport.register(MemoryTransport)


class MemoryRouter:
    """
    A router core with in-memory connections.

    :param options: Realms and router options (default: realm ``realm1``).
    :param clock: The clock timers run on (a ``task.Clock`` by default; advance it to move time).
    """

    def __init__(self, options: RouterOptions | None = None, clock: Any = None) -> None:
        self.clock = clock if clock is not None else Clock()
        self.router = Router(options, clock=self.clock)
        self.sessions = SessionFactory(self.router, self.clock)
        self._pump = _Pump()

    def connect(self, handler: ITransportHandler, serializer: str = "json",
                methods: dict[str, Any] | None = None) -> MemoryTransport:
        """
        Open an in-memory connection from ``handler`` (e.g. an ``ApplicationSession``) to the router.

        :param methods: Authentication methods the connection offers (anonymous by default), as
            :func:`router.auth.config.parse_auth` makes them.
        :returns: The client's end of the connection; ``close()`` it to drop the connection.
        """
        client = MemoryTransport(self._pump, serializer, is_server=False)
        server = MemoryTransport(self._pump, serializer, is_server=True)
        client.remote, server.remote = server, client
        client.handler, server.handler = handler, self.sessions.with_methods(methods)()
        self._pump.post(lambda: server.handler.onOpen(server))
        self._pump.post(lambda: handler.onOpen(client))
        return client

    def join(self, session: Any = ApplicationSession, realm: str = "realm1", serializer: str = "json",
             methods: dict[str, Any] | None = None) -> Any:
        """
        Connect a client session and let it join ``realm``.

        :param session: An ``ApplicationSession`` instance or subclass.
        :param methods: Authentication methods the connection offers (anonymous by default).
        :returns: The session (joined, unless the router refused it).
        """
        if isinstance(session, type):
            session = session(ComponentConfig(realm=realm))
        self.connect(session, serializer, methods)
        return session
