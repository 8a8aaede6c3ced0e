"""
The transports' limits without sockets: the send buffer bound and the slow-consumer policy, the
handshake and close deadlines (on a ``task.Clock``), and the WebSocket options and their configuration.
"""

import struct

import pytest
from autobahn.wamp.serializer import JsonObjectSerializer
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from router.config import ConfigError, parse_config
from router.core import Router
from router.transport.handler import SLOW_CONSUMER, SendBuffer, SessionFactory
from router.transport.options import WebSocketOptions, origin_patterns, origin_problem
from router.transport.rawsocket import rawsocket_factory
from router.transport.universal import UniversalFactory
from router.transport.websocket import websocket_factory

JSON = JsonObjectSerializer()
HELLO = [1, "realm1", {"roles": {"subscriber": {}, "publisher": {}}}]


def frame(message):
    payload = JSON.serialize(message)
    return struct.pack("!I", len(payload)) + payload


def frames(data):
    """
    The WAMP messages in RawSocket output ``data`` (after the 4-octet handshake reply).
    """
    data, messages = data[4:], []
    while data:
        (length,) = struct.unpack_from("!I", data)
        messages.extend(JSON.unserialize(data[4:4 + length]))
        data = data[4 + length:]
    return messages


class Connections:
    """
    A router with RawSocket connections on string transports and a clock.
    """

    def __init__(self, max_send_buffer=64 * 1024, close_timeout=5.0, handshake_timeout=10.0):
        self.clock = Clock()
        self.router = Router(clock=self.clock)
        self.sessions = SessionFactory(self.router, self.clock, close_timeout=close_timeout)
        self.factory = rawsocket_factory(self.sessions, ["json"], 2**20, handshake_timeout=handshake_timeout,
                                         max_send_buffer=max_send_buffer, reactor=self.clock)

    def connect(self, handshake=True, hello=True):
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        if handshake:
            protocol.dataReceived(bytes([0x7F, 0xF1, 0, 0]))
        if hello:
            protocol.dataReceived(frame(HELLO))
            assert frames(transport.value())[0][0] == 2  # WELCOME
        return protocol, transport


class TestSendBuffer:
    def test_counts_only_while_the_transport_is_full(self):
        """Writes are counted only between pauseProducing and resumeProducing, and resuming starts the count over."""
        overflows = []
        buffer = SendBuffer(100, overflows.append)
        assert buffer.admit(1000)
        assert buffer.queued == 0
        buffer.pauseProducing()
        assert buffer.admit(60)
        buffer.pauseProducing()  # Twisted repeats it on every write past the high-water mark
        assert buffer.admit(30)
        assert buffer.queued == 90 and overflows == []
        buffer.resumeProducing()
        assert buffer.queued == 0
        buffer.pauseProducing()
        assert buffer.admit(100)
        assert overflows == []

    def test_write_past_the_limit_is_refused_and_reported_once(self):
        """The write that would pass the limit is refused and reported; later writes (the ABORT) are admitted."""
        overflows = []
        buffer = SendBuffer(100, overflows.append)
        buffer.pauseProducing()
        assert buffer.admit(100)
        assert not buffer.admit(1)
        assert overflows == [101]
        assert buffer.admit(500)
        assert overflows == [101]

    def test_attach_replaces_a_stale_producer(self):
        """Attaching to a transport that still has an earlier protocol's producer replaces it; detach unregisters."""
        transport = StringTransport()
        transport.registerProducer(object(), True)
        buffer = SendBuffer(100, lambda queued: None)
        buffer.attach(transport)
        assert transport.producer is buffer and transport.streaming
        buffer.detach()
        assert transport.producer is None
        buffer.detach()  # a second time is harmless


