"""
WAMP over RawSocket: Autobahn's server factory with a complete handshake and framing.

Autobahn's server protocol aborts silently on a bad handshake and reads frames as plain 32-bit
lengths. This protocol answers handshake errors with the spec's error reply, handles PING/PONG
frames, and turns an oversized frame into ABORT ``wamp.error.payload_size_exceeded``.

Hostile peers: a connection that has not completed its handshake within the handshake timeout is
dropped; input is buffered only up to one frame of the announced size; and every write is reported
to the connection's :class:`~router.transport.handler.SendBuffer`, which ends a session whose peer
stops reading.
"""

import math
import struct
from typing import Any, Callable

from autobahn.exception import PayloadExceededError
from autobahn.twisted.rawsocket import WampRawSocketServerFactory, WampRawSocketServerProtocol
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from router.codec import Malformed, Oversized, decode
from router.transport.handler import SendBuffer
from router.transport.options import DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_SEND_BUFFER
from router.transport.serializers import serializers_for

MAGIC = 0x7F

#: handshake error codes (the high nibble of the second reply octet)
ERROR_SERIALIZER_UNSUPPORTED = 1
ERROR_LENGTH_UNACCEPTABLE = 2
ERROR_RESERVED_BITS = 3

FRAME_MESSAGE = 0
FRAME_PING = 1
FRAME_PONG = 2

_HEADER = struct.Struct("!I")
#: the largest payload a frame header can state
_MAX_FRAME_LENGTH = 0xFFFFFF


def length_exponent(max_message_size: int) -> int:
    """
    The handshake's 4-bit length exponent L announcing a limit of 2^(9+L) >= ``max_message_size``.
    """
    return min(15, max(0, math.ceil(math.log2(max_message_size)) - 9))


