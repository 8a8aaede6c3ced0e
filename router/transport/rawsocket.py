"""
WAMP over RawSocket: Autobahn's server factory with a complete handshake and framing.

Autobahn's server protocol aborts silently on a bad handshake and reads frames as plain 32-bit
lengths. This protocol answers handshake errors with the spec's error reply, handles PING/PONG
frames, and turns an oversized frame into ABORT ``wamp.error.payload_size_exceeded``.
"""

import math
import struct

from autobahn.twisted.rawsocket import WampRawSocketServerFactory, WampRawSocketServerProtocol

from router.codec import Malformed, Oversized, decode
from router.transport.handler import SessionFactory
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


def length_exponent(max_message_size: int) -> int:
    """
    The handshake's 4-bit length exponent L announcing a limit of 2^(9+L) >= ``max_message_size``.
    """
    return min(15, max(0, math.ceil(math.log2(max_message_size)) - 9))


class RouterRawSocketProtocol(WampRawSocketServerProtocol):
    """
    A WAMP RawSocket connection (server side).
    """

    def connectionMade(self) -> None:
        WampRawSocketServerProtocol.connectionMade(self)
        self._buffer = b""
        exponent = length_exponent(self.factory.max_message_size)
        self._length_exponent = exponent
        self.MAX_LENGTH = 2 ** (9 + exponent)

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        if not self._handshake_complete:
            if len(self._buffer) < 4:
                return
            handshake, self._buffer = self._buffer[:4], self._buffer[4:]
            if not self._accept_handshake(handshake):
                return
        self._read_frames()

    def _accept_handshake(self, handshake: bytes) -> bool:
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

    def _refuse(self, error: int) -> bool:
        self.log.info("RawSocket: refusing handshake from {peer} with error {error}", peer=self.peer, error=error)
        self.transport.write(bytes([MAGIC, error << 4, 0, 0]))
        self.transport.loseConnection()
        return False

    def _read_frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 4 and self._session is not None:
            (header,) = _HEADER.unpack_from(buffer)
            frame_type, length = header >> 24, header & 0xFFFFFF
            if frame_type & 0x08:  # the X bit stands for exactly 2^24
                frame_type, length = frame_type & 0x07, length + 2**24
            if frame_type > FRAME_PONG:
                self._buffer = b""
                self._session.onMessage(Malformed("RawSocket frame with reserved bits or type set"))
                return
            if length > self.MAX_LENGTH:
                self._buffer = b""
                self._session.onMessage(Oversized(length, self.MAX_LENGTH))
                return
            if len(buffer) < 4 + length:
                break
            payload, buffer = buffer[4:4 + length], buffer[4 + length:]
            if frame_type == FRAME_MESSAGE:
                for item in decode(self._serializer, payload):
                    if self._session is None:
                        break
                    self._session.onMessage(item)
            elif frame_type == FRAME_PING:
                self.transport.write(_HEADER.pack((FRAME_PONG << 24) | length) + payload)
        self._buffer = buffer


class RouterRawSocketFactory(WampRawSocketServerFactory):
    """
    RawSocket server factory carrying the router's message size limit.
    """

    protocol = RouterRawSocketProtocol

    def __init__(self, sessions: SessionFactory, serializers: list[str], max_message_size: int) -> None:
        WampRawSocketServerFactory.__init__(self, sessions, serializers=serializers_for(serializers))
        self.max_message_size = max_message_size
        self.noisy = False


def rawsocket_factory(sessions: SessionFactory, serializers: list[str], max_message_size: int) -> RouterRawSocketFactory:
    """
    A RawSocket server factory for WAMP with the given serializers and size limit.
    """
    return RouterRawSocketFactory(sessions, serializers, max_message_size)
