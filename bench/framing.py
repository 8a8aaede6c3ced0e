"""
Lean WAMP client transports on asyncio: the WebSocket and RawSocket handshakes and framing.

A :class:`Connection` hands every received WAMP payload to ``on_payload(payload, now)`` (``now`` is
one ``time.monotonic_ns()`` per read, shared by the messages that arrived together) and queues
outgoing payloads with :meth:`Connection.send`; the queue goes out as one write at the end of the
read that produced it, or on :meth:`Connection.flush`. Client WebSocket frames are masked with an
all-zero key: valid framing (the server still unmasks every frame), no XOR work on our side.
"""

import asyncio
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from bench.messages import Codec

_LINGER_RESET = struct.pack("ii", 1, 0)
_WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
_WS_ZERO_MASK = b"\x00\x00\x00\x00"


class HandshakeError(Exception):
    """
    The server refused or botched the transport handshake.
    """


@dataclass(frozen=True)
class Endpoint:
    """
    Where a router listens for one transport: ``ws`` (with a path) or ``rs`` (RawSocket over TCP).
    """

    transport: str
    host: str
    port: int
    path: str = "/ws"

    @classmethod
    def from_url(cls, url: str) -> "Endpoint":
        """
        ``ws://host:port/path`` or ``rs://host:port`` (also ``tcp://`` or ``rawsocket://``).
        """
        parts = urlsplit(url)
        if parts.scheme == "ws":
            return cls("ws", parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/")
        if parts.scheme in ("rs", "tcp", "rawsocket"):
            return cls("rs", parts.hostname or "127.0.0.1", parts.port or 0)
        raise ValueError("unsupported URL {!r}: use ws://host:port/path or rs://host:port".format(url))

    @property
    def url(self) -> str:
        if self.transport == "ws":
            return "ws://{}:{}{}".format(self.host, self.port, self.path)
        return "rs://{}:{}".format(self.host, self.port)


class Connection(asyncio.Protocol):
    """
    One client connection: handshake, framing and a batched send queue (subclassed per transport).

    :param codec: The serializer to negotiate.
    :param endpoint: Where it connects (the WebSocket handshake names host and path).
    """

    def __init__(self, codec: Codec, endpoint: Endpoint) -> None:
        self.codec = codec
        self.endpoint = endpoint
        loop = asyncio.get_running_loop()
        #: fires when the transport handshake completed (or fails with :class:`HandshakeError`)
        self.opened: asyncio.Future[None] = loop.create_future()
        #: fires when the connection is gone
        self.closed: asyncio.Future[None] = loop.create_future()
        self.on_payload: Callable[[bytes, int], None] = _ignore
        self.transport: Any = None
        self._out: list[bytes] = []
        self._buffer = b""
        self._open = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # close with a reset: tens of thousands of benchmark connections leave no TIME_WAIT behind
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.write(self.handshake())

    def data_received(self, data: bytes) -> None:
        if not self._open:
            data = self._handshake_reply(self._buffer + data)
            if not data:
                return
        self.read_frames(data, time.monotonic_ns())
        if self._out:
            self.transport.write(b"".join(self._out))
            self._out.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError("connection lost during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def flush(self) -> None:
        """
        Write whatever :meth:`send` queued.
        """
        if self._out:
            self.transport.write(b"".join(self._out))
            self._out.clear()

    def close(self) -> None:
        """
        Drop the connection at once (with a TCP reset).
        """
        if self.transport is not None:
            self.transport.abort()

    def _handshake_reply(self, data: bytes) -> bytes:
        try:
            rest = self.accept_handshake(data)
        except HandshakeError as e:
            self.opened.set_exception(e)
            self.transport.close()
            return b""
        if rest is None:
            self._buffer = data
            return b""
        self._buffer = b""
        self._open = True
        self.opened.set_result(None)
        return rest

    # -- per transport

    def handshake(self) -> bytes:
        raise NotImplementedError

    def accept_handshake(self, data: bytes) -> bytes | None:
        """
        The bytes after the server's complete handshake reply, or None while it is incomplete.
        """
        raise NotImplementedError

    def read_frames(self, data: bytes, now: int) -> None:
        raise NotImplementedError

    def send(self, payload: bytes) -> None:
        raise NotImplementedError


def _ignore(payload: bytes, now: int) -> None:
    pass


class RawSocketConnection(Connection):
    """
    WAMP over RawSocket: a 4-octet handshake, then frames with a 4-octet header.
    """

    def handshake(self) -> bytes:
        return bytes([0x7F, 0xF0 | self.codec.rawsocket_id, 0, 0])

    def accept_handshake(self, data: bytes) -> bytes | None:
        if len(data) < 4:
            return None
        if data[0] != 0x7F:
            raise HandshakeError("not a RawSocket server")
        if data[1] & 0x0F == 0:
            raise HandshakeError("RawSocket handshake refused with error {}".format(data[1] >> 4))
        return data[4:]

    def send(self, payload: bytes) -> None:
        self._out.append(len(payload).to_bytes(4, "big"))
        self._out.append(payload)

    def read_frames(self, data: bytes, now: int) -> None:
        buffer = self._buffer + data if self._buffer else data
        end, at, on_payload = len(buffer), 0, self.on_payload
        while end - at >= 4:
            kind = buffer[at]
            stop = at + 4 + int.from_bytes(buffer[at + 1:at + 4], "big")
            if stop > end:
                break
            if kind == 0:
                on_payload(buffer[at + 4:stop], now)
            elif kind == 1:  # PING: answer PONG with the same payload
                self._out.append(b"\x02" + buffer[at + 1:stop])
            at = stop
        self._buffer = buffer[at:] if at < end else b""


def _ws_headers(opcode: int) -> list[bytes]:
    return [bytes([0x80 | opcode, 0x80 | n]) + _WS_ZERO_MASK for n in range(126)]


class WebSocketConnection(Connection):
    """
    WAMP over WebSocket (``wamp.2.<serializer>`` subprotocol), text frames for JSON.
    """

    def __init__(self, codec: Codec, endpoint: Endpoint) -> None:
        Connection.__init__(self, codec, endpoint)
        self._opcode = 2 if codec.binary else 1
        self._small = _ws_headers(self._opcode)
        self._fragments: list[bytes] = []

    def handshake(self) -> bytes:
        e = self.endpoint
        return (
            "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {}\r\n\r\n"
        ).format(e.path, e.host, e.port, _WS_KEY, self.codec.subprotocol).encode()

    def accept_handshake(self, data: bytes) -> bytes | None:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > 65536:
                raise HandshakeError("endless HTTP reply")
            return None
        head = data[:end].decode("latin-1").lower()
        status = head.split("\r\n", 1)[0]
        if " 101 " not in status + " ":
            raise HandshakeError("WebSocket upgrade refused: {}".format(status))
        if "sec-websocket-protocol: " + self.codec.subprotocol not in head:
            raise HandshakeError("the server did not accept {}".format(self.codec.subprotocol))
        return data[end + 4:]

    def send(self, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            self._out.append(self._small[n])
        elif n < 65536:
            self._out.append(bytes([0x80 | self._opcode, 0xFE]) + n.to_bytes(2, "big") + _WS_ZERO_MASK)
        else:
            self._out.append(bytes([0x80 | self._opcode, 0xFF]) + n.to_bytes(8, "big") + _WS_ZERO_MASK)
        self._out.append(payload)

    def _control(self, opcode: int, payload: bytes) -> None:
        self._out.append(bytes([0x80 | opcode, 0x80 | len(payload)]) + _WS_ZERO_MASK + payload)

    def read_frames(self, data: bytes, now: int) -> None:
        buffer = self._buffer + data if self._buffer else data
        end, at, on_payload = len(buffer), 0, self.on_payload
        while end - at >= 2:
            b0, size = buffer[at], buffer[at + 1]
            start = at + 2
            if size >= 126:
                if size & 0x80:
                    raise ValueError("the server sent a masked frame")
                if size == 126:
                    start += 2
                    size = int.from_bytes(buffer[at + 2:start], "big")
                else:
                    start += 8
                    size = int.from_bytes(buffer[at + 2:start], "big")
                if start > end:
                    break
            stop = start + size
            if stop > end:
                break
            at = stop
            if b0 == 0x81 or b0 == 0x82:
                on_payload(buffer[start:stop], now)
            else:
                self._other_frame(b0, buffer[start:stop], now)
        self._buffer = buffer[at:] if at < end else b""

    def _other_frame(self, b0: int, payload: bytes, now: int) -> None:
        opcode, final = b0 & 0x0F, b0 & 0x80
        if opcode in (0, 1, 2):  # a fragment of a message
            self._fragments.append(payload)
            if final:
                message, self._fragments = b"".join(self._fragments), []
                self.on_payload(message, now)
        elif opcode == 9:  # PING
            self._control(10, payload)
        elif opcode == 8:  # CLOSE: echo it and let the server close
            self._control(8, payload[:2])


def connection_class(endpoint: Endpoint) -> type[Connection]:
    """
    The connection class for the endpoint's transport.
    """
    return WebSocketConnection if endpoint.transport == "ws" else RawSocketConnection
