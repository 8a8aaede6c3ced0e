"""
Bad input thrown at wampd: garbage bytes, refused handshakes, malformed and out-of-order WAMP
messages, oversized messages, and proof that well-behaved sessions are not disturbed by any of it.

The misbehaving peers here are small Twisted protocols that speak the wire formats directly
(RawSocket framing, a hand-written HTTP upgrade, Autobahn's low-level WebSocket client) so the test
decides every byte the router sees.
"""

import os
import struct

import pytest
import pytest_twisted
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.wamp.serializer import (
    CBORObjectSerializer,
    JsonObjectSerializer,
    MsgPackObjectSerializer,
)
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, UNIXClientEndpoint
from twisted.internet.protocol import Factory, Protocol

from tests.support import EventCounter, connect, sleep, with_timeout

# WAMP message type codes
HELLO, WELCOME, ABORT, GOODBYE, ERROR = 1, 2, 3, 6, 8
PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, EVENT = 16, 17, 32, 33, 36
CALL, RESULT, REGISTER, REGISTERED, INVOCATION, YIELD = 48, 50, 64, 65, 68, 70

PROTOCOL_VIOLATION = "wamp.error.protocol_violation"
PAYLOAD_SIZE_EXCEEDED = "wamp.error.payload_size_exceeded"
INVALID_URI = "wamp.error.invalid_uri"

HELLO_MSG = [HELLO, "realm1", {"roles": {"subscriber": {}, "publisher": {}, "caller": {}, "callee": {}}}]

#: the router's default message size limit (1 MiB), announced as RawSocket length exponent 11
MAX_MESSAGE_SIZE = 1024 * 1024
ANNOUNCED_EXPONENT = 11

RAW_SERIALIZER_IDS = {"json": 1, "msgpack": 2, "cbor": 3}
OBJECT_SERIALIZERS = {"json": JsonObjectSerializer, "msgpack": MsgPackObjectSerializer, "cbor": CBORObjectSerializer}
#: payloads each serializer cannot decode
UNDECODABLE = {"json": b'[1, "realm1", {', "msgpack": b"\xc1", "cbor": b"\xff"}

FRAME_MESSAGE, FRAME_PING, FRAME_PONG = 0, 1, 2


class ConnectionClosed(Exception):
    """
    The router closed the connection while a message was awaited.
    """


def next_from(queue, closed):
    """
    The next item of ``queue``; fails with :class:`ConnectionClosed` if ``closed`` and nothing is queued.
    """
    if queue.pending or not closed:
        return with_timeout(queue.get())
    return defer.fail(ConnectionClosed("connection closed before the expected message"))


def fail_waiters(queue):
    """
    Fail every Deferred waiting on ``queue`` with :class:`ConnectionClosed`.
    """
    waiting, queue.waiting = list(queue.waiting), []
    for d in waiting:
        d.errback(ConnectionClosed("connection closed before the expected message"))


_HEADER = struct.Struct("!I")

#: transports the hand-rolled WAMP clients run over
RAW_TRANSPORTS = ("websocket", "rawsocket-tcp", "rawsocket-unix")
SERIALIZERS = tuple(OBJECT_SERIALIZERS)


def handshake(serializer_id=1, exponent=15, reserved=b"\x00\x00"):
    """
    A RawSocket client handshake.
    """
    return bytes([0x7F, (exponent << 4) | serializer_id]) + reserved


def frame(payload, frame_type=FRAME_MESSAGE):
    """
    A RawSocket frame.
    """
    return _HEADER.pack((frame_type << 24) | len(payload)) + payload


def endpoint(router, where):
    """
    The client endpoint for the router's TCP port or its Unix socket.
    """
    if where == "tcp":
        return TCP4ClientEndpoint(reactor, "127.0.0.1", router.tcp_port)
    return UNIXClientEndpoint(reactor, router.unix_path)


#: every hand-rolled WAMP client opened by the current test, hung up at its end
_OPEN_CLIENTS = []


def hang_up_all():
    """
    Hang up every hand-rolled client still connected; fires when all are closed.
    """
    waits = []
    for client in _OPEN_CLIENTS:
        if not client.closed.called:
            client.hang_up()
            waits.append(client.closed)
    del _OPEN_CLIENTS[:]
    return with_timeout(defer.DeferredList(waits, consumeErrors=True))


@pytest.fixture(autouse=True)
def _hang_up_leftovers(router):
    """
    Clients left open by a failed assertion do not outlive their test (and are gone before the router stops).
    """
    yield
    pytest_twisted.blockon(hang_up_all())


# -- plain bytes -----------------------------------------------------------------------------------------------------


class BytesClient(Protocol):
    """
    Writes fixed bytes on connect and records everything received; ``closed`` fires with it on close.
    """

    def __init__(self, data):
        self.data = data
        self.received = b""
        self.closed = defer.Deferred()

    def connectionMade(self):
        self.transport.write(self.data)

    def dataReceived(self, data):
        self.received += data

    def connectionLost(self, reason):
        self.closed.callback(self.received)


