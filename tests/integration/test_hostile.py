"""
Hostile and careless peers at the transport level: connections that never finish a handshake, browsers
from origins the listener does not allow, dead WebSocket peers, compressed messages that inflate past
the limit, and subscribers that stop reading while a publisher floods them.

Each test runs its own router on loopback with short timeouts and small limits (built from the same
factories the service uses), so every wait is bounded and a run takes seconds. The misbehaving peers
are small protocols that decide every byte; the well-behaved ones are real Autobahn clients.
"""

import os
import struct
import time
import tracemalloc
import zlib

import pytest
import pytest_twisted
from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.wamp.serializer import JsonObjectSerializer
from autobahn.wamp.types import PublishOptions
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateResponseAccept
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.policies import ProtocolWrapper
from twisted.web.resource import Resource
from twisted.web.server import Site

from router import uris
from router.core import RealmOptions, Router, RouterOptions
from router.transport.handler import SLOW_CONSUMER, SessionFactory
from router.transport.options import WebSocketOptions
from router.transport.rawsocket import rawsocket_factory
from router.transport.universal import UniversalFactory
from router.transport.websocket import websocket_factory
from tests.support import EventCounter, RunningRouter, connect, sleep, with_timeout

HELLO, WELCOME, ABORT, GOODBYE = 1, 2, 3, 6
PUBLISH, SUBSCRIBE, SUBSCRIBED, EVENT = 16, 32, 33, 36
HELLO_MSG = [HELLO, "realm1", {"roles": {"subscriber": {}, "publisher": {}}}]
PAYLOAD_SIZE_EXCEEDED = "wamp.error.payload_size_exceeded"

_HEADER = struct.Struct("!I")
JSON = JsonObjectSerializer()


# -- a router of the test's own ----------------------------------------------------------------------------------------


class HostileRouter:
    """
    A router listening on three loopback ports: ``universal`` (HTTP, WebSocket at /ws, RawSocket),
    ``websocket`` and ``rawsocket``, with the limits a test chose.
    """

    def __init__(self, websocket=WebSocketOptions(), handshake_timeout=10.0, max_send_buffer=16 * 2**20,
                 max_message_size=2**20, close_timeout=5.0):
        self.router = Router(RouterOptions(realms={"realm1": RealmOptions()}), clock=reactor)
        self.sessions = SessionFactory(self.router, reactor, close_timeout=close_timeout)
        names = ["json", "msgpack", "cbor"]

        def websocket_(url):
            return websocket_factory(self.sessions, names, max_message_size, url=url, options=websocket,
                                     max_send_buffer=max_send_buffer)

        def rawsocket():
            return rawsocket_factory(self.sessions, names, max_message_size, handshake_timeout=handshake_timeout,
                                     max_send_buffer=max_send_buffer)

        root = Resource()
        root.putChild(b"", Resource())
        root.putChild(b"ws", WebSocketResource(websocket_(None)))
        site = Site(root)
        site.noisy = False
        self.ports = {
            "universal": reactor.listenTCP(0, UniversalFactory(rawsocket(), site, handshake_timeout),
                                           interface="127.0.0.1"),
            "websocket": reactor.listenTCP(0, websocket_(None), interface="127.0.0.1"),
            "rawsocket": reactor.listenTCP(0, rawsocket(), interface="127.0.0.1"),
        }

    def port(self, name="universal"):
        return self.ports[name].getHost().port

    def running(self, name="universal"):
        """
        What :func:`tests.support.connect` needs to reach the ``name`` port.
        """
        return RunningRouter(None, self.port(name), "")

    def handler_of(self, session_id):
        """
        The router-side handler of a session.
        """
        (handler,) = [h for h in self.sessions.live if h.machine and h.machine.peer
                      and h.machine.peer.session_id == session_id]
        return handler

    @defer.inlineCallbacks
    def stop(self):
        yield defer.gatherResults([defer.maybeDeferred(port.stopListening) for port in self.ports.values()])
        yield self.sessions.shutdown(uris.CLOSE_SYSTEM_SHUTDOWN, grace=1.0)


#: every client connection a test opened, hung up at its end
_CLIENTS = []


@pytest.fixture
def serve():
    """
    Starts :class:`HostileRouter` instances for a test and stops them (and its clients) afterwards.
    """
    routers = []

    def start(**options):
        running = HostileRouter(**options)
        routers.append(running)
        return running

    yield start
    for client in _CLIENTS:
        if client.transport is not None and client.transport.connected:
            client.transport.abortConnection()
    del _CLIENTS[:]
    for running in routers:
        pytest_twisted.blockon(with_timeout(running.stop()))


