"""
WAMP over WebSocket: Autobahn's server factory with the router's decoding, limits and timeouts.

Hostile and careless peers: the opening handshake must complete within its timeout and come from an
allowed origin (browsers send ``Origin``; other clients may omit it); the router pings every
connection and drops a peer that does not answer in time; a message is limited to
``max_message_size`` after decompression (Autobahn inflates permessage-deflate data only up to the
limit, so a small compressed frame cannot expand past it); and every write is reported to the
connection's :class:`~router.transport.handler.SendBuffer`, which ends a session whose peer stops
reading.
"""

from typing import Any, Callable

from autobahn.twisted.websocket import WampWebSocketServerFactory, WampWebSocketServerProtocol
from autobahn.wamp.exception import SerializationError, TransportLost
from autobahn.wamp.message import Message
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept

from router.codec import Oversized, decode
from router.transport.handler import SendBuffer
from router.transport.options import DEFAULT_MAX_SEND_BUFFER, WebSocketOptions, origin_patterns
from router.transport.serializers import serializers_for


class RouterWebSocketProtocol(WampWebSocketServerProtocol):
    """
    A WAMP WebSocket connection: every payload goes through :func:`router.codec.decode`, so bad input
    becomes an ABORT or ERROR from the session machine rather than a dropped connection.
    """

    factory: "RouterWebSocketFactory"
    _send_buffer: SendBuffer | None = None

    def onOpen(self) -> None:
        WampWebSocketServerProtocol.onOpen(self)
        overflow: Callable[[int], None] | None = getattr(self._session, "send_buffer_overflow", None)
        if overflow is not None and self.transport is not None:
            self._send_buffer = SendBuffer(self.factory.max_send_buffer, overflow)
            self._send_buffer.attach(self.transport)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self._send_buffer = None
        WampWebSocketServerProtocol.onClose(self, wasClean, code, reason)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        for item in decode(self._serializer, payload, isBinary):
            if self._session is None:
                return
            self._session.onMessage(item)

    def send(self, msg: Message) -> None:
        """
        ``ITransport.send`` without Autobahn's trace logging, whose arguments it formats for every
        message even when tracing is off (the largest single cost of fan-out).
        """
        if self._session is None:
            raise TransportLost()
        try:
            payload, is_binary = self._serializer.serialize(msg)
        except Exception as e:
            raise SerializationError("WAMP message serialization error: {}".format(e)) from e
        self.sendMessage(payload, is_binary)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        if self._send_buffer is not None and not self._send_buffer.admit(len(data)):
            return
        if sync or chopsize or self.send_queue or self.logOctets:
            WampWebSocketServerProtocol.sendData(self, data, sync, chopsize)
            return
        # the common case of Autobahn's sendData, without its debug log (formatted eagerly)
        self.transport.write(data)
        if self.state == self.STATE_OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        else:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        if self._session is not None:
            self._session.onMessage(Oversized(msg_size, max_msg_size))
        WampWebSocketServerProtocol._max_message_size_exceeded(self, msg_size, max_msg_size, reason)


class RouterWebSocketFactory(WampWebSocketServerFactory):
    """
    Autobahn's WAMP WebSocket server factory carrying the send buffer bound.
    """

    protocol = RouterWebSocketProtocol
    #: bytes a session may have waiting while its peer does not read
    max_send_buffer = DEFAULT_MAX_SEND_BUFFER


def _accept_deflate(max_message_size: int) -> Callable[[list[Any]], PerMessageDeflateOfferAccept | None]:
    """
    Accept the client's first permessage-deflate offer, inflating at most ``max_message_size`` per
    message (on top of the limit Autobahn applies to the inflated message).
    """

    def accept(offers: list[Any]) -> PerMessageDeflateOfferAccept | None:
        for offer in offers:
            if isinstance(offer, PerMessageDeflateOffer):
                return PerMessageDeflateOfferAccept(offer, max_message_size=max_message_size)
        return None

    return accept


def websocket_factory(
    sessions: Callable[[], Any],
    serializers: list[str],
    max_message_size: int,
    url: str | None = None,
    options: WebSocketOptions | None = None,
    max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER,
) -> RouterWebSocketFactory:
    """
    A WebSocket server factory for WAMP, speaking ``wamp.2.<serializer>`` for each serializer given.

    :param sessions: Makes the per-connection session handlers.
    :param serializers: Serializer names, in order of preference.
    :param max_message_size: Largest message accepted, in bytes (after decompression).
    :param url: The WebSocket URL the factory serves.
    :param options: Origins, timeouts, pings and compression (the defaults if not given).
    :param max_send_buffer: Bytes a session may have waiting while its peer does not read.
    """
    options = options or WebSocketOptions()
    factory = RouterWebSocketFactory(sessions, url=url, serializers=serializers_for(serializers))
    factory.noisy = False
    factory.max_send_buffer = max_send_buffer
    origins, allow_null = origin_patterns(options.allowed_origins)
    factory.setProtocolOptions(
        # fail with a close frame (1009 too big, 1007 bad UTF-8) instead of a reset that would also
        # discard the ABORT queued before it
        failByDrop=False,
        maxMessagePayloadSize=max_message_size,
        maxFramePayloadSize=max_message_size,
        allowedOrigins=origins,
        allowNullOrigin=allow_null,
        openHandshakeTimeout=options.open_handshake_timeout,
        closeHandshakeTimeout=options.close_handshake_timeout,
        autoPingInterval=options.auto_ping_interval,
        autoPingTimeout=options.auto_ping_timeout,
        perMessageCompressionAccept=_accept_deflate(max_message_size) if options.compression else (lambda _: None),
        # text frames are decoded as UTF-8 JSON by the router, which refuses invalid UTF-8 with ABORT
        # protocol_violation; Autobahn's separate incremental check would only do that work twice
        utf8validateIncoming=False,
    )
    return factory