@defer.inlineCallbacks
def exchange_bytes(router, data, where="tcp"):
    """
    Connect, send ``data`` and return all bytes received until the router closes the connection.
    """
    client = BytesClient(data)
    factory = Factory.forProtocol(lambda: client)
    yield with_timeout(endpoint(router, where).connect(factory))
    received = yield with_timeout(client.closed)
    return received


# -- RawSocket -------------------------------------------------------------------------------------------------------


class RawSocketClient(Protocol):
    """
    A RawSocket peer: sends a handshake, then parses frames into WAMP messages and PONG payloads.
    """

    def __init__(self, handshake_bytes, serializer="json"):
        self.handshake_bytes = handshake_bytes
        self.serializer = OBJECT_SERIALIZERS[serializer]()
        #: fires with the router's 4-octet handshake reply (or what came before the connection closed)
        self.reply = defer.Deferred()
        self.messages = defer.DeferredQueue()
        self.pongs = defer.DeferredQueue()
        self.closed = defer.Deferred()
        #: the router's handshake reply, once received
        self.handshake_reply = None
        self._buffer = b""
        #: bytes received after the handshake reply that are not complete frames at close
        self.trailing = b""

    def connectionMade(self):
        self.transport.write(self.handshake_bytes)

    def dataReceived(self, data):
        self._buffer += data
        if not self.reply.called:
            if len(self._buffer) < 4:
                return
            reply, self._buffer = self._buffer[:4], self._buffer[4:]
            self.handshake_reply = reply
            self.reply.callback(reply)
        while len(self._buffer) >= 4:
            (header,) = _HEADER.unpack_from(self._buffer)
            frame_type, length = header >> 24, header & 0xFFFFFF
            if len(self._buffer) < 4 + length:
                break
            payload, self._buffer = self._buffer[4:4 + length], self._buffer[4 + length:]
            if frame_type == FRAME_MESSAGE:
                for obj in self.serializer.unserialize(payload):
                    self.messages.put(obj)
            elif frame_type == FRAME_PONG:
                self.pongs.put(payload)
            elif frame_type == FRAME_PING:
                self.transport.write(frame(payload, FRAME_PONG))
            else:
                raise AssertionError(f"router sent a frame of reserved type {frame_type}")

    def connectionLost(self, reason):
        if not self.reply.called:
            self.handshake_reply = self._buffer
            self.reply.callback(self._buffer)
            self._buffer = b""
        self.trailing = self._buffer
        fail_waiters(self.messages)
        fail_waiters(self.pongs)
        self.closed.callback(None)

    # the interface shared with WebSocketWampClient

    def send(self, obj):
        self.send_payload(self.serializer.serialize(obj))

    def send_payload(self, payload):
        self.transport.write(frame(payload))

    def next_message(self):
        return next_from(self.messages, self.closed.called)

    def next_pong(self):
        return next_from(self.pongs, self.closed.called)

    def pending_messages(self):
        return list(self.messages.pending)

    def hang_up(self):
        self.transport.abortConnection()


@defer.inlineCallbacks
def open_rawsocket(router, where="tcp", serializer="json", handshake_bytes=None, expect_accept=True):
    """
    Connect a :class:`RawSocketClient`; with ``expect_accept`` check the router accepted the handshake.
    """
    if handshake_bytes is None:
        handshake_bytes = handshake(RAW_SERIALIZER_IDS[serializer])
    client = RawSocketClient(handshake_bytes, serializer)
    _OPEN_CLIENTS.append(client)
    factory = Factory.forProtocol(lambda: client)
    yield with_timeout(endpoint(router, where).connect(factory))
    reply = yield with_timeout(client.reply)
    if expect_accept:
        expected = bytes([0x7F, (ANNOUNCED_EXPONENT << 4) | handshake_bytes[1] & 0x0F, 0, 0])
        assert reply == expected, f"handshake reply {reply!r}, expected {expected!r}"
    return client


# -- WebSocket -------------------------------------------------------------------------------------------------------


class WebSocketWampClient(WebSocketClientProtocol):
    """
    A WebSocket peer that sends and receives raw WAMP payloads; ``opened`` fires after the handshake,
    ``closed`` with ``(wasClean, code, remoteCloseCode)`` when the TCP connection is gone.
    """

    def __init__(self):
        WebSocketClientProtocol.__init__(self)
        self.opened = defer.Deferred()
        self.closed = defer.Deferred()
        self.messages = defer.DeferredQueue()
        self.serializer = None
        self.binary = None

    def onOpen(self):
        self.opened.callback(self)

    def onMessage(self, payload, isBinary):
        assert isBinary == self.binary, "router sent a {} frame".format("binary" if isBinary else "text")
        for obj in self.serializer.unserialize(payload):
            self.messages.put(obj)

    def onClose(self, wasClean, code, reason):
        if not self.opened.called:
            self.opened.errback(RuntimeError(f"WebSocket handshake failed: {code} {reason}"))
        fail_waiters(self.messages)
        if not self.closed.called:
            self.closed.callback((wasClean, code, self.remoteCloseCode))

    def send(self, obj):
        self.send_payload(self.serializer.serialize(obj))

    def send_payload(self, payload, binary=None):
        self.sendMessage(payload, isBinary=self.binary if binary is None else binary)

    def next_message(self):
        return next_from(self.messages, self.closed.called)

    def pending_messages(self):
        return list(self.messages.pending)

    def hang_up(self):
        self.dropConnection(abort=True)


