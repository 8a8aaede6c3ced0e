"""
The bridge between Autobahn transports and the sans-IO core.

:class:`SessionHandler` is the :class:`~autobahn.wamp.interfaces.ITransportHandler` Autobahn's
factories create per connection; :class:`SessionFactory` makes them and knows the live ones, so
the router can say goodbye to every session on shutdown.

Slow consumers: a peer that does not read what the router sends would make the router buffer
without end. Each connection's :class:`SendBuffer` learns from Twisted when the connection's send
buffer is full and counts what is written while it stays full; past the bound the session is
ended with ABORT :data:`SLOW_CONSUMER` and the connection closed (aborted if it does not go within
the close timeout). Other sessions are never paused or delayed for it.
"""

from typing import Any, Callable

from autobahn.exception import PayloadExceededError
from autobahn.wamp.exception import SerializationError, TransportLost
from autobahn.wamp.interfaces import ITransport, ITransportHandler
from autobahn.wamp.message import Message
from twisted.internet import defer
from twisted.internet.interfaces import IConsumer, IDelayedCall, IPushProducer, IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from router import uris
from router.core import Router
from router.replies import Deliveries
from router.session import SessionMachine, State
from router.transport.options import DEFAULT_JOIN_TIMEOUT, DEFAULT_CLOSE_TIMEOUT

#: ABORT reason for a session whose peer stopped reading (not a spec URI; the ``wamp.`` namespace is
#: the spec's)
SLOW_CONSUMER = uris.SLOW_CONSUMER


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
    info: dict[str, Any] = {"peer": details.peer, "is_secure": details.is_secure}
    if details.peer_cert:
        info["peer_cert"] = details.peer_cert
    if details.channel_id:
        info["channel_id"] = details.channel_id
    return info


@implementer(IPushProducer)
class SendBuffer:
    """
    Watches how much one connection has waiting to be sent.

    Registered as the streaming producer of the connection's Twisted transport, it is paused when
    the transport's buffer passes its high-water mark (the kernel's send buffer is full and Twisted
    holds more) and resumed when that buffer is empty again. The transport protocol asks
    :meth:`admit` before every write: what is written while paused is counted, and a write that
    would take the count past ``limit`` is refused and ``overflow`` called instead (once; later
    writes, such as the ABORT that follows, are admitted).

    :param limit: Bytes that may be written while the transport's buffer stays full.
    :param overflow: Called with the count the refused write would have made.
    """

    def __init__(self, limit: int, overflow: Callable[[int], None]) -> None:
        self.limit = limit
        self._overflow = overflow
        #: whether the transport's buffer is full
        self.paused = False
        #: bytes written since it became full
        self.queued = 0
        #: set once ``overflow`` was called
        self.overflowed = False
        self._consumer: IConsumer | None = None

    def attach(self, consumer: IConsumer) -> None:
        """
        Register with ``consumer`` (the connection's Twisted transport).

        A protocol that ran earlier on the same connection may have left its producer registered
        (Twisted Web's HTTP channel, after a WebSocket upgrade); it has no use for it any more and
        is replaced.
        """
        try:
            consumer.registerProducer(self, True)
        except RuntimeError:
            consumer.unregisterProducer()
            consumer.registerProducer(self, True)
        self._consumer = consumer

    def detach(self) -> None:
        """
        Unregister from the transport (before closing it: Twisted does not finish closing a
        transport while a paused producer is registered).
        """
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.unregisterProducer()

    def admit(self, size: int) -> bool:
        """
        Whether ``size`` bytes may be written to the transport now (and they are counted); if not,
        the overflow has been reported and they must not be written.
        """
        if not self.paused or self.overflowed:
            return True
        if self.queued + size > self.limit:
            self.overflowed = True
            self._overflow(self.queued + size)
            return False
        self.queued += size
        return True

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.queued = 0

    def stopProducing(self) -> None:
        # the connection is gone; the transport has dropped its reference to us
        self._consumer = None


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
        #: set when the router gave up on the peer reading: nothing more is sent
        self._overflowed = False
        #: aborts the connection if it is still open when the close timeout passes
        self._close_deadline: IDelayedCall | None = None
        self._join_deadline: IDelayedCall | None = None

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
        self._join_deadline = self._factory.clock.callLater(self._factory.join_timeout, self._join_timed_out)

    def _join_timed_out(self) -> None:
        self._join_deadline = None
        machine = self.machine
        if machine is None or machine.peer is not None or machine.state is State.FAILED:
            return
        self.log.info("Connection from {peer} did not join within {timeout} s; closing it",
                      peer=(self.transport.transport_details.peer if self.transport and
                            self.transport.transport_details else "-"),
                      timeout=self._factory.join_timeout)
        deliver(machine.abort(uris.TIMEOUT, "no session was established in time"))
        self._close()

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
        for deadline in (self._close_deadline, self._join_deadline):
            if deadline is not None and deadline.active():
                deadline.cancel()
        self._close_deadline = self._join_deadline = None
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
        if transport is None or self._overflowed or not transport.isOpen():
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

    def send_buffer_overflow(self, queued: int) -> None:
        """
        The peer has not been reading: sending on would put ``queued`` bytes behind the connection's
        full send buffer (called by the transport's :class:`SendBuffer`, which refuses that write).

        The session ends with ABORT :data:`SLOW_CONSUMER` (queued behind what the peer has not
        read), nothing more is sent, and the connection is closed.
        """
        machine = self.machine
        if machine is None or self._overflowed:
            return
        self.log.warn("Session {session} does not read what it is sent ({queued} bytes waiting); closing it",
                      session=self._session_id or "-", queued=queued)
        if machine.state is not State.FAILED:
            deliver(machine.abort(SLOW_CONSUMER, "the session did not read its messages fast enough"))
        self._overflowed = True
        self._close()

    def _close(self) -> None:
        transport = self.transport
        if transport is not None and transport.isOpen():
            transport.close()
            if self._close_deadline is None and self.transport is not None:
                self._close_deadline = self._factory.clock.callLater(self._factory.close_timeout,
                                                                     self._abort_transport)

    def _abort_transport(self) -> None:
        self._close_deadline = None
        transport = self.transport
        if transport is not None:
            self.log.info("Connection of session {session} did not close in time; aborting it",
                          session=self._session_id or "-")
            transport.abort()


ITransportHandler.register(SessionHandler)


class SessionFactory:
    """
    Makes a :class:`SessionHandler` per connection, for Autobahn's WAMP transport factories.

    :param router: The router core the sessions join.
    :param reactor: For the shutdown grace period and the close timeout.
    :param close_timeout: Seconds a connection the router closes may take to go before it is aborted.
    :param join_timeout: Seconds a new connection has to complete its WAMP opening handshake (HELLO
        to WELCOME, challenges and authenticator calls included).
    """

    log = Logger()

    def __init__(self, router: Router, reactor: IReactorTime, close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
                 join_timeout: float = DEFAULT_JOIN_TIMEOUT) -> None:
        self.router = router
        router.emit = deliver
        self._reactor = reactor
        self.close_timeout = close_timeout
        self.join_timeout = join_timeout
        #: handlers whose connection is open
        self.live: set[SessionHandler] = set()
        #: handlers told to close at shutdown -> Deferred fired when their connection is gone
        self.closing: dict[SessionHandler, defer.Deferred[None]] = {}

    @property
    def clock(self) -> IReactorTime:
        """
        The reactor the handlers schedule their timeouts with.
        """
        return self._reactor

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
