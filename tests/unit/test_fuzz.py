"""
Fuzzing the parts that take a peer's bytes: the decoder, the session machine behind it, and the
RawSocket framing.

Whatever arrives, no exception escapes, sessions that go leave nothing behind, and a control pair of
well-behaved sessions keeps routing after every fuzzed input. Hypothesis drives random payloads and
well-formed WAMP messages with mutated elements; every run is bounded (``max_examples``) and takes a
few seconds.
"""

import struct

from autobahn.wamp.message import Event, Message, Published
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from router.broker import HistoryRule
from router.codec import InvalidUriRequest, Malformed, decode
from router.core import RealmOptions, Router, RouterOptions
from router.session import SessionMachine, State
from router.transport.handler import SessionFactory
from router.transport.rawsocket import rawsocket_factory
from tests.unit.helpers import decoded

SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}
RAW_SERIALIZER_IDS = {"json": 1, "msgpack": 2, "cbor": 3}

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ------------------------------------------------------------------------------------------------------


def weighted(*choices):
    """
    One of the ``(weight, strategy)`` choices, picked in proportion to the weights.
    """
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(table))).flatmap(table.__getitem__)


#: URIs that hit the router's topics, patterns, reserved and meta procedures, and invalid ones; the meta
#: API's kill procedures are left out: killing the control pair would be their documented effect
URIS = [
    "com.example.a", "com.example.b", "com.example", "com.example.a.b", "com..a", "com.", "control.topic",
    "control", "", "a b", "a#b", "wamp.session.count", "wamp.session.list", "wamp.session.get",
    "wamp.subscription.list", "wamp.subscription.lookup", "wamp.subscription.match",
    "wamp.subscription.get_events", "wamp.registration.list", "wamp.registration.lookup",
    "wamp.registration.match", "wamp.registration.list_callees", "wamp.error.canceled", "wamp.close.normal",
]
OPTION_KEYS = [
    "acknowledge", "exclude_me", "exclude", "eligible", "exclude_authid", "eligible_authid", "exclude_authrole",
    "eligible_authrole", "disclose_me", "retain", "get_retained", "match", "invoke", "receive_progress",
    "progress", "timeout", "mode", "forward_timeout", "x_custom",
]
WORDS = ["exact", "prefix", "wildcard", "single", "roundrobin", "random", "first", "last", "skip", "kill",
         "killnowait", "anonymous", "ticket", "wampcra", "cryptosign", "realm1", "bogus"]
FEATURES = ["call_canceling", "progressive_call_results", "progressive_call_invocations", "call_timeout",
            "publisher_exclusion", "subscriber_blackwhite_listing", "pattern_based_subscription",
            "pattern_based_registration", "shared_registration", "caller_identification", "event_retention",
            "payload_passthru_mode"]

#: ids: mostly small (sequential subscription, registration and invocation ids start at 1), sometimes any
small_ids = weighted((6, st.integers(1, 6)), (1, st.integers(0, 2**53)), (1, st.integers(-2**63, 2**64 - 1)))
uris = weighted((6, st.sampled_from(URIS[:3])), (3, st.sampled_from(URIS)), (1, st.text(max_size=12)))
scalars = st.one_of(st.none(), st.booleans(), small_ids, st.floats(allow_nan=True), st.sampled_from(WORDS),
                    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=5)
#: options as a client would send them, each of the type the spec gives it
typed_options = st.fixed_dictionaries({}, optional={
    "acknowledge": st.booleans(), "exclude_me": st.booleans(), "disclose_me": st.booleans(),
    "retain": st.booleans(), "get_retained": st.booleans(), "receive_progress": st.booleans(),
    "progress": st.booleans(), "forward_timeout": st.booleans(),
    "exclude": st.lists(small_ids, max_size=2), "eligible": st.lists(small_ids, max_size=2),
    "exclude_authid": st.lists(st.text(max_size=4), max_size=2),
    "eligible_authrole": st.lists(st.sampled_from(["anonymous", "x"]), max_size=2),
    "match": st.sampled_from(["exact", "prefix", "wildcard", "bogus"]),
    "invoke": st.sampled_from(["single", "roundrobin", "random", "first", "last", "bogus"]),
    "timeout": st.integers(0, 5000), "mode": st.sampled_from(["skip", "kill", "killnowait", "bogus"]),
})
#: options with any keys and values
loose_options = st.dictionaries(st.sampled_from(OPTION_KEYS), st.one_of(scalars, st.lists(scalars, max_size=3)),
                                max_size=4)