@defer.inlineCallbacks
def open_websocket(router, serializer="json"):
    """
    Connect a :class:`WebSocketWampClient` speaking ``wamp.2.<serializer>`` and wait for the handshake.
    """
    url = f"ws://127.0.0.1:{router.tcp_port}/ws"
    factory = WebSocketClientFactory(url, protocols=["wamp.2." + serializer])
    factory.protocol = WebSocketWampClient
    protocol = yield with_timeout(TCP4ClientEndpoint(reactor, "127.0.0.1", router.tcp_port).connect(factory))
    _OPEN_CLIENTS.append(protocol)
    protocol.serializer = OBJECT_SERIALIZERS[serializer]()
    protocol.binary = serializer != "json"
    yield with_timeout(protocol.opened)
    assert protocol.websocket_protocol_in_use == "wamp.2." + serializer
    return protocol


def open_client(router, transport, serializer="json"):
    """
    A hand-rolled WAMP peer over ``websocket``, ``rawsocket-tcp`` or ``rawsocket-unix``.
    """
    if transport == "websocket":
        return open_websocket(router, serializer)
    return open_rawsocket(router, transport.split("-")[1], serializer)


# -- WAMP helpers ----------------------------------------------------------------------------------------------------


@defer.inlineCallbacks
def join(client):
    """
    Send HELLO for realm1 and return the session id from WELCOME.
    """
    client.send(HELLO_MSG)
    welcome = yield client.next_message()
    assert welcome[0] == WELCOME, f"expected WELCOME, got {welcome!r}"
    assert isinstance(welcome[1], int) and welcome[1] > 0
    assert isinstance(welcome[2], dict) and "roles" in welcome[2]
    return welcome[1]


@defer.inlineCallbacks
def expect_abort(router, client, reason, session_id=None):
    """
    The next message is ABORT ``reason``, the router then closes the connection, nothing else arrives,
    and the session (if any) is gone from the router. Returns the ABORT.
    """
    abort = yield client.next_message()
    assert abort[0] == ABORT, f"expected ABORT {reason}, got {abort!r}"
    assert len(abort) == 3
    assert isinstance(abort[1], dict)
    assert abort[2] == reason
    yield with_timeout(client.closed)
    assert client.pending_messages() == []
    if session_id is not None:
        assert session_id not in router.service.router.sessions
    return abort


def http_upgrade(port, protocols):
    """
    A WebSocket upgrade request for ``/ws`` offering the given subprotocols (none if empty).
    """
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if protocols:
        lines.append("Sec-WebSocket-Protocol: {}".format(", ".join(protocols)))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def status_code(response):
    """
    The status code of a raw HTTP response.
    """
    status_line = response.split(b"\r\n", 1)[0]
    parts = status_line.split(b" ", 2)
    assert parts[0].startswith(b"HTTP/1."), f"not an HTTP response: {response[:80]!r}"
    return int(parts[1])


@defer.inlineCallbacks
def assert_router_serves(router):
    """
    The router still accepts a new session over WebSocket and RawSocket and answers a round trip.
    """
    for transport in ("websocket", "rawsocket-tcp"):
        client = yield open_client(router, transport)
        yield join(client)
        client.send([SUBSCRIBE, 1, {}, "com.example.still_serving"])
        subscribed = yield client.next_message()
        assert subscribed[:2] == [SUBSCRIBED, 1]
        client.send([GOODBYE, {}, "wamp.close.close_realm"])
        goodbye = yield client.next_message()
        assert goodbye[0] == GOODBYE
        client.hang_up()
        yield with_timeout(client.closed)


# -- scenarios (each a complete bad-input exchange with its assertions; reused by the isolation test) ---------------


GARBAGE = {
    "binary-line": b"\x00\x01\x02\xfe\xffgarbage\r\n\r\n",
    "text-line": b"THIS IS NOT HTTP AT ALL\r\n\r\n",
    "long-no-newline": b"\x00" * 70000,
}


@defer.inlineCallbacks
def garbage_is_rejected(router, data, where="tcp"):
    received = yield exchange_bytes(router, data, where)
    assert received == b"" or status_code(received) == 400, f"unexpected answer to garbage: {received[:200]!r}"


@defer.inlineCallbacks
def websocket_subprotocol_is_refused(router, protocols):
    sessions_before = set(router.service.router.sessions)
    handlers_before = set(router.service.sessions.live)
    received = yield exchange_bytes(router, http_upgrade(router.tcp_port, protocols))
    assert status_code(received) == 400, f"unexpected answer to upgrade: {received[:200]!r}"
    assert set(router.service.router.sessions) - sessions_before == set()
    assert set(router.service.sessions.live) - handlers_before == set()


