"""
One port for HTTP, WebSocket and RawSocket.

A RawSocket client's first octet is 0x7F, which never starts an HTTP request; the first octet
received decides which protocol serves the connection.
"""

from twisted.internet.interfaces import IAddress, IProtocolFactory, ITransport
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from zope.interface import directlyProvides, providedBy

RAWSOCKET_MAGIC = b"\x7f"


class UniversalProtocol(ProtocolWrapper):
    """
    Waits for the first octet, then wraps the RawSocket or the HTTP protocol for the rest.

    It stays a :class:`ProtocolWrapper` so Autobahn's ``WebSocketResource`` can swap the HTTP
    channel for a WebSocket protocol on upgrade.
    """

    def __init__(self, factory: "UniversalFactory", addr: IAddress) -> None:
        ProtocolWrapper.__init__(self, factory, None)  # type: ignore[arg-type]
        self._addr = addr

    def makeConnection(self, transport: ITransport) -> None:
        directlyProvides(self, providedBy(transport))
        Protocol.makeConnection(self, transport)

    def dataReceived(self, data: bytes) -> None:
        if self.wrappedProtocol is None:
            chosen = self.factory.rawsocket if data[:1] == RAWSOCKET_MAGIC else self.factory.web
            inner = chosen.buildProtocol(self._addr)
            if inner is None:
                self.transport.loseConnection()
                return
            self.wrappedProtocol = inner
            inner.makeConnection(self)
        self.wrappedProtocol.dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        if self.wrappedProtocol is not None:
            self.wrappedProtocol.connectionLost(reason)
            self.wrappedProtocol = None


class UniversalFactory(Factory):
    """
    Serves RawSocket with ``rawsocket`` and everything else with ``web`` (an HTTP site).
    """

    noisy = False

    def __init__(self, rawsocket: IProtocolFactory, web: IProtocolFactory) -> None:
        self.rawsocket = rawsocket
        self.web = web

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