def buffered(protocol):
    """
    Bytes the router holds unsent in the TCP transport under ``protocol`` (Twisted's private counters:
    test-only introspection).
    """
    transport = protocol.transport
    while isinstance(transport, ProtocolWrapper):
        transport = transport.transport
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


@defer.inlineCallbacks
def wait_until(predicate, seconds=10.0):
    """
    Poll ``predicate`` every 10 ms until it holds; ``TimeoutError`` after ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise defer.TimeoutError(seconds, "condition never held")
        yield sleep(0.01)


# -- peers -------------------------------------------------------------------------------------------------------------


class BytesPeer(Protocol):
    """
    Writes ``data`` on connect and records what comes back; ``closed`` fires with the seconds the
    connection lasted.
    """

    def __init__(self, data=b""):
        self.data = data
        self.received = b""
        self.closed = defer.Deferred()
        self.headers = defer.Deferred()

    def connectionMade(self):
        self.started = time.monotonic()
        _CLIENTS.append(self)
        if self.data:
            self.transport.write(self.data)

    def dataReceived(self, data):
        self.received += data
        if b"\r\n\r\n" in self.received and not self.headers.called:
            self.headers.callback(self.received)

    def connectionLost(self, reason):
        if not self.headers.called:
            self.headers.callback(self.received)
        self.closed.callback(time.monotonic() - self.started)


@defer.inlineCallbacks
def open_bytes(port, data=b""):
    peer = BytesPeer(data)
    yield with_timeout(TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(Factory.forProtocol(lambda: peer)))
    return peer


class RawSocketPeer(Protocol):
    """
    A RawSocket JSON peer recording every WAMP message; ``closed`` fires when the connection is gone.
    """

    def __init__(self):
        self.messages = []
        self.arrived = defer.DeferredQueue()
        self.closed = defer.Deferred()
        self._buffer = b""
        self._handshaken = False

    def connectionMade(self):
        _CLIENTS.append(self)
        self.transport.write(bytes([0x7F, 0xF1, 0, 0]))

    def dataReceived(self, data):
        self._buffer += data
        if not self._handshaken:
            if len(self._buffer) < 4:
                return
            self._buffer, self._handshaken = self._buffer[4:], True
        while len(self._buffer) >= 4:
            (header,) = _HEADER.unpack_from(self._buffer)
            length = header & 0xFFFFFF
            if len(self._buffer) < 4 + length:
                return
            payload, self._buffer = self._buffer[4:4 + length], self._buffer[4 + length:]
            if header >> 24 == 0:
                for message in JSON.unserialize(payload):
                    self.messages.append(message)
                    self.arrived.put(message)

    def connectionLost(self, reason):
        self.closed.callback(None)

    def send(self, message):
        payload = JSON.serialize(message)
        self.transport.write(_HEADER.pack(len(payload)) + payload)


class WebSocketPeer(WebSocketClientProtocol):
    """
    A WebSocket ``wamp.2.json`` peer recording every WAMP message; it answers the router's pings
    unless ``answer_pings`` is false.
    """

    answer_pings = True

    def __init__(self):
        WebSocketClientProtocol.__init__(self)
        self.messages = []
        self.arrived = defer.DeferredQueue()
        self.opened = defer.Deferred()
        self.closed = defer.Deferred()

    def onConnect(self, response):
        _CLIENTS.append(self)

    def onOpen(self):
        self.opened_at = time.monotonic()
        self.opened.callback(self)

    def onPing(self, payload):
        if self.answer_pings:
            WebSocketClientProtocol.onPing(self, payload)

    def onMessage(self, payload, isBinary):
        for message in JSON.unserialize(payload):
            self.messages.append(message)
            self.arrived.put(message)

    def onClose(self, wasClean, code, reason):
        if not self.opened.called:
            self.opened.errback(RuntimeError("WebSocket handshake failed: {} {}".format(code, reason)))
        if not self.closed.called:
            self.closed.callback(self.remoteCloseCode)

    def send(self, message, compress=True):
        self.sendMessage(JSON.serialize(message), isBinary=False, doNotCompress=not compress)


@defer.inlineCallbacks
def open_websocket(port, answer_pings=True, compression=False):
    factory = WebSocketClientFactory("ws://127.0.0.1:{}/ws".format(port), protocols=["wamp.2.json"])
    factory.protocol = WebSocketPeer
    if compression:
        factory.setProtocolOptions(perMessageCompressionOffers=[PerMessageDeflateOffer()],
                                   perMessageCompressionAccept=PerMessageDeflateResponseAccept)
    peer = yield with_timeout(TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(factory))
    peer.answer_pings = answer_pings
    yield with_timeout(peer.opened)
    return peer


@defer.inlineCallbacks
def open_rawsocket(port):
    peer = RawSocketPeer()
    yield with_timeout(TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(Factory.forProtocol(lambda: peer)))
    return peer


@defer.inlineCallbacks
def join(peer):
    """
    HELLO on ``peer``; returns the session id from WELCOME.
    """
    peer.send(HELLO_MSG)
    welcome = yield with_timeout(peer.arrived.get())
    assert welcome[0] == WELCOME, welcome
    return welcome[1]


# -- handshake deadlines ---------------------------------------------------------------------------------------------

#: the handshake timeout of RawSocket and universal ports in these tests (wampd's own timers are exact)
SHORT = 0.5
#: the shortest WebSocket timeout worth testing: Autobahn's timers tick in whole seconds and fire up to a
#: second early
WS_SHORT = 2.0


@pytest.mark.parametrize("data", [b"", b"\x7f\xf1"], ids=("silent", "half-handshake"))
@pytest_twisted.inlineCallbacks
def test_rawsocket_connection_without_handshake_is_dropped(serve, data):
    """A RawSocket connection that does not complete its 4-octet handshake is closed after the handshake timeout."""
    running = serve(handshake_timeout=SHORT)
    peer = yield open_bytes(running.port("rawsocket"), data)
    lasted = yield with_timeout(peer.closed)
    assert SHORT * 0.8 <= lasted < SHORT + 3
    assert peer.received == b""
    assert running.sessions.live == set()


@pytest.mark.parametrize("data", [b"", b"\x7f", b"GET / HTTP/1.1\r\nHost: x\r\n"],
                         ids=("silent", "rawsocket-magic-only", "unfinished-http-request"))
@pytest_twisted.inlineCallbacks
def test_universal_connection_without_a_request_is_dropped(serve, data):
    """A universal-port connection that sends nothing, one octet, or an unfinished HTTP request is closed after the timeout."""
    running = serve(handshake_timeout=SHORT)
    peer = yield open_bytes(running.port("universal"), data)
    lasted = yield with_timeout(peer.closed)
    assert SHORT * 0.8 <= lasted < SHORT + 3
    assert peer.received == b""


@pytest_twisted.inlineCallbacks
def test_universal_headers_trickling_in_do_not_keep_a_connection(serve):
    """HTTP header lines sent one every 100 ms (slowloris) do not hold a universal-port connection past the timeout."""
    running = serve(handshake_timeout=SHORT)
    peer = yield open_bytes(running.port("universal"), b"GET / HTTP/1.1\r\n")
    for i in range(30):
        if peer.closed.called:
            break
        peer.transport.write("X-Slow-{}: 1\r\n".format(i).encode())
        yield sleep(0.1)
    lasted = yield with_timeout(peer.closed)
    assert lasted < SHORT + 3
    assert peer.received == b""


@pytest_twisted.inlineCallbacks
def test_websocket_opening_handshake_must_complete_in_time(serve):
    """A WebSocket listener closes a connection whose opening handshake is unfinished after open_handshake_timeout."""
    running = serve(websocket=WebSocketOptions(open_handshake_timeout=WS_SHORT))
    peer = yield open_bytes(running.port("websocket"), b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    lasted = yield with_timeout(peer.closed)
    assert WS_SHORT - 1 <= lasted < WS_SHORT + 3
    assert running.sessions.live == set()


@pytest_twisted.inlineCallbacks
def test_connections_that_completed_their_handshake_stay(serve):
    """RawSocket (plain and universal) and WebSocket sessions outlive the handshake timeout, and HTTP is answered."""
    running = serve(handshake_timeout=SHORT)
    peers = [(yield open_rawsocket(running.port("rawsocket"))), (yield open_rawsocket(running.port("universal"))),
             (yield open_websocket(running.port("universal"))), (yield open_websocket(running.port("websocket")))]
    session_ids = []
    for peer in peers:
        session_ids.append((yield join(peer)))
    page = yield open_bytes(running.port("universal"), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    response = yield with_timeout(page.headers)
    assert response.startswith(b"HTTP/1.1 ")
    yield sleep(SHORT * 3)
    assert not any(peer.closed.called for peer in peers)
    assert set(session_ids) <= set(running.router.sessions)


# -- origins ---------------------------------------------------------------------------------------------------------


def upgrade_request(port, origin):
    lines = [
        "GET /ws HTTP/1.1",
        "Host: 127.0.0.1:{}".format(port),
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: wamp.2.json",
    ]
    if origin is not None:
        lines.append("Origin: " + origin)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@defer.inlineCallbacks
def upgrade_status(port, origin):
    """
    The HTTP status the router answers a WebSocket upgrade from ``origin`` with (``None``: no Origin).
    """
    peer = yield open_bytes(port, upgrade_request(port, origin))
    response = yield with_timeout(peer.headers)
    peer.transport.abortConnection()
    yield with_timeout(peer.closed)
    return int(response.split(b" ", 2)[1])


ORIGIN_CASES = [
    ("https://example.com", 101),
    ("https://EXAMPLE.com:443", 101),
    ("https://example.com:8443", 400),
    ("http://example.com", 400),
    ("https://app.example.org", 101),
    ("https://example.org.evil.net", 400),
    ("https://evil.net", 400),
    ("null", 400),
    (None, 101),
]


@pytest.mark.parametrize("listener", ("universal", "websocket"))
@pytest_twisted.inlineCallbacks
def test_only_allowed_origins_may_open_a_websocket(serve, listener):
    """With allowed_origins set, only those origins (default ports filled in, * wildcards) and Origin-less clients get 101."""
    running = serve(websocket=WebSocketOptions(allowed_origins=("https://example.com", "https://*.example.org")))
    port = running.port(listener)
    got = []
    for origin, _ in ORIGIN_CASES:
        got.append((origin, (yield upgrade_status(port, origin))))
    assert got == ORIGIN_CASES


@pytest_twisted.inlineCallbacks
def test_default_allows_every_origin(serve):
    """The default allowed_origins ["*"] accepts any origin, including the null origin of sandboxed pages."""
    running = serve()
    port = running.port()
    for origin in ("https://evil.net", "http://localhost:3000", "null"):
        assert (yield upgrade_status(port, origin)) == 101, origin


# -- dead peers ------------------------------------------------------------------------------------------------------


@pytest_twisted.inlineCallbacks
def test_websocket_peer_that_stops_answering_pings_is_dropped(serve):
    """A WebSocket peer that does not answer pings is dropped and its session ends; one that answers stays."""
    running = serve(websocket=WebSocketOptions(auto_ping_interval=WS_SHORT, auto_ping_timeout=WS_SHORT))
    dead = yield open_websocket(running.port(), answer_pings=False)
    alive = yield open_websocket(running.port())
    dead_id = yield join(dead)
    alive_id = yield join(alive)
    yield with_timeout(dead.closed, 2 * WS_SHORT + 3)
    lasted = time.monotonic() - dead.opened_at
    assert lasted >= WS_SHORT - 1
    yield wait_until(lambda: dead_id not in running.router.sessions)
    assert not alive.closed.called
    assert alive_id in running.router.sessions


# -- compression -----------------------------------------------------------------------------------------------------


@pytest_twisted.inlineCallbacks
def test_compression_is_off_unless_enabled(serve):
    """A permessage-deflate offer is declined by default and accepted with compression enabled."""
    plain = serve()
    peer = yield open_websocket(plain.port(), compression=True)
    assert peer.websocket_extensions_in_use == []
    compressing = serve(websocket=WebSocketOptions(compression=True))
    peer = yield open_websocket(compressing.port(), compression=True)
    assert [ext.EXTENSION_NAME for ext in peer.websocket_extensions_in_use] == ["permessage-deflate"]
    yield join(peer)
    peer.send([SUBSCRIBE, 1, {}, "com.example.compressed"])
    subscribed = yield with_timeout(peer.arrived.get())
    assert subscribed[:2] == [SUBSCRIBED, 1]


def deflated_zeros(size):
    """
    A permessage-deflate payload inflating to ``size`` zero octets, made without holding them in memory.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(2**20)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts)[:-4]