@defer.inlineCallbacks
def rawsocket_handshake_is_refused(router, handshake_bytes, expected_reply, where="tcp"):
    handlers_before = set(router.service.sessions.live)
    client = yield open_rawsocket(router, where, handshake_bytes=handshake_bytes, expect_accept=False)
    yield with_timeout(client.closed)
    assert client.handshake_reply == expected_reply
    assert client.trailing == b""
    assert client.pending_messages() == []
    assert set(router.service.sessions.live) - handlers_before == set()


@defer.inlineCallbacks
def rawsocket_ping_is_answered(router, payload, where="tcp"):
    client = yield open_rawsocket(router, where)
    client.transport.write(frame(payload, FRAME_PING))
    pong = yield client.next_pong()
    assert pong == payload
    session_id = yield join(client)
    client.transport.write(frame(payload[::-1], FRAME_PING))
    pong = yield client.next_pong()
    assert pong == payload[::-1]
    assert session_id in router.service.router.sessions
    client.hang_up()
    yield with_timeout(client.closed)


#: protocol violations: name -> (join first?, what to send: a WAMP message, or bytes sent as the raw payload)
VIOLATIONS = {
    "subscribe-before-hello": (False, [SUBSCRIBE, 1, {}, "com.example.topic"]),
    "call-before-hello": (False, [CALL, 1, {}, "com.example.proc"]),
    "unknown-message-type": (True, [99]),
    "second-hello": (True, HELLO_MSG),
    "yield-for-unknown-invocation": (True, [YIELD, 4711, {}]),
    "error-for-call": (True, [ERROR, CALL, 1, {}, "com.example.error"]),
    "welcome-from-client": (True, [WELCOME, 1, {}]),
    "event-from-client": (True, [EVENT, 1, 1, {}]),
    "not-an-array": (True, {"type": 32}),
    "empty-array": (True, []),
    "message-type-not-int": (True, ["32", 1, {}, "com.example.topic"]),
    "subscribe-with-string-request-id": (True, [SUBSCRIBE, "one", {}, "com.example.topic"]),
    "undecodable-before-hello": (False, "undecodable"),
    "undecodable-after-welcome": (True, "undecodable"),
}


@defer.inlineCallbacks
def violation_is_aborted(router, transport, serializer, name):
    joined, bad = VIOLATIONS[name]
    client = yield open_client(router, transport, serializer)
    session_id = (yield join(client)) if joined else None
    if bad == "undecodable":
        client.send_payload(UNDECODABLE[serializer])
    else:
        client.send(bad)
    yield expect_abort(router, client, PROTOCOL_VIOLATION, session_id)


#: requests that carry a URI, with request id 7; the bad URI goes in element 3
BAD_URI_REQUESTS = {
    "subscribe": [SUBSCRIBE, 7, {}, None],
    "publish-acknowledged": [PUBLISH, 7, {"acknowledge": True}, None],
    "call": [CALL, 7, {}, None],
    "register": [REGISTER, 7, {}, None],
}
BAD_URIS = ("a..b", "a b", ".a", "a.", "a#b")


@defer.inlineCallbacks
def bad_uri_is_an_error(router, transport, request, uri, serializer="json"):
    client = yield open_client(router, transport, serializer)
    session_id = yield join(client)
    message = list(BAD_URI_REQUESTS[request])
    message[3] = uri
    client.send(message)
    error = yield client.next_message()
    assert error[:5] == [ERROR, message[0], 7, {}, INVALID_URI], error
    # the session stays usable
    client.send([SUBSCRIBE, 8, {}, "com.example.after_bad_uri"])
    subscribed = yield client.next_message()
    assert subscribed[:2] == [SUBSCRIBED, 8], subscribed
    assert session_id in router.service.router.sessions
    client.hang_up()
    yield with_timeout(client.closed)


@defer.inlineCallbacks
def unacknowledged_bad_publish_is_silent(router, transport, uri):
    client = yield open_client(router, transport)
    session_id = yield join(client)
    client.send([PUBLISH, 7, {}, uri])
    client.send([SUBSCRIBE, 8, {}, "com.example.after_bad_publish"])
    reply = yield client.next_message()
    assert reply[:2] == [SUBSCRIBED, 8], f"expected only SUBSCRIBED, got {reply!r} first"
    assert session_id in router.service.router.sessions
    client.hang_up()
    yield with_timeout(client.closed)


@defer.inlineCallbacks
def invalid_utf8_closes(router):
    client = yield open_websocket(router)
    session_id = yield join(client)
    client.sendMessage(b'["\xff\xfe"]', isBinary=False)
    closed = yield with_timeout(client.closed)
    messages = client.pending_messages()
    aborted = len(messages) == 1 and messages[0][0] == ABORT and messages[0][2] == PROTOCOL_VIOLATION
    assert aborted or (not messages and closed[2] == 1007), (
        f"invalid UTF-8 text frame: expected ABORT {PROTOCOL_VIOLATION} or close code 1007; got messages {messages!r}, "
        f"close (wasClean, code, remoteCloseCode) = {closed!r}")
    assert session_id not in router.service.router.sessions