options = weighted((4, typed_options), (1, loose_options))
args = st.one_of(st.none(), st.lists(values, max_size=3))
kwargs = st.one_of(st.none(), st.dictionaries(st.text(max_size=6), values, max_size=3))
features = st.dictionaries(st.sampled_from(FEATURES), st.booleans(), max_size=6)
roles = st.one_of(
    st.dictionaries(st.sampled_from(["publisher", "subscriber", "caller", "callee"]),
                    st.builds(lambda f: {"features": f}, features), min_size=1, max_size=4),
    st.dictionaries(st.sampled_from(["publisher", "subscriber", "caller", "callee", "broker", "bogus"]), values,
                    max_size=4),
)
hello_details = st.fixed_dictionaries(
    {"roles": roles},
    optional={"authmethods": st.lists(st.sampled_from(["anonymous", "anonymous", "ticket", "bogus"]), max_size=2),
              "authid": st.text(max_size=6), "authextra": st.dictionaries(st.text(max_size=4), values, max_size=2)},
)


def _with_payload(head, a, kw):
    message = list(head)
    if a is not None or kw is not None:
        message.append(a if a is not None else [])
    if kw is not None:
        message.append(kw)
    return message


#: well-formed client messages (by shape) with fuzzed ids, URIs, options and payloads
wamp_messages = weighted(
    (1, st.builds(lambda realm, details: [1, realm, details],
                  st.sampled_from(["realm1", "realm1", "realm2", "nowhere", ""]), hello_details)),
    (1, st.builds(lambda sig, extra: [5, sig, extra], st.text(max_size=8),
                  st.dictionaries(st.text(max_size=4), values, max_size=2))),
    (1, st.builds(lambda reason: [6, {}, reason], st.sampled_from(["wamp.close.normal", "com.example.a", "a b"]))),
    (1, st.builds(lambda reason: [3, {}, reason], st.sampled_from(["wamp.close.normal", "com.example.a", "a b"]))),
    (1, st.builds(lambda kind, req, details, uri, a, kw: _with_payload([8, kind, req, details, uri], a, kw),
                  st.sampled_from([68, 68, 68, 48, 32, 16, 64, 1]), small_ids, st.just({}), uris, args, kwargs)),
    (4, st.builds(lambda req, opts, uri, a, kw: _with_payload([16, req, opts, uri], a, kw),
                  small_ids, options, uris, args, kwargs)),
    (3, st.builds(lambda req, opts, uri: [32, req, opts, uri], small_ids, options, uris)),
    (1, st.builds(lambda req, sub: [34, req, sub], small_ids, small_ids)),
    (4, st.builds(lambda req, opts, uri, a, kw: _with_payload([48, req, opts, uri], a, kw),
                  small_ids, options, uris, args, kwargs)),
    (1, st.builds(lambda req, opts: [49, req, opts], small_ids, options)),
    (3, st.builds(lambda req, opts, uri: [64, req, opts, uri], small_ids, options, uris)),
    (1, st.builds(lambda req, reg: [66, req, reg], small_ids, small_ids)),
    (1, st.builds(lambda req, opts, a, kw: _with_payload([70, req, opts], a, kw), small_ids, options, args, kwargs)),
    # messages only a router sends, and unknown types
    (1, st.builds(lambda kind, rest: [kind] + rest,
                  st.sampled_from([2, 4, 17, 33, 35, 36, 50, 65, 67, 68, 69, 99, 0, -1]),
                  st.lists(values, max_size=4))),
)


