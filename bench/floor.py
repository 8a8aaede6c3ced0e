"""
The floor: a bare Twisted + Autobahn server that carries the benchmark's traffic without WAMP routing.

It answers just enough WAMP for the load generator to join (WELCOME, REGISTERED, SUBSCRIBED,
GOODBYE) and moves the hot messages the way a router must, frame for frame:

- CALL from a caller goes, as received, to the callee; the callee's YIELD goes back to that caller
  (the callee answers in order, so a queue of callers per callee replaces request-id bookkeeping).
  Four frames per call, as with a router's CALL, INVOCATION, YIELD, RESULT.
- PUBLISH goes, as received, to every subscriber, and a prepared PUBLISHED goes back.

With ``--mode forward`` the bytes are forwarded untouched: the cost of Autobahn's WebSocket (or a
minimal RawSocket) framing, Twisted's reactor and the sockets, below which no router on this stack
can go. ``--mode serde`` also decodes and re-encodes every hot message with the serializer (once
per PUBLISH, as a router serializes an EVENT once for all its subscribers): the floor of a router
that must read and write every message. Only the message type is read from each payload, and one
case's connections share one serializer.

Run as ``python -m bench.floor --ws-port P --rs-port Q``; it prints ``floor ready`` once listening.
"""

import argparse
import itertools
import sys
from collections import deque
from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol

from bench import messages as m

_SUBPROTOCOLS = {codec.subprotocol: codec for codec in m.CODECS.values()}
_RAWSOCKET_CODECS = {codec.rawsocket_id: codec for codec in m.CODECS.values()}
MAX_MESSAGE_SIZE = 1048576


class Hub:
    """
    The connections of one floor server: the callees and the subscribers.

    :param serde: Decode and re-encode every forwarded message.
    """

    def __init__(self, serde: bool) -> None:
        self.serde = serde
        self.callees: dict[Any, None] = {}
        self.subscribers: dict[Any, None] = {}
        self._session_ids = itertools.count(1)

    def receive(self, conn: Any, payload: bytes) -> None:
        """
        Move one received payload along.
        """
        codec = conn.codec
        kind = codec.head(payload)[0]
        if kind == m.CALL:
            callee = next(iter(self.callees))
            callee.callers.append(conn)
            callee.send_payload(codec.dumps(codec.loads(payload)) if self.serde else payload)
        elif kind == m.YIELD:
            conn.callers.popleft().send_payload(codec.dumps(codec.loads(payload)) if self.serde else payload)
        elif kind == m.PUBLISH:
            if self.serde:
                payload = codec.dumps(codec.loads(payload))
            for subscriber in self.subscribers:
                if subscriber is not conn:
                    subscriber.send_payload(payload)
            conn.send_payload(conn.published)
        else:
            self._setup(conn, codec.loads(payload))

    def _setup(self, conn: Any, message: list[Any]) -> None:
        codec = conn.codec
        if message[0] == m.HELLO:
            roles = {"roles": {"broker": {}, "dealer": {}}}
            conn.send_payload(codec.dumps([m.WELCOME, next(self._session_ids), roles]))
        elif message[0] == m.REGISTER:
            self.callees[conn] = None
            conn.send_payload(codec.dumps([m.REGISTERED, message[1], 1]))
        elif message[0] == m.SUBSCRIBE:
            self.subscribers[conn] = None
            conn.send_payload(codec.dumps([m.SUBSCRIBED, message[1], 1]))
        elif message[0] == m.GOODBYE:
            conn.send_payload(codec.dumps([m.GOODBYE, {}, "wamp.close.goodbye_and_out"]))
            conn.close()

    def remove(self, conn: Any) -> None:
        self.callees.pop(conn, None)
        self.subscribers.pop(conn, None)


def _prepare(conn: Any, codec: m.Codec) -> None:
    conn.codec = codec
    conn.callers = deque()
    conn.published = codec.dumps([m.PUBLISHED, 1, 1])


class FloorWebSocketProtocol(WebSocketServerProtocol):
    """
    A WebSocket connection speaking one ``wamp.2.*`` subprotocol, handing payloads to the hub.
    """

    codec: m.Codec

    def onConnect(self, request: Any) -> str:
        for name in request.protocols:
            if name in _SUBPROTOCOLS:
                _prepare(self, _SUBPROTOCOLS[name])
                return name
        raise ConnectionDeny(ConnectionDeny.BAD_REQUEST, "no supported WAMP subprotocol")

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.hub.receive(self, payload)

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
        self.factory.hub.remove(self)

    def send_payload(self, payload: bytes) -> None:
        self.sendMessage(payload, self.codec.binary)

    def close(self) -> None:
        self.sendClose(1000)


class FloorRawSocketProtocol(Protocol):
    """
    A RawSocket connection: the 4-octet handshake and length-prefixed frames, nothing else.
    """

    codec: m.Codec

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)
        self._buffer = b""
        self._open = False

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        at = 0
        if not self._open:
            if len(buffer) < 4:
                self._buffer = buffer
                return
            codec = _RAWSOCKET_CODECS.get(buffer[1] & 0x0F)
            if buffer[0] != 0x7F or codec is None:
                self.transport.write(bytes([0x7F, 1 << 4, 0, 0]))
                self.transport.loseConnection()
                return
            _prepare(self, codec)
            self.transport.write(bytes([0x7F, 0xF0 | codec.rawsocket_id, 0, 0]))
            self._open, at = True, 4
        end, receive = len(buffer), self.factory.hub.receive
        while end - at >= 4:
            stop = at + 4 + int.from_bytes(buffer[at + 1:at + 4], "big")
            if stop > end:
                break
            if buffer[at] == 0:
                receive(self, buffer[at + 4:stop])
            elif buffer[at] == 1:  # PING -> PONG
                self.transport.write(b"\x02" + buffer[at + 1:stop])
            at = stop
        self._buffer = buffer[at:] if at < end else b""

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.hub.remove(self)

    def send_payload(self, payload: bytes) -> None:
        self.transport.write(len(payload).to_bytes(4, "big") + payload)

    def close(self) -> None:
        self.transport.loseConnection()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n")[1])
    parser.add_argument("--ws-port", type=int, default=0)
    parser.add_argument("--rs-port", type=int, default=0)
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument("--mode", choices=("forward", "serde"), default="forward")
    args = parser.parse_args(argv)
    hub = Hub(serde=args.mode == "serde")

    websocket = WebSocketServerFactory(protocols=list(_SUBPROTOCOLS))
    websocket.protocol = FloorWebSocketProtocol
    websocket.setProtocolOptions(failByDrop=False, maxMessagePayloadSize=MAX_MESSAGE_SIZE,
                                 maxFramePayloadSize=MAX_MESSAGE_SIZE)
    websocket.hub = hub
    rawsocket = Factory.forProtocol(FloorRawSocketProtocol)
    rawsocket.hub = hub
    for factory in (websocket, rawsocket):
        factory.noisy = False
    ws_port = reactor.listenTCP(args.ws_port, websocket, interface=args.interface)
    rs_port = reactor.listenTCP(args.rs_port, rawsocket, interface=args.interface)
    print("floor listening: WebSocket {} /ws, RawSocket {}".format(ws_port.getHost().port, rs_port.getHost().port))
    print("floor ready", flush=True)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