@defer.inlineCallbacks
def rawsocket_oversize_is_aborted(router, where="tcp", joined=True):
    client = yield open_rawsocket(router, where)
    session_id = (yield join(client)) if joined else None
    # the header alone announces a frame one octet over the limit; the router must not wait for the payload
    client.transport.write(_HEADER.pack((FRAME_MESSAGE << 24) | (MAX_MESSAGE_SIZE + 1)) + b"[")
    yield expect_abort(router, client, PAYLOAD_SIZE_EXCEEDED, session_id)


@defer.inlineCallbacks
def websocket_oversize_is_refused(router):
    """
    Returns ``(abort or None, (wasClean, code, remoteCloseCode))``.
    """
    client = yield open_websocket(router)
    session_id = yield join(client)
    payload = b'["' + b"x" * (MAX_MESSAGE_SIZE - 3) + b'"]'
    assert len(payload) == MAX_MESSAGE_SIZE + 1
    client.send_payload(payload)
    closed = yield with_timeout(client.closed)
    messages = client.pending_messages()
    abort = messages[0] if messages else None
    assert session_id not in router.service.router.sessions
    got_abort = abort is not None and abort[0] == ABORT and abort[2] == PAYLOAD_SIZE_EXCEEDED
    got_1009 = closed[2] == 1009
    assert got_abort or got_1009, (
        f"oversized WebSocket message: expected ABORT {PAYLOAD_SIZE_EXCEEDED} and/or close code 1009; got messages {messages!r}, "
        f"close (wasClean, code, remoteCloseCode) = {closed!r}")
    assert len(messages) <= 1 and (abort is None or got_abort), messages
    return abort, closed


@defer.inlineCallbacks
def wait_until(predicate, seconds=10):
    """
    Poll ``predicate`` every 10 ms until it holds; ``TimeoutError`` after ``seconds``.
    """
    polls = int(seconds / 0.01)
    for _ in range(polls):
        if predicate():
            return
        yield sleep(0.01)
    raise defer.TimeoutError(seconds, "condition never held")


@defer.inlineCallbacks
def hang_up_mid_frame_ends_session(router, transport):
    client = yield open_client(router, transport)
    session_id = yield join(client)
    if transport == "websocket":
        # a frame header announcing 100 octets of payload, then only a few of them
        client.transport.write(b"\x81\xe4\x00\x00\x00\x00[16,")
    else:
        client.transport.write(_HEADER.pack(100) + b"[16,")
    yield sleep(0.05)
    assert session_id in router.service.router.sessions
    client.hang_up()
    yield with_timeout(client.closed)
    yield wait_until(lambda: session_id not in router.service.router.sessions)


# -- tests: transports and handshakes --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ("tcp", "unix"))
@pytest.mark.parametrize("garbage", sorted(GARBAGE))
@pytest_twisted.inlineCallbacks
def test_garbage_bytes_are_rejected_and_router_keeps_serving(router, garbage, where):
    """Bytes that are neither HTTP nor RawSocket get HTTP 400 or a plain close, and the router serves on."""
    yield garbage_is_rejected(router, GARBAGE[garbage], where)
    yield assert_router_serves(router)


@pytest.mark.parametrize("protocols", (["wamp.2.bogus"], ["wamp.1.json"], ["foo", "wamp.3.json"], []),
                         ids=("wamp.2.bogus", "wamp.1.json", "foo+wamp.3.json", "none"))
@pytest_twisted.inlineCallbacks
def test_websocket_unknown_subprotocol_is_refused(router, protocols):
    """A WebSocket upgrade offering no supported WAMP subprotocol is refused with HTTP 400 and opens no session."""
    yield websocket_subprotocol_is_refused(router, protocols)
    yield assert_router_serves(router)


@pytest_twisted.inlineCallbacks
def test_autobahn_client_with_unknown_subprotocol_never_opens(router):
    """A WebSocket client insisting on wamp.2.bogus never gets an open WebSocket from the router."""
    url = f"ws://127.0.0.1:{router.tcp_port}/ws"
    factory = WebSocketClientFactory(url, protocols=["wamp.2.bogus"])
    factory.protocol = WebSocketWampClient
    protocol = yield with_timeout(TCP4ClientEndpoint(reactor, "127.0.0.1", router.tcp_port).connect(factory))
    with pytest.raises(RuntimeError, match="handshake failed"):
        yield with_timeout(protocol.opened)
    assert router.service.router.sessions == {}
    assert router.service.sessions.live == set()


@pytest.mark.parametrize("where", ("tcp", "unix"))
@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_rawsocket_handshake_is_accepted_with_announced_limit(router, serializer, where):
    """A valid RawSocket handshake is answered with the same serializer and length exponent 11 (1 MiB)."""
    # 2^10 bytes is the smallest limit WELCOME fits in (a 512-byte client gets ABORT, tested below)
    for exponent in (1, 15):
        client = yield open_rawsocket(
            router, where, serializer, handshake(RAW_SERIALIZER_IDS[serializer], exponent))
        yield join(client)
        client.hang_up()
        yield with_timeout(client.closed)