@st.composite
def mutated(draw, messages=wamp_messages):
    """
    A well-formed message with elements replaced, dropped or appended.
    """
    message = draw(messages)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["replace", "drop", "append"]))
        if action == "replace" and message:
            message[draw(st.integers(0, len(message) - 1))] = draw(values)
        elif action == "drop" and message:
            del message[draw(st.integers(0, len(message) - 1))]
        else:
            message.append(draw(values))
    return message


#: one raw input: a message structure (serialized by the test), or bytes as they came off the wire
inputs = weighted(
    (10, st.tuples(st.just("message"), wamp_messages)),
    (2, st.tuples(st.just("message"), mutated())),
    (1, st.tuples(st.just("message"), values)),
    (1, st.tuples(st.just("bytes"), st.binary(max_size=64))),
)


def serialize(serializer, obj):
    """
    ``obj`` encoded by the serializer's object serializer; ``None`` if it cannot encode it.
    """
    try:
        return serializer._serializer.serialize(obj)
    except Exception:  # noqa: BLE001 - a structure the serializer cannot carry is not an input
        return None


def assert_decoded(items):
    """
    Every decoded item is a message, a described failure, or an answerable bad-URI request.
    """
    assert isinstance(items, list) and items
    for item in items:
        assert isinstance(item, (Message, Malformed, InvalidUriRequest)), item


# -- the decoder -----------------------------------------------------------------------------------------------------


@FUZZ
@given(name=st.sampled_from(sorted(SERIALIZERS)), payload=st.binary(max_size=256),
       is_binary=st.sampled_from([None, True, False]))
def test_decoder_never_raises_on_random_bytes(name, payload, is_binary):
    """Random bytes decode to messages or Malformed for every serializer and frame kind, never to an exception."""
    assert_decoded(decode(SERIALIZERS[name](), payload, is_binary))


@FUZZ
@given(name=st.sampled_from(sorted(SERIALIZERS)), message=st.one_of(wamp_messages, mutated(), values),
       data=st.data())
def test_decoder_never_raises_on_mutated_messages(name, message, data):
    """Well-formed, mutated and arbitrary structures, encoded and then corrupted byte-wise, never make the decoder raise."""
    serializer = SERIALIZERS[name]()
    payload = serialize(serializer, message)
    assume(payload is not None)
    assert_decoded(decode(serializer, payload))
    # the same bytes truncated and with one octet changed
    cut = data.draw(st.integers(0, len(payload)))
    assert_decoded(decode(serializer, payload[:cut]))
    if payload:
        at = data.draw(st.integers(0, len(payload) - 1))
        flipped = payload[:at] + bytes([payload[at] ^ data.draw(st.integers(1, 255))]) + payload[at + 1:]
        assert_decoded(decode(serializer, flipped))


# -- the session machine ---------------------------------------------------------------------------------------------

#: what the fuzzed sessions hold when an example starts
SEEDS = (
    [64, 1, {}, "com.example.a"],
    [64, 1, {"match": "prefix"}, "com.example"],
    [32, 1, {"match": "prefix"}, "com.example"],
)

ALL_FEATURES = {name: {"features": {feature: True for feature in FEATURES}}
                for name in ("publisher", "subscriber", "caller", "callee")}


