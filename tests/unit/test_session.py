"""
The session machine: handshake, GOODBYE, ABORT and protocol violations (no sockets, no reactor).
"""

import pytest
from autobahn.wamp.message import (
    Abort,
    Authenticate,
    Call,
    Error,
    Goodbye,
    Publish,
    Subscribe,
    Welcome,
    Yield,
)

from autobahn.wamp.role import RoleBrokerFeatures

from router.codec import InvalidUriRequest, Malformed, Oversized
from router.core import RealmOptions, Router, RouterOptions
from router.features import BROKER_FEATURES, DEALER_FEATURES
from router.session import SessionMachine, State
from tests.unit.helpers import hello, joined


def only(deliveries):
    """
    The single message of ``deliveries``.
    """
    assert len(deliveries) == 1, deliveries
    return deliveries[0][1]


class TestHandshake:
    def test_welcome_carries_roles_features_identity_and_agent(self):
        """WELCOME announces broker and dealer with the implemented features, authid/authrole/authmethod/authprovider and the agent."""
        machine = SessionMachine(Router())
        welcome = only(machine.receive(hello()))
        assert isinstance(welcome, Welcome)
        raw = welcome.marshal()
        details = raw[2]
        assert details["roles"]["broker"]["features"] == BROKER_FEATURES
        assert set(details["roles"]) == {"broker", "dealer"}
        assert details["roles"]["dealer"].get("features", {}) == DEALER_FEATURES
        assert details["authrole"] == "anonymous"
        assert details["authmethod"] == "anonymous"
        assert details["authprovider"] == "static"
        assert details["authid"]
        assert details["agent"].startswith("wampd")
        assert machine.state is State.ESTABLISHED
        assert 1 <= raw[1] <= 2**53

    def test_unknown_realm_is_refused(self):
        """HELLO for a realm the router does not have gets ABORT no_such_realm and the transport stays usable."""
        machine = SessionMachine(Router())
        abort = only(machine.receive(hello("nowhere")))
        assert isinstance(abort, Abort)
        assert abort.reason == "wamp.error.no_such_realm"
        assert not machine.close_transport
        assert isinstance(only(machine.receive(hello())), Welcome)

    def test_auto_create_realms(self):
        """With auto_create_realms an unknown realm is created on first use."""
        router = Router(RouterOptions(realms={}, auto_create_realms=True))
        machine = SessionMachine(router)
        assert isinstance(only(machine.receive(hello("fresh"))), Welcome)
        assert "fresh" in router.realms

    def test_unsupported_authmethods_are_refused(self):
        """A HELLO offering only authentication methods the router does not accept gets no_matching_auth_method."""
        machine = SessionMachine(Router())
        abort = only(machine.receive(hello(authmethods=["ticket"])))
        assert abort.reason == "wamp.error.no_matching_auth_method"

    def test_session_ids_are_unique_and_registered(self):
        """Each established session gets its own id, recorded in the router's session table."""
        router = Router()
        machines = [joined(router) for _ in range(20)]
        ids = {m.peer.session_id for m in machines}
        assert len(ids) == 20
        assert set(router.sessions) == ids


class TestClosing:
    def test_goodbye_is_echoed_and_transport_can_carry_a_new_session(self):
        """GOODBYE is answered with goodbye_and_out; the machine then accepts a new HELLO."""
        router = Router()
        machine = joined(router)
        old = machine.peer.session_id
        reply = only(machine.receive(Goodbye("wamp.close.normal")))
        assert isinstance(reply, Goodbye)
        assert reply.reason == "wamp.close.goodbye_and_out"
        assert machine.state is State.IDLE
        assert old not in router.sessions
        assert isinstance(only(machine.receive(hello())), Welcome)

    def test_router_goodbye_waits_for_reply(self):
        """A router-initiated GOODBYE leaves the realm at once; the peer's GOODBYE reply is not answered."""
        router = Router()
        machine = joined(router)
        out = machine.goodbye("wamp.close.system_shutdown")
        assert only(out).reason == "wamp.close.system_shutdown"
        assert machine.state is State.CLOSING
        assert router.sessions == {}
        assert machine.receive(Publish(1, "com.late")) == []
        assert machine.receive(Goodbye("wamp.close.goodbye_and_out")) == []
        assert machine.state is State.IDLE

    def test_transport_loss_leaves_the_realm(self):
        """When the transport goes away the session leaves and its subscriptions are freed."""
        router = Router()
        machine = joined(router)
        machine.receive(Subscribe(1, "com.topic"))
        realm = router.realms["realm1"]
        assert realm.broker._by_id
        machine.transport_lost()
        assert router.sessions == {}
        assert realm.broker._by_id == {}