@pytest_twisted.inlineCallbacks
def test_rawsocket_client_too_small_for_welcome_gets_abort(router):
    """A client accepting only 512-byte messages, less than WELCOME needs, gets ABORT payload_size_exceeded."""
    client = yield open_rawsocket(router, "tcp", "json", handshake(RAW_SERIALIZER_IDS["json"], 0))
    client.send([HELLO, "realm1", {"roles": {"subscriber": {}}}])
    abort = yield client.next_message()
    assert abort[0] == ABORT and abort[2] == "wamp.error.payload_size_exceeded"
    yield with_timeout(client.closed)
    assert router.service.router.sessions == {}


@pytest.mark.parametrize("where", ("tcp", "unix"))
@pytest.mark.parametrize("serializer_id", (0, 4, 7, 15))
@pytest_twisted.inlineCallbacks
def test_rawsocket_unsupported_serializer_is_refused(router, serializer_id, where):
    """A RawSocket handshake asking an unsupported serializer gets error reply 0x7F 0x10 0x00 0x00, then a close."""
    yield rawsocket_handshake_is_refused(router, handshake(serializer_id), b"\x7f\x10\x00\x00", where)
    yield assert_router_serves(router)


@pytest.mark.parametrize("where", ("tcp", "unix"))
@pytest.mark.parametrize("reserved", (b"\x01\x00", b"\x00\x01", b"\xff\xff"), ids=("byte2", "byte3", "both"))
@pytest_twisted.inlineCallbacks
def test_rawsocket_reserved_handshake_bytes_are_refused(router, reserved, where):
    """A RawSocket handshake with non-zero reserved octets gets error reply 0x7F 0x30 0x00 0x00, then a close."""
    yield rawsocket_handshake_is_refused(router, handshake(1, reserved=reserved), b"\x7f\x30\x00\x00", where)


@pytest.mark.parametrize("where", ("tcp", "unix"))
@pytest.mark.parametrize("payload", (b"", b"ping!", os.urandom(70000)), ids=("empty", "short", "70k"))
@pytest_twisted.inlineCallbacks
def test_rawsocket_ping_gets_pong_with_same_payload(router, payload, where):
    """Every RawSocket PING, before HELLO and on an established session, is answered by a PONG echoing it."""
    yield rawsocket_ping_is_answered(router, payload, where)


@pytest_twisted.inlineCallbacks
def test_rawsocket_ping_at_exactly_the_limit_is_answered(router):
    """A PING frame of exactly the announced limit (1 MiB) is within bounds and gets its PONG."""
    yield rawsocket_ping_is_answered(router, os.urandom(MAX_MESSAGE_SIZE))


@pytest.mark.parametrize("where", ("tcp", "unix"))
@pytest_twisted.inlineCallbacks
def test_rawsocket_fragmented_and_coalesced_input_is_reassembled(router, where):
    """A handshake and frames trickling in octet by octet, and several frames in one write, are all understood."""
    serializer = JsonObjectSerializer()
    client = RawSocketClient(b"", "json")
    _OPEN_CLIENTS.append(client)
    factory = Factory.forProtocol(lambda: client)
    yield with_timeout(endpoint(router, where).connect(factory))
    data = handshake(1) + frame(serializer.serialize(HELLO_MSG)) + frame(b"pong me", FRAME_PING)
    for i in range(len(data)):
        client.transport.write(data[i:i + 1])
        yield sleep(0.002)
    yield with_timeout(client.reply)
    assert client.handshake_reply == bytes([0x7F, (ANNOUNCED_EXPONENT << 4) | 1, 0, 0])
    welcome = yield client.next_message()
    assert welcome[0] == WELCOME
    assert (yield client.next_pong()) == b"pong me"
    client.transport.write(
        frame(serializer.serialize([SUBSCRIBE, 1, {}, "com.example.a"]))
        + frame(serializer.serialize([SUBSCRIBE, 2, {}, "com.example.b"]))
        + frame(b"x", FRAME_PING)
        + frame(serializer.serialize([SUBSCRIBE, 3, {}, "com.example.a"]))
    )
    first = yield client.next_message()
    second = yield client.next_message()
    third = yield client.next_message()
    assert [first[:2], second[:2], third[:2]] == [[SUBSCRIBED, 1], [SUBSCRIBED, 2], [SUBSCRIBED, 3]]
    assert first[2] == third[2] != second[2]
    assert (yield client.next_pong()) == b"x"
    client.hang_up()
    yield with_timeout(client.closed)