class Harness:
    """
    A router with fuzzed sessions on it and a control publisher/subscriber pair on ``realm1``.
    """

    def __init__(self, fuzzed: int = 3) -> None:
        self.clock = Clock()
        self.router = Router(
            RouterOptions(realms={
                "realm1": RealmOptions(history=(HistoryRule("com.", "prefix", 5),)),
                "realm2": RealmOptions(strict_uri=True, disclose_publisher=True, disclose_caller=True),
            }),
            clock=self.clock,
        )
        self.router.emit = lambda deliveries: None
        self.machines = [self.join() for _ in range(fuzzed)]
        # something to call and to publish to from the start: calls then reach a callee, which the
        # fuzzed YIELDs and ERRORs answer (invocation request ids count from 1)
        for machine, raw in zip(self.machines, SEEDS):
            out = machine.receive(decoded(raw))
            assert out and type(out[0][1]).__name__ in ("Registered", "Subscribed"), out
        self.publisher = self.join()
        self.subscriber = self.join()
        out = self.subscriber.receive(decoded([32, 1, {}, "control.topic"]))
        assert out and type(out[0][1]).__name__ == "Subscribed", out
        self.control_requests = 100
        #: the last message delivered to each fuzzed machine, for the undeliverable path
        self.last_sent = {}
        #: the request id of the last INVOCATION each fuzzed machine got, for answers to it
        self.last_invocation = {}

    def join(self) -> SessionMachine:
        machine = SessionMachine(self.router, link=object())
        out = machine.receive(decoded([1, "realm1", {"roles": ALL_FEATURES}]))
        assert machine.state is State.ESTABLISHED, out
        return machine

    def feed(self, index: int, serializer, payload: bytes) -> None:
        """
        Decode ``payload`` and hand it to fuzzed machine ``index`` the way the transport layer does.
        """
        machine = self.machines[index]
        for item in decode(serializer, payload):
            self.route(machine.receive(item))
            if machine.close_transport:
                self.lose(index, rejoin=True)
                return

    def route(self, deliveries) -> None:
        for peer, msg in deliveries:
            for machine in self.machines:
                if peer.machine is machine:
                    self.last_sent[id(machine)] = msg
                    if "Invocation" in type(msg).__name__:
                        self.last_invocation[id(machine)] = msg.request

    def answer(self, index: int, serializer, head: list, a, kw) -> None:
        """
        Answer the last INVOCATION one of the machines that got one got (the ``index``-th of them)
        with ``head`` (YIELD or ERROR, request id filled in) and a fuzzed payload.
        """
        callees = [i for i, machine in enumerate(self.machines) if id(machine) in self.last_invocation]
        if not callees:
            return
        index = callees[index % len(callees)]
        request = self.last_invocation.pop(id(self.machines[index]))
        raw = [request if item is REQUEST else item for item in head]
        payload = serialize(serializer, _with_payload(raw, a, kw))
        if payload is not None:
            self.feed(index, serializer, payload)

    def lose(self, index: int, rejoin: bool = False) -> None:
        """
        The transport of machine ``index`` goes away; a fresh transport takes its place, joined to
        ``realm1`` with ``rejoin`` (as a reconnecting client does), else without a session yet.
        """
        self.route(self.machines[index].transport_lost())
        self.last_invocation.pop(id(self.machines[index]), None)
        self.machines[index] = self.join() if rejoin else SessionMachine(self.router, link=object())

    def undeliverable(self, index: int) -> None:
        machine = self.machines[index]
        msg = self.last_sent.pop(id(machine), None)
        if msg is not None:
            self.route(machine.undeliverable(msg))

    def assert_control_routes(self) -> None:
        """
        The control publisher's acknowledged publication reaches the control subscriber.
        """
        self.control_requests += 1
        n = self.control_requests
        out = self.publisher.receive(decoded([16, n, {"acknowledge": True}, "control.topic", [n]]))
        events = [msg for peer, msg in out if peer is self.subscriber.peer and isinstance(msg, Event)]
        acks = [msg for peer, msg in out if peer is self.publisher.peer and isinstance(msg, Published)]
        assert [event.args for event in events] == [[n]], out
        assert [ack.request for ack in acks] == [n], out
        assert self.publisher.state is State.ESTABLISHED and self.subscriber.state is State.ESTABLISHED

    def assert_nothing_left(self) -> None:
        """
        Once every transport is gone, no session, subscription, registration or call timer remains.
        """
        for index in range(len(self.machines)):
            self.lose(index)
        self.route(self.publisher.transport_lost())
        self.route(self.subscriber.transport_lost())
        assert self.router.sessions == {}
        for realm in self.router.realms.values():
            assert realm.peers == {}, realm.name
            assert list(realm.broker.subscriptions()) == [], realm.name
            assert list(realm.dealer.registrations()) == [], realm.name
        assert [call for call in self.clock.getDelayedCalls() if call.active()] == []


#: one step of a fuzzed session: send an input, advance the clock, lose the transport, or fail a delivery
#: stands for the request id of the INVOCATION being answered
REQUEST = object()
answers = st.one_of(
    st.builds(lambda opts: [70, REQUEST, opts], options),
    st.builds(lambda uri: [8, 68, REQUEST, {}, uri], uris),
)
fuzzed_answer = st.tuples(st.just("answer"), st.integers(0, 2), st.sampled_from(sorted(SERIALIZERS)), answers,
                          args, kwargs)
