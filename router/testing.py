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

from typing import Any

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.interfaces import ITransportHandler
from autobahn.wamp.types import ComponentConfig
from twisted.internet.task import Clock

from router.core import Router, RouterOptions
from router.transport.handler import SessionFactory
from router.transport.local import LocalConnection, LocalTransport, SyncQueue


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
        self._queue = SyncQueue()

    def connect(self, handler: ITransportHandler, serializer: str = "json",
                methods: dict[str, Any] | None = None) -> LocalTransport:
        """
        Open an in-memory connection from ``handler`` (e.g. an ``ApplicationSession``) to the router.

        :param methods: Authentication methods the connection offers (anonymous by default), as
            :func:`router.auth.config.parse_auth` makes them.
        :returns: The client's end of the connection; ``close()`` it to drop the connection.
        """
        return LocalConnection(handler, self.sessions.with_methods(methods), self._queue, "memory", serializer).client

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