@pytest.mark.parametrize("frame_type", (3, 7), ids=("type3", "type7"))
@pytest_twisted.inlineCallbacks
def test_rawsocket_reserved_frame_type_is_a_protocol_violation(router, frame_type):
    """A RawSocket frame of a reserved type is answered with ABORT protocol_violation and a close."""
    client = yield open_rawsocket(router)
    session_id = yield join(client)
    client.transport.write(frame(b"[]", frame_type))
    yield expect_abort(router, client, PROTOCOL_VIOLATION, session_id)


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_hang_up_mid_frame_ends_the_session(router, transport):
    """A peer that disconnects in the middle of a frame is removed from the router like any other."""
    yield hang_up_mid_frame_ends_session(router, transport)
    yield assert_router_serves(router)


# -- tests: WAMP-level protocol violations ---------------------------------------------------------------------------


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_invalid_json_is_aborted(router, transport):
    """An undecodable JSON payload (RawSocket json frame or WebSocket text frame) gets ABORT protocol_violation, then a close."""
    client = yield open_client(router, transport, "json")
    session_id = yield join(client)
    client.send_payload(b'[16, 1, {}, "com.example.topic"')
    abort = yield expect_abort(router, client, PROTOCOL_VIOLATION, session_id)
    assert isinstance(abort[1].get("message"), str)


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("name", list(VIOLATIONS))
@pytest_twisted.inlineCallbacks
def test_protocol_violation_is_aborted(router, name, serializer, transport):
    """A message the WAMP session may not receive in its state gets ABORT protocol_violation, then a close."""
    yield violation_is_aborted(router, transport, serializer, name)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest_twisted.inlineCallbacks
def test_websocket_frame_of_wrong_kind_is_aborted(router, serializer):
    """A binary frame on wamp.2.json, or a text frame on a binary serializer, gets ABORT protocol_violation."""
    client = yield open_websocket(router, serializer)
    session_id = yield join(client)
    request = [SUBSCRIBE, 1, {}, "com.example.topic"]
    if client.binary:
        # a text frame must be UTF-8, or the WebSocket layer fails the connection before WAMP sees it
        client.send_payload(JsonObjectSerializer().serialize(request), binary=False)
    else:
        client.send_payload(client.serializer.serialize(request), binary=True)
    yield expect_abort(router, client, PROTOCOL_VIOLATION, session_id)


@pytest_twisted.inlineCallbacks
def test_websocket_text_frame_with_invalid_utf8_closes_the_connection(router):
    """A text frame that is not UTF-8 ends the connection (ABORT protocol_violation or close 1007) and the session."""
    yield invalid_utf8_closes(router)


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_input_after_abort_is_ignored(router, transport):
    """Messages following a protocol violation in the same write are not processed (no SUBSCRIBED after ABORT)."""
    client = yield open_client(router, transport)
    session_id = yield join(client)
    serializer = JsonObjectSerializer()
    if transport == "websocket":
        client.send([99])
        client.send([SUBSCRIBE, 1, {}, "com.example.topic"])
    else:
        client.transport.write(frame(serializer.serialize([99]))
                               + frame(serializer.serialize([SUBSCRIBE, 1, {}, "com.example.topic"])))
    yield expect_abort(router, client, PROTOCOL_VIOLATION, session_id)
    assert router.service.router.realms["realm1"].broker._index.get("exact", "com.example.topic") is None


# -- tests: invalid URIs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest.mark.parametrize("uri", BAD_URIS)
@pytest.mark.parametrize("request_kind", list(BAD_URI_REQUESTS))
@pytest_twisted.inlineCallbacks
def test_bad_uri_gets_invalid_uri_error_and_session_stays(router, request_kind, uri, transport):
    """A request with an invalid URI gets ERROR wamp.error.invalid_uri for its type and id; the session stays usable."""
    yield bad_uri_is_an_error(router, transport, request_kind, uri)


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest.mark.parametrize("uri", ("a..b", "a b"))
@pytest_twisted.inlineCallbacks
def test_unacknowledged_publish_with_bad_uri_gets_no_reply(router, uri, transport):
    """An unacknowledged PUBLISH is never answered, not even for an invalid topic URI; the session stays usable."""
    yield unacknowledged_bad_publish_is_silent(router, transport, uri)


# -- tests: oversized messages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ("tcp", "unix"))
@pytest.mark.parametrize("joined", (True, False), ids=("after-welcome", "before-hello"))
@pytest_twisted.inlineCallbacks
def test_rawsocket_oversized_frame_is_aborted(router, joined, where):
    """A RawSocket frame over the announced 1 MiB limit gets ABORT payload_size_exceeded, then a close."""
    yield rawsocket_oversize_is_aborted(router, where, joined)


@pytest_twisted.inlineCallbacks
def test_rawsocket_frame_with_x_bit_is_oversized(router):
    """A RawSocket frame using the 2^24 length bit is over the 1 MiB limit: ABORT payload_size_exceeded."""
    client = yield open_rawsocket(router)
    session_id = yield join(client)
    client.transport.write(_HEADER.pack((0x08 << 24) | 1))
    yield expect_abort(router, client, PAYLOAD_SIZE_EXCEEDED, session_id)