class RouterRawSocketProtocol(WampRawSocketServerProtocol):
    """
    A WAMP RawSocket connection (server side).
    """

    factory: "RouterRawSocketFactory"

    def connectionMade(self) -> None:
        WampRawSocketServerProtocol.connectionMade(self)
        self._buffer = bytearray()
        #: set once the handshake was refused or timed out: later input is ignored
        self._refused = False
        self._send_buffer: SendBuffer | None = None
        exponent = length_exponent(self.factory.max_message_size)
        self._length_exponent = exponent
        self.MAX_LENGTH = 2 ** (9 + exponent)
        self._handshake_deadline: IDelayedCall | None = self.factory.clock.callLater(
            self.factory.handshake_timeout, self._handshake_timed_out)

    def connectionLost(self, reason: Failure) -> None:
        self._cancel_handshake_deadline()
        self._send_buffer = None
        WampRawSocketServerProtocol.connectionLost(self, reason)

    def dataReceived(self, data: bytes) -> None:
        if self._refused:
            return
        self._buffer += data
        if not self._handshake_complete:
            if len(self._buffer) < 4:
                return
            handshake = bytes(self._buffer[:4])
            del self._buffer[:4]
            if not self._accept_handshake(handshake):
                self._refused = True
                self._buffer = bytearray()
                return
        self._read_frames()

    # handshake

    def _handshake_timed_out(self) -> None:
        self._handshake_deadline = None
        self.log.info("RawSocket: no handshake from {peer} within {timeout} seconds; closing", peer=self.peer,
                      timeout=self.factory.handshake_timeout)
        self._refused = True
        self.abort()

    def _cancel_handshake_deadline(self) -> None:
        deadline, self._handshake_deadline = self._handshake_deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _accept_handshake(self, handshake: bytes) -> bool:
        self._cancel_handshake_deadline()
        if handshake[0] != MAGIC:
            self.log.info("RawSocket: no magic octet from {peer}; closing", peer=self.peer)
            self.abort()
            return False
        if handshake[2] or handshake[3]:
            return self._refuse(ERROR_RESERVED_BITS)
        serializer_id = handshake[1] & 0x0F
        serializer = self.factory._serializers.get(serializer_id)
        if serializer is None:
            return self._refuse(ERROR_SERIALIZER_UNSUPPORTED)
        self._serializer = serializer
        self._max_len_send = 2 ** (9 + (handshake[1] >> 4))
        self.transport.write(bytes([MAGIC, (self._length_exponent << 4) | serializer_id, 0, 0]))
        self._handshake_complete = True
        self._on_handshake_complete()
        return True

    def _on_handshake_complete(self) -> None:
        WampRawSocketServerProtocol._on_handshake_complete(self)
        overflow: Callable[[int], None] | None = getattr(self._session, "send_buffer_overflow", None)
        if overflow is not None and self.transport is not None:
            self._send_buffer = SendBuffer(self.factory.max_send_buffer, overflow)
            self._send_buffer.attach(self.transport)

    def _refuse(self, error: int) -> bool:
        self.log.info("RawSocket: refusing handshake from {peer} with error {error}", peer=self.peer, error=error)
        self.transport.write(bytes([MAGIC, error << 4, 0, 0]))
        self.transport.loseConnection()
        return False

    # frames

    def _read_frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 4 and self._session is not None:
            (header,) = _HEADER.unpack_from(buffer)
            frame_type, length = header >> 24, header & 0xFFFFFF
            if frame_type & 0x08:  # the X bit stands for exactly 2^24
                frame_type, length = frame_type & 0x07, length + 2**24
            if frame_type > FRAME_PONG:
                self._buffer = bytearray()
                self._session.onMessage(Malformed("RawSocket frame with reserved bits or type set"))
                return
            if length > self.MAX_LENGTH:
                self._buffer = bytearray()
                self._session.onMessage(Oversized(length, self.MAX_LENGTH))
                return
            if len(buffer) < 4 + length:
                break
            payload = bytes(buffer[4:4 + length])
            # deleting from the front of a bytearray is cheap (no copy of the rest)
            del buffer[:4 + length]
            if frame_type == FRAME_MESSAGE:
                for item in decode(self._serializer, payload):
                    if self._session is None:
                        break
                    self._session.onMessage(item)
            elif frame_type == FRAME_PING:
                self._write(_HEADER.pack((FRAME_PONG << 24) | length) + payload)

    # output

    def sendString(self, string: bytes) -> None:
        """
        Send one WAMP message frame (Autobahn's :meth:`send` calls this with the serialized message).
        """
        if len(string) > _MAX_FRAME_LENGTH:
            raise PayloadExceededError("RawSocket message of {} bytes is longer than a frame can carry"
                                       .format(len(string)))
        self._write(_HEADER.pack(len(string)) + string)

    def _write(self, data: bytes) -> None:
        if self._send_buffer is None or self._send_buffer.admit(len(data)):
            self.transport.write(data)

    def close(self) -> None:
        """
        Close the connection once what is buffered has been sent (the ITransport interface).
        """
        send_buffer, self._send_buffer = self._send_buffer, None
        if send_buffer is not None:
            send_buffer.detach()
        WampRawSocketServerProtocol.close(self)


class RouterRawSocketFactory(WampRawSocketServerFactory):
    """
    RawSocket server factory carrying the router's limits.

    :param sessions: Makes the per-connection session handlers.
    :param serializers: Serializer names, in order of preference.
    :param max_message_size: Largest message accepted, in bytes.
    :param handshake_timeout: Seconds a connection may take to send its handshake.
    :param max_send_buffer: Bytes a session may have waiting while its peer does not read.
    :param reactor: For the handshake timeout (the global reactor if not given).
    """

    protocol = RouterRawSocketProtocol

    def __init__(self, sessions: Callable[[], Any], serializers: list[str], max_message_size: int,
                 handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT, max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER,
                 reactor: IReactorTime | None = None) -> None:
        WampRawSocketServerFactory.__init__(self, sessions, serializers=serializers_for(serializers))
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor  # type: ignore[assignment]
        self.clock: IReactorTime = reactor  # type: ignore[assignment]
        self.max_message_size = max_message_size
        self.handshake_timeout = handshake_timeout
        self.max_send_buffer = max_send_buffer
        self.noisy = False


def rawsocket_factory(sessions: Callable[[], Any], serializers: list[str], max_message_size: int,
                      **options: Any) -> RouterRawSocketFactory:
    """
    A RawSocket server factory for WAMP with the given serializers and size limit; ``options`` are
    those of :class:`RouterRawSocketFactory` (``handshake_timeout``, ``max_send_buffer``, ``reactor``).
    """
    return RouterRawSocketFactory(sessions, serializers, max_message_size, **options)