class TestSlowConsumer:
    def test_session_that_does_not_read_is_aborted_and_closed(self):
        """Past max_send_buffer bytes written while the transport is full, the session gets ABORT wampd.error.slow_consumer and the connection closes."""
        connections = Connections(max_send_buffer=64 * 1024)
        slow, slow_transport = connections.connect()
        publisher, _ = connections.connect()
        slow.dataReceived(frame([32, 1, {}, "com.example.topic"]))
        (slow_id,) = [s for s in connections.router.sessions if s != publisher._session.machine.peer.session_id]
        assert slow_transport.producer is slow._send_buffer
        slow_transport.producer.pauseProducing()  # what Twisted does when the peer stops reading
        payload = "x" * 10000
        for n in range(20):
            publisher.dataReceived(frame([16, n + 1, {}, "com.example.topic", [n, payload]]))
        messages = frames(slow_transport.value())
        assert messages[-1][0] == 3 and messages[-1][2] == SLOW_CONSUMER, messages[-1]
        events = messages[2:-1]
        assert [event[4][0] for event in events] == list(range(len(events)))
        # every event fitting within the 64 KiB bound was written, the next one was not
        assert len(events) * 10000 <= 64 * 1024 < (len(events) + 1) * 10100
        assert slow_id not in connections.router.sessions
        assert slow_transport.disconnecting and slow_transport.producer is None
        # nothing more is written to it
        written = len(slow_transport.value())
        publisher.dataReceived(frame([16, 99, {}, "com.example.topic", [99, payload]]))
        assert len(slow_transport.value()) == written

    def test_connection_still_open_after_the_close_timeout_is_aborted(self):
        """A connection the router closed is aborted if it is still there after the close timeout."""
        connections = Connections(close_timeout=5.0)
        protocol, transport = connections.connect()
        protocol.dataReceived(frame([99]))  # a protocol violation: ABORT, then close
        assert transport.disconnecting and not transport.disconnected
        connections.clock.advance(4.9)
        assert not transport.disconnected
        connections.clock.advance(0.2)
        assert transport.disconnected
        protocol.connectionLost(Failure(ConnectionDone()))
        assert connections.clock.getDelayedCalls() == []

    def test_close_deadline_is_cancelled_when_the_connection_goes(self):
        """A connection that goes in time leaves no timer behind."""
        connections = Connections()
        protocol, transport = connections.connect()
        protocol.dataReceived(frame([99]))
        protocol.connectionLost(Failure(ConnectionDone()))
        assert connections.clock.getDelayedCalls() == []


class TestHandshakeDeadlines:
    def test_rawsocket_handshake_must_arrive_in_time(self):
        """A RawSocket connection without a complete handshake is aborted when the handshake timeout passes."""
        connections = Connections(handshake_timeout=3.0)
        protocol, transport = connections.connect(handshake=False, hello=False)
        protocol.dataReceived(b"\x7f\xf1")
        connections.clock.advance(2.9)
        assert not transport.disconnected
        connections.clock.advance(0.2)
        assert transport.disconnected and transport.value() == b""

    def test_completed_rawsocket_handshake_cancels_the_deadline(self):
        """After the handshake, the connection is not touched by the handshake timeout."""
        connections = Connections(handshake_timeout=3.0)
        protocol, transport = connections.connect(hello=False)
        connections.clock.advance(10)
        assert not transport.disconnecting and not transport.disconnected

    def test_input_after_a_refused_handshake_is_ignored(self):
        """Octets after a refused handshake are not read as a second handshake."""
        connections = Connections()
        protocol, transport = connections.connect(handshake=False, hello=False)
        protocol.dataReceived(bytes([0x7F, 0xF7, 0, 0]) + bytes([0x7F, 0xF1, 0, 0]) + frame(HELLO))
        assert transport.value() == bytes([0x7F, 0x10, 0, 0])
        assert connections.router.sessions == {}

    def test_universal_port_needs_a_request_in_time(self):
        """A universal-port connection the router has not started answering is aborted after the timeout."""
        clock = Clock()
        factory = UniversalFactory(Factory.forProtocol(Protocol), Factory.forProtocol(Protocol), 3.0, reactor=clock)
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"GET / HT")
        clock.advance(3.1)
        assert transport.disconnected

    def test_universal_port_deadline_ends_with_the_first_answer(self):
        """Once the inner protocol writes its answer, the universal-port deadline is off."""
        clock = Clock()
        factory = UniversalFactory(Factory.forProtocol(Protocol), Factory.forProtocol(Protocol), 3.0, reactor=clock)
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"GET / HTTP/1.1\r\n\r\n")
        protocol.wrappedProtocol.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        clock.advance(10)
        assert not transport.disconnected
        assert clock.getDelayedCalls() == []