@pytest_twisted.inlineCallbacks
def test_websocket_oversized_message_is_refused(router):
    """A WebSocket message over 1 MiB gets ABORT payload_size_exceeded and/or close code 1009, and ends the session."""
    abort, closed = yield websocket_oversize_is_refused(router)
    # record what happens, for the report: the test log shows it with -rA / on failure
    print(f"oversized WebSocket message: ABORT={abort!r} close={closed!r}")


# -- tests: isolation ------------------------------------------------------------------------------------------------


def _all_scenarios(router):
    """
    One call per kind of bad input, each returning a Deferred that fires once it has been checked.
    """
    yield "garbage", lambda: garbage_is_rejected(router, GARBAGE["binary-line"])
    yield "garbage-long", lambda: garbage_is_rejected(router, GARBAGE["long-no-newline"], "unix")
    yield "bogus-subprotocol", lambda: websocket_subprotocol_is_refused(router, ["wamp.2.bogus"])
    yield "raw-serializer-7", lambda: rawsocket_handshake_is_refused(router, handshake(7), b"\x7f\x10\x00\x00")
    yield "raw-reserved", lambda: rawsocket_handshake_is_refused(router, handshake(1, reserved=b"\x00\x01"),
                                                                 b"\x7f\x30\x00\x00")
    yield "raw-ping", lambda: rawsocket_ping_is_answered(router, b"isolated ping")
    for transport in RAW_TRANSPORTS:
        for name in VIOLATIONS:
            yield f"{transport}-{name}", (
                lambda transport=transport, name=name: violation_is_aborted(router, transport, "json", name))
        yield f"{transport}-bad-uri", (
            lambda transport=transport: bad_uri_is_an_error(router, transport, "subscribe", "a b"))
        yield f"{transport}-unacknowledged-bad-publish", (
            lambda transport=transport: unacknowledged_bad_publish_is_silent(router, transport, "a..b"))
    yield "ws-invalid-utf8", lambda: invalid_utf8_closes(router)
    yield "raw-hang-up-mid-frame", lambda: hang_up_mid_frame_ends_session(router, "rawsocket-tcp")
    yield "ws-hang-up-mid-frame", lambda: hang_up_mid_frame_ends_session(router, "websocket")
    yield "raw-oversize", lambda: rawsocket_oversize_is_aborted(router)
    yield "ws-oversize", lambda: websocket_oversize_is_refused(router)




@pytest.mark.parametrize("transport", ("websocket", "rawsocket-tcp", "rawsocket-unix"))
@pytest_twisted.inlineCallbacks
def test_well_behaved_sessions_are_isolated_from_bad_input(router, transport):
    """An Autobahn subscriber gets every acknowledged publication, in order, while all kinds of bad input hit the router."""
    subscriber = yield connect(router, transport)
    publisher = yield connect(router, transport)
    counter = EventCounter()
    yield subscriber.subscribe(counter, "com.example.isolation")
    acknowledged = []
    stop = []

    @defer.inlineCallbacks
    def publish_until_stopped():
        n = 0
        while not stop:
            yield with_timeout(publisher.publish("com.example.isolation", n,
                                                 options=PublishOptions(acknowledge=True)))
            acknowledged.append(n)
            n += 1
            yield sleep(0.002)

    publishing = publish_until_stopped()
    # Whether each bad input got its exact answer is asserted by the dedicated tests above; here only the
    # good sessions are judged, so a misanswered scenario is reported but does not fail this test.
    misanswered = []

    # one kind of bad input after the other, with publications flowing throughout
    for name, scenario in _all_scenarios(router):
        seen = len(counter.events)
        try:
            yield scenario()
        except Exception as e:  # noqa: BLE001 - any failure of a scenario is only reported here
            misanswered.append(f"{name}: {str(e).splitlines()[0] if str(e) else repr(e)}")
        yield counter.reached(seen + 1)  # events kept arriving after this bad input
        assert subscriber.is_attached() and publisher.is_attached(), "good session lost after " + name

    # all kinds at once
    seen = len(counter.events)
    burst = [scenario() for _, scenario in _all_scenarios(router)]
    yield defer.DeferredList(burst, consumeErrors=True)
    yield counter.reached(seen + 1)
    assert subscriber.is_attached() and publisher.is_attached(), "good session lost in the burst of bad input"

    stop.append(True)
    yield with_timeout(publishing)
    # and after all of it
    for n in range(len(acknowledged), len(acknowledged) + 20):
        yield with_timeout(publisher.publish("com.example.isolation", n, options=PublishOptions(acknowledge=True)))
        acknowledged.append(n)
    yield counter.reached(len(acknowledged))
    yield sleep(0.1)
    assert counter.events == acknowledged, "lost, duplicated or reordered events"
    assert subscriber.is_attached() and publisher.is_attached()
    # once every bad connection is gone, only the good sessions remain on the router
    yield hang_up_all()
    good = {subscriber.details.session, publisher.details.session}
    yield wait_until(lambda: set(router.service.router.sessions) == good)
    if misanswered:
        print("bad input answered wrongly (see the dedicated tests):\n  " + "\n  ".join(misanswered))