def masked_text_frame(payload, compressed):
    """
    A final client-to-server text frame (RSV1 set when ``compressed``).
    """
    first = 0x80 | (0x40 if compressed else 0) | 0x1
    if len(payload) < 126:
        header = struct.pack("!BB", first, 0x80 | len(payload))
    elif len(payload) < 2**16:
        header = struct.pack("!BBH", first, 0x80 | 126, len(payload))
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, len(payload))
    mask = os.urandom(4)
    repeated = (mask * (len(payload) // 4 + 1))[:len(payload)]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")
    return header + mask + masked


@pytest_twisted.inlineCallbacks
def test_compressed_message_cannot_inflate_past_the_limit(serve):
    """A 47 KB deflate bomb inflating to 48 MiB ends the session with close 1009; the router inflates only up to the 64 KiB limit."""
    limit = 64 * 1024
    running = serve(websocket=WebSocketOptions(compression=True), max_message_size=limit)
    peer = yield open_websocket(running.port(), compression=True)
    peer.send(HELLO_MSG, compress=False)
    welcome = yield with_timeout(peer.arrived.get())
    assert welcome[0] == WELCOME
    deflated = deflated_zeros(48 * 2**20)
    assert len(deflated) < limit  # one frame within the frame size limit
    bomb = masked_text_frame(deflated, compressed=True)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        peer.transport.write(bomb)
        code = yield with_timeout(peer.closed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    aborts = [m for m in peer.messages if m[0] == ABORT]
    assert code == 1009 or [a[2] for a in aborts] == [PAYLOAD_SIZE_EXCEEDED], (code, peer.messages)
    assert peak - before < 16 * 2**20, "inflated {} bytes".format(peak - before)
    assert welcome[1] not in running.router.sessions


# -- slow consumers --------------------------------------------------------------------------------------------------




@pytest.mark.parametrize("transport", ("rawsocket-tcp", "websocket"))
@pytest_twisted.inlineCallbacks
def test_subscriber_that_stops_reading_is_closed_and_others_get_everything(serve, transport):
    """A subscriber that stops reading is closed with ABORT wampd.error.slow_consumer once 1 MiB waits; memory stays bounded and others get every event."""
    limit = 2**20
    running = serve(max_send_buffer=limit)
    topic = "com.example.flood"
    # the slow subscriber: a hand-written peer that will stop reading
    if transport == "websocket":
        slow = yield open_websocket(running.port())
    else:
        slow = yield open_rawsocket(running.port())
    slow_id = yield join(slow)
    slow.send([SUBSCRIBE, 1, {}, topic])
    subscribed = yield with_timeout(slow.arrived.get())
    assert subscribed[0] == SUBSCRIBED
    slow_protocol = running.handler_of(slow_id).transport
    # a fast subscriber and the publisher: Autobahn clients over the same transport
    fast = yield connect(running.running(), transport)
    counter = EventCounter()
    yield fast.subscribe(counter, topic)
    publisher = yield connect(running.running(), transport)

    slow.transport.pauseProducing()
    payload = "x" * 32 * 1024
    published = 0
    peak = 0
    while slow_id in running.router.sessions:
        assert published < 4096, "128 MiB published and the slow subscriber is still connected"
        batch = [publisher.publish(topic, published + i, payload, options=PublishOptions(acknowledge=True))
                 for i in range(8)]
        yield with_timeout(defer.gatherResults(batch))
        published += 8
        peak = max(peak, buffered(slow_protocol))
        # the fast subscriber keeps up (in this process it reads no faster than 64 KiB a turn, so
        # without this it could fall more than the bound behind and rightly be closed as well)
        yield counter.reached(published)
    # bounded: the limit, plus Twisted's 64 KiB high-water mark and the message that passed it
    assert peak <= limit + 64 * 1024 + len(payload) + 1024, peak

    # the publisher and the fast subscriber carry on, and the fast one got every event in order
    for n in range(published, published + 16):
        yield with_timeout(publisher.publish(topic, n, payload, options=PublishOptions(acknowledge=True)))
    published += 16
    yield counter.reached(published)
    assert counter.events == list(range(published))
    assert fast.is_attached() and publisher.is_attached()
    assert buffered(slow_protocol) <= peak

    # the slow peer, reading again, finds an unbroken run of events and then the ABORT with the reason
    slow.transport.resumeProducing()
    yield with_timeout(slow.closed)
    *events, last = slow.messages[2:]  # after WELCOME and SUBSCRIBED
    assert last[0] == ABORT and last[2] == SLOW_CONSUMER, last
    assert [event[0] for event in events] == [EVENT] * len(events)
    assert [event[4][0] for event in events] == list(range(len(events)))
    assert 0 < len(events) < published