class TestProtocolViolations:
    @pytest.mark.parametrize(
        "message",
        [
            Subscribe(1, "com.topic"),
            Goodbye("wamp.close.normal"),
            Error(68, 1, "com.error"),
            Authenticate("sig"),
            Malformed("undecodable json payload"),
        ],
        ids=["subscribe", "goodbye", "error", "authenticate", "malformed"],
    )
    def test_before_hello(self, message):
        """Anything but HELLO (or ABORT) before a session exists ends in ABORT protocol_violation and a closed transport."""
        machine = SessionMachine(Router())
        abort = only(machine.receive(message))
        assert isinstance(abort, Abort)
        assert abort.reason == "wamp.error.protocol_violation"
        assert machine.close_transport
        assert machine.state is State.FAILED

    @pytest.mark.parametrize(
        "message",
        [
            hello(),
            Welcome(1, {"broker": RoleBrokerFeatures()}),
            Error(48, 1, "com.error"),
            Yield(99),
            Malformed("unknown WAMP message type 99"),
        ],
        ids=["second-hello", "welcome", "error-for-call", "yield-never-sent", "malformed"],
    )
    def test_after_establishment(self, message):
        """A message a client may not send on an established session ends it with ABORT protocol_violation."""
        router = Router()
        machine = joined(router)
        abort = only(machine.receive(message))
        assert isinstance(abort, Abort)
        assert abort.reason == "wamp.error.protocol_violation"
        assert machine.close_transport
        assert router.sessions == {}

    def test_input_after_abort_is_ignored(self):
        """After the router has aborted, later input produces nothing."""
        machine = joined(Router())
        machine.receive(Malformed("bad"))
        assert machine.receive(Publish(1, "com.topic", acknowledge=True)) == []
        assert machine.receive(hello()) == []

    def test_oversized_message_aborts_with_payload_size_exceeded(self):
        """An oversized message ends the session with ABORT payload_size_exceeded."""
        machine = joined(Router())
        abort = only(machine.receive(Oversized(2_000_000, 1_048_576)))
        assert abort.reason == "wamp.error.payload_size_exceeded"
        assert machine.close_transport

    def test_invalid_uri_request_gets_error_and_session_survives(self):
        """A request with an invalid URI is answered with ERROR invalid_uri; the session stays established."""
        machine = joined(Router())
        error = only(machine.receive(InvalidUriRequest(Call.MESSAGE_TYPE, 7, "a b", "bad")))
        assert isinstance(error, Error)
        assert (error.request_type, error.request, error.error) == (48, 7, "wamp.error.invalid_uri")
        assert machine.state is State.ESTABLISHED


class TestStrictUris:
    def test_strict_realm_refuses_uppercase_topics(self):
        """A realm with strict_uri refuses topic components outside [0-9a-z_]; a loose realm accepts them."""
        router = Router(RouterOptions(realms={"strict": RealmOptions(strict_uri=True), "loose": RealmOptions()}))
        strict = joined(router, "strict")
        loose = joined(router, "loose")
        assert only(strict.receive(Subscribe(1, "com.Example"))).error == "wamp.error.invalid_uri"
        assert type(only(loose.receive(Subscribe(1, "com.Example")))).__name__ == "Subscribed"


class TestFeatureSpellings:
    def test_known_spelling_variants_are_accepted(self):
        """call_cancelling and progressive_calls in HELLO count as call_canceling and progressive_call_invocations."""
        from tests.unit.helpers import joined_with_features

        machine = joined_with_features(Router(), call_cancelling=True, progressive_calls=True)
        assert machine.peer.has_feature("callee", "call_canceling")
        assert machine.peer.has_feature("callee", "progressive_call_invocations")
