"""
One port for HTTP, WebSocket and RawSocket.

A RawSocket client's first octet is 0x7F, which never starts an HTTP request; the first octet
received decides which protocol serves the connection.

A connection must have made its first request within the handshake timeout: the router must have
started to answer it (an HTTP response, the WebSocket upgrade, the RawSocket handshake reply) by
then, or the connection is dropped. Silent connections and headers trickling in byte by byte do not
hold a connection open.
"""

from typing import Any

from twisted.internet.interfaces import IAddress, IDelayedCall, IProtocolFactory, IReactorTime, ITransport
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from zope.interface import directlyProvides, providedBy

from router.transport.options import DEFAULT_HANDSHAKE_TIMEOUT

RAWSOCKET_MAGIC = b"\x7f"


class UniversalProtocol(ProtocolWrapper):
    """
    Waits for the first octet, then wraps the RawSocket or the HTTP protocol for the rest.

    It stays a :class:`ProtocolWrapper` so Autobahn's ``WebSocketResource`` can swap the HTTP
    channel for a WebSocket protocol on upgrade.
    """

    log = Logger()

    def __init__(self, factory: "UniversalFactory", addr: IAddress) -> None:
        ProtocolWrapper.__init__(self, factory, None)  # type: ignore[arg-type]
        self._addr = addr
        self._deadline: IDelayedCall | None = None

    def makeConnection(self, transport: ITransport) -> None:
        directlyProvides(self, providedBy(transport))
        self._deadline = self.factory.clock.callLater(self.factory.handshake_timeout, self._timed_out)
        Protocol.makeConnection(self, transport)

    def dataReceived(self, data: bytes) -> None:
        if self.wrappedProtocol is None:
            if not data:
                return
            chosen = self.factory.rawsocket if data[:1] == RAWSOCKET_MAGIC else self.factory.web
            inner = chosen.buildProtocol(self._addr)
            if inner is None:
                self.transport.loseConnection()
                return
            below = self.transport
            if isinstance(below, ProtocolWrapper) and below.wrappedProtocol is self:
                # under TLS (router.transport.tls, whose own deadline takes over): step out of the
                # chain, so Autobahn sees the TLS layer as the transport (is_secure, peer certificate)
                self._answered()
                below.wrappedProtocol = inner
                inner.makeConnection(below)
                inner.dataReceived(data)
                return
            self.wrappedProtocol = inner
            inner.makeConnection(self)
        self.wrappedProtocol.dataReceived(data)

    def write(self, data: bytes) -> None:
        self._answered()
        self.transport.write(data)

    def writeSequence(self, data: Any) -> None:
        self._answered()
        self.transport.writeSequence(data)

    def connectionLost(self, reason: Failure) -> None:
        self._answered()
        if self.wrappedProtocol is not None:
            self.wrappedProtocol.connectionLost(reason)
            self.wrappedProtocol = None

    def _answered(self) -> None:
        """
        The router has started answering (or the connection is gone): the deadline is off.
        """
        deadline, self._deadline = self._deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _timed_out(self) -> None:
        self._deadline = None
        self.log.info("No request from {peer} within {timeout} seconds; closing", peer=self._addr,
                      timeout=self.factory.handshake_timeout)
        self.transport.abortConnection()


class UniversalFactory(Factory):
    """
    Serves RawSocket with ``rawsocket`` and everything else with ``web`` (an HTTP site).

    :param handshake_timeout: Seconds a connection may take to make its first request.
    :param reactor: For the timeout (the global reactor if not given).
    """

    noisy = False

    def __init__(self, rawsocket: IProtocolFactory, web: IProtocolFactory,
                 handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT, reactor: IReactorTime | None = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor  # type: ignore[assignment]
        self.clock: IReactorTime = reactor  # type: ignore[assignment]
        self.rawsocket = rawsocket
        self.web = web
        self.handshake_timeout = handshake_timeout

    def buildProtocol(self, addr: IAddress) -> UniversalProtocol:
        return UniversalProtocol(self, addr)

    def registerProtocol(self, protocol: Protocol) -> None:
        """
        Part of the wrapping-factory interface :class:`ProtocolWrapper` expects; nothing to track.
        """

    def unregisterProtocol(self, protocol: Protocol) -> None:
        """
        Part of the wrapping-factory interface :class:`ProtocolWrapper` expects; nothing to track.
        """

    def doStart(self) -> None:
        self.rawsocket.doStart()
        self.web.doStart()

    def doStop(self) -> None:
        self.rawsocket.doStop()
        self.web.doStop()