class TestWebSocketOptions:
    def test_defaults(self):
        """The defaults: every origin, 10 s opening and 5 s closing handshake, pings every 30 s answered within 10 s, no compression."""
        factory = websocket_factory(lambda: None, ["json"], 2**20)
        assert factory.allowedOrigins == ["*"] and factory.allowNullOrigin
        assert (factory.openHandshakeTimeout, factory.closeHandshakeTimeout) == (10, 5)
        assert (factory.autoPingInterval, factory.autoPingTimeout) == (30, 10)
        assert factory.perMessageCompressionAccept([PerMessageDeflateOffer()]) is None
        assert factory.maxMessagePayloadSize == 2**20

    def test_options_are_applied(self):
        """Configured origins (default ports filled in), timeouts, pings and compression reach Autobahn's factory."""
        options = WebSocketOptions(allowed_origins=("https://example.com", "http://*.local:*", "null"),
                                   open_handshake_timeout=3, close_handshake_timeout=4, auto_ping_interval=0,
                                   auto_ping_timeout=7, compression=True)
        factory = websocket_factory(lambda: None, ["json"], 4096, options=options, max_send_buffer=70000)
        assert factory.allowedOrigins == ["https://example.com:443", "http://*.local:*"]
        assert factory.allowNullOrigin
        assert (factory.openHandshakeTimeout, factory.closeHandshakeTimeout) == (3, 4)
        assert (factory.autoPingInterval, factory.autoPingTimeout) == (0, 7)
        assert factory.max_send_buffer == 70000
        accept = factory.perMessageCompressionAccept([PerMessageDeflateOffer()])
        assert isinstance(accept, PerMessageDeflateOfferAccept) and accept.max_message_size == 4096

    @pytest.mark.parametrize("origin, pattern", [
        ("https://example.com", "https://example.com:443"),
        ("HTTP://Example.com:8080", "http://example.com:8080"),
        ("https://*.example.com", "https://*.example.com:443"),
        ("app://thing", "app://thing:*"),
        ("http://[::1]:3000", "http://::1:3000"),
    ])
    def test_origin_patterns(self, origin, pattern):
        """An allowed origin becomes the scheme://host:port pattern Autobahn matches, the scheme's default port filled in."""
        assert origin_problem(origin) is None
        assert origin_patterns((origin,)) == ([pattern], False)

    @pytest.mark.parametrize("origin", ["example.com", "https://example.com/path", "https://", "*.example.com", ""])
    def test_invalid_origins(self, origin):
        """Entries that are not an origin are named as the problem."""
        assert origin_problem(origin)


def listener(**keys):
    return parse_config({"listeners": [dict({"endpoint": "tcp:8080"}, **keys)]}, "wampd.yaml").listeners[0]


class TestConfiguration:
    def test_defaults(self):
        """A listener without the keys gets the default WebSocket options and a 16 MiB send buffer bound."""
        config = listener()
        assert config.websocket == WebSocketOptions()
        assert config.max_send_buffer == 16 * 2**20

    def test_websocket_key(self):
        """listeners[].websocket sets origins, timeouts, pings and compression."""
        config = listener(websocket={"allowed_origins": ["https://example.com"], "open_handshake_timeout": 3,
                                     "close_handshake_timeout": 2.5, "auto_ping_interval": 0,
                                     "auto_ping_timeout": 20, "compression": {"enabled": True}},
                          max_send_buffer=2**20)
        assert config.websocket == WebSocketOptions(("https://example.com",), 3.0, 2.5, 0.0, 20.0, True)
        assert config.max_send_buffer == 2**20

    @pytest.mark.parametrize("keys, path", [
        ({"websocket": {"allowed_origins": []}}, "listeners[0].websocket.allowed_origins"),
        ({"websocket": {"allowed_origins": ["https://ok.example", "nope"]}},
         "listeners[0].websocket.allowed_origins[1]"),
        ({"websocket": {"open_handshake_timeout": 1}}, "listeners[0].websocket.open_handshake_timeout"),
        ({"websocket": {"auto_ping_interval": 1}}, "listeners[0].websocket.auto_ping_interval"),
        ({"websocket": {"auto_ping_timeout": True}}, "listeners[0].websocket.auto_ping_timeout"),
        ({"websocket": {"compression": {"enabled": "yes"}}}, "listeners[0].websocket.compression.enabled"),
        ({"websocket": {"compression": {"max_message_size": 1}}},
         "listeners[0].websocket.compression.max_message_size"),
        ({"websocket": {"pings": 1}}, "listeners[0].websocket.pings"),
        ({"type": "rawsocket", "websocket": {}}, "listeners[0].websocket"),
        ({"max_send_buffer": 1000}, "listeners[0].max_send_buffer"),
        ({"max_send_buffer": "16M"}, "listeners[0].max_send_buffer"),
    ])
    def test_errors_name_the_key(self, keys, path):
        """Invalid websocket options and send buffer bounds are refused, naming the key path."""
        with pytest.raises(ConfigError) as caught:
            listener(**keys)
        assert caught.value.path == path