fuzzed_input = st.tuples(st.just("input"), st.integers(0, 2), st.sampled_from(sorted(SERIALIZERS)), inputs)
steps = weighted(
    (12, fuzzed_input),
    (3, fuzzed_answer),
    (1, st.tuples(st.just("clock"), st.floats(0, 5))),
    (1, st.tuples(st.just("lose"), st.integers(0, 2), st.booleans())),
    (1, st.tuples(st.just("undeliverable"), st.integers(0, 2))),
)


@FUZZ
@given(script=st.lists(steps, min_size=5, max_size=25))
def test_session_machine_survives_fuzzed_sessions(script):
    """Random and mutated messages on three sessions raise nothing, leave no state behind and never disturb a control pair."""
    harness = Harness()
    for step in script:
        kind = step[0]
        if kind == "input":
            _, index, name, (form, content) = step
            serializer = SERIALIZERS[name]()
            payload = content if form == "bytes" else serialize(serializer, content)
            if payload is None:
                continue
            harness.feed(index, serializer, payload)
        elif kind == "answer":
            _, index, name, head, a, kw = step
            harness.answer(index, SERIALIZERS[name](), head, a, kw)
        elif kind == "clock":
            harness.clock.advance(step[1])
        elif kind == "lose":
            harness.lose(step[1], rejoin=step[2])
        else:
            harness.undeliverable(step[1])
        harness.assert_control_routes()
    harness.assert_nothing_left()


# -- RawSocket framing -----------------------------------------------------------------------------------------------


@st.composite
def rawsocket_streams(draw):
    """
    What a RawSocket client might send: a valid, broken or missing handshake, then frames with any type
    bits and true or false lengths, carrying messages or noise.
    """
    name = draw(st.sampled_from(sorted(SERIALIZERS)))
    serializer = SERIALIZERS[name]()
    handshake = draw(st.one_of(
        st.just(bytes([0x7F, 0xF0 | RAW_SERIALIZER_IDS[name], 0, 0])),
        st.binary(min_size=4, max_size=4),
        st.builds(lambda b, r: bytes([0x7F, b]) + r, st.integers(0, 255), st.binary(min_size=2, max_size=2)),
    ))
    stream = handshake
    if draw(st.booleans()):
        stream += _frame(0, serialize(serializer, [1, "realm1", {"roles": ALL_FEATURES}]))
    for _ in range(draw(st.integers(0, 6))):
        message = draw(st.one_of(wamp_messages, mutated()))
        payload = draw(st.one_of(st.binary(max_size=32), st.just(serialize(serializer, message) or b"")))
        frame_type = draw(st.sampled_from([0, 0, 0, 1, 2, 3, 7, 8, 15]))
        length = draw(st.one_of(st.just(len(payload)), st.integers(0, 2**24 - 1)))
        stream += struct.pack("!I", (frame_type << 24) | length) + payload
    stream += draw(st.binary(max_size=8))
    # cut into the pieces TCP might deliver
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    return [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]


def _frame(frame_type, payload):
    return struct.pack("!I", (frame_type << 24) | len(payload)) + payload


@FUZZ
@given(chunks=rawsocket_streams())
def test_rawsocket_framing_survives_random_streams(chunks):
    """Random handshakes, frames and chunkings fed to the RawSocket protocol raise nothing and leave no session behind."""
    clock = Clock()
    router = Router(clock=clock)
    factory = rawsocket_factory(SessionFactory(router, clock), sorted(SERIALIZERS), 64 * 1024, reactor=clock)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    for chunk in chunks:
        protocol.dataReceived(chunk)
    clock.advance(60)  # handshake and close deadlines
    protocol.connectionLost(Failure(ConnectionDone()))
    assert router.sessions == {}
    assert router.realms["realm1"].peers == {}
    assert [call for call in clock.getDelayedCalls() if call.active()] == []
