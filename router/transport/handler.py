"""
The bridge between Autobahn transports and the sans-IO core.

:class:`SessionHandler` is the :class:`~autobahn.wamp.interfaces.ITransportHandler` Autobahn's
factories create per connection; :class:`SessionFactory` makes them and knows the live ones, so
the router can say goodbye to every session on shutdown.
"""

from typing import Any, Callable

from autobahn.exception import PayloadExceededError
from autobahn.wamp.exception import SerializationError, TransportLost
from autobahn.wamp.interfaces import ITransport, ITransportHandler
from autobahn.wamp.message import Message
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from router.core import Router
from router.replies import Deliveries
from router.session import SessionMachine, State


def deliver(deliveries: Deliveries) -> None:
    """
    Hand each message to the link of the session it is addressed to.

    This is the one place messages leave the core; a cluster backplane would give remote sessions a
    link that forwards to another router process.
    """
    for peer, msg in deliveries:
        peer.link.send(msg)


def _transport_info(transport: ITransport) -> dict[str, Any]:
    details = transport.transport_details
    if details is None:
        return {}
    return {"peer": details.peer, "is_secure": details.is_secure}


class SessionHandler:
    """
    One connection's handler: feeds decoded messages to its session machine and sends the replies.

    :param factory: The factory that made it (and tracks it while the connection is open).
    """

    log = Logger()

    def __init__(self, factory: "SessionFactory", methods: dict[str, Any] | None = None) -> None:
        self._factory = factory
        self._methods = methods
        self.transport: ITransport | None = None
        self.machine: SessionMachine | None = None

    @property
    def _session_id(self) -> int | None:
        """
        The current session id (Autobahn's transports read it for their trace logs).
        """
        peer = self.machine.peer if self.machine else None
        return peer.session_id if peer else None

    @property
    def _authid(self) -> str | None:
        """
        The current authid (Autobahn's transports read it for their trace logs).
        """
        peer = self.machine.peer if self.machine else None
        return peer.authid if peer else None

    def onOpen(self, transport: ITransport) -> None:
        self.transport = transport
        self.machine = SessionMachine(self._factory.router, link=self, transport_info=_transport_info(transport),
                                      methods=self._methods)
        self._factory.live.add(self)

    def onMessage(self, message: Any) -> None:
        machine = self.machine
        if machine is None:
            return
        try:
            deliver(machine.receive(message))
        except Exception:
            self.log.failure("Internal error while routing {message!r}; closing the connection", message=message)
            self._factory.live.discard(self)
            deliver(machine.transport_lost())
            self._close()
            return
        if machine.close_transport or (self in self._factory.closing and machine.state is not State.CLOSING):
            self._close()

    def onClose(self, wasClean: bool) -> None:
        self._factory.live.discard(self)
        machine, self.machine = self.machine, None
        self.transport = None
        if machine is not None:
            deliver(machine.transport_lost())
        waiter = self._factory.closing.pop(self, None)
        if waiter is not None:
            waiter.callback(None)

    def send(self, msg: Message) -> None:
        """
        Send one message on this connection (the link interface the core's deliveries use).
        """
        transport = self.transport
        if transport is None or not transport.isOpen():
            return
        try:
            transport.send(msg)
        except (PayloadExceededError, SerializationError) as e:
            self.log.warn("Could not send {kind} to session {session}: {error}", kind=type(msg).__name__.upper(),
                          session=self._session_id or "-", error=e)
            machine = self.machine
            if machine is not None:
                deliver(machine.undeliverable(msg))
                if machine.close_transport:
                    self._close()
        except TransportLost:
            pass

    def goodbye(self, reason: str, message: str | None = None) -> None:
        """
        Close the current session from the router side.
        """
        if self.machine is not None:
            deliver(self.machine.goodbye(reason, message))

    def _close(self) -> None:
        transport = self.transport
        if transport is not None and transport.isOpen():
            transport.close()


ITransportHandler.register(SessionHandler)


class SessionFactory:
    """
    Makes a :class:`SessionHandler` per connection, for Autobahn's WAMP transport factories.

    :param router: The router core the sessions join.
    :param reactor: For the shutdown grace period.
    """

    log = Logger()

    def __init__(self, router: Router, reactor: IReactorTime) -> None:
        self.router = router
        router.emit = deliver
        self._reactor = reactor
        #: handlers whose connection is open
        self.live: set[SessionHandler] = set()
        #: handlers told to close at shutdown -> Deferred fired when their connection is gone
        self.closing: dict[SessionHandler, defer.Deferred[None]] = {}

    def __call__(self) -> SessionHandler:
        return SessionHandler(self)

    def with_methods(self, methods: dict[str, Any] | None) -> Callable[[], SessionHandler]:
        """
        A handler maker for a listener with its own authentication methods (anonymous if ``None``).
        """
        return lambda: SessionHandler(self, methods)

    def shutdown(self, reason: str, grace: float = 2.0) -> "defer.Deferred[None]":
        """
        Say GOODBYE to every session and close each connection once its GOODBYE comes back; fires
        when all are closed, aborting those still open after ``grace`` seconds.
        """
        handlers = list(self.live)
        waiters = []
        for handler in handlers:
            waiter: defer.Deferred[None] = defer.Deferred()
            self.closing[handler] = waiter
            waiters.append(waiter)
            handler.goodbye(reason, "the router is shutting down")
            if handler.machine is None or handler.machine.state is not State.CLOSING:
                handler._close()
        done = defer.DeferredList(waiters)
        timer = self._reactor.callLater(grace, self._abandon)
        done.addBoth(lambda _: timer.active() and timer.cancel())
        return done.addCallback(lambda _: None)

    def _abandon(self) -> None:
        for handler, waiter in list(self.closing.items()):
            self.closing.pop(handler, None)
            if handler.transport is not None:
                handler.transport.abort()
            waiter.callback(None)
