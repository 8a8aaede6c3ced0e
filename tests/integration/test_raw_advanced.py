"""
Advanced Profile features no client library sends, spoken on the wire: progressive call invocations
(a caller streaming one call in several CALL messages) and what WELCOME announces.

The peers are the hand-rolled RawSocket and WebSocket clients of ``test_bad_input``, so each test
decides every message the router sees and checks every message it sends back.
"""

import pytest
import pytest_twisted
from twisted.internet import defer

from router.core import AGENT
from router.features import BROKER_FEATURES, DEALER_FEATURES
from tests.integration.test_bad_input import (
    CALL,
    ERROR,
    HELLO,
    INVOCATION,
    RAW_TRANSPORTS,
    REGISTER,
    REGISTERED,
    RESULT,
    SERIALIZERS,
    WELCOME,
    YIELD,
    hang_up_all,
    open_client,
)
from tests.support import sleep

FEATURE_NOT_SUPPORTED = "wamp.error.feature_not_supported"

#: how long a negative check waits for a message that must not come
QUIET_PERIOD = 0.2

PROCEDURE = "com.example.stream"


@pytest.fixture(autouse=True)
def _hang_up_clients(router):
    """
    Hand-rolled clients left open by a failed assertion are closed before the router stops.
    """
    yield
    pytest_twisted.blockon(hang_up_all())


def roles(role, **features):
    """
    HELLO ``roles`` announcing ``role`` with ``features`` (and the other three roles without any).
    """
    announced = {name: {} for name in ("caller", "callee", "publisher", "subscriber")}
    announced[role] = {"features": features}
    return announced


@defer.inlineCallbacks
def join_with(client, hello_roles, realm="realm1"):
    """
    Join ``realm`` announcing ``hello_roles``; returns the WELCOME.
    """
    client.send([HELLO, realm, {"roles": hello_roles}])
    welcome = yield client.next_message()
    assert welcome[0] == WELCOME, f"expected WELCOME, got {welcome!r}"
    return welcome


@defer.inlineCallbacks
def callee_and_caller(router, transport, callee_features):
    """
    A callee announcing ``callee_features`` with :data:`PROCEDURE` registered, and a caller announcing
    ``progressive_call_invocations``; returns (callee, caller, registration id).
    """
    callee = yield open_client(router, transport)
    yield join_with(callee, roles("callee", **callee_features))
    callee.send([REGISTER, 1, {}, PROCEDURE])
    registered = yield callee.next_message()
    assert registered[:2] == [REGISTERED, 1], f"expected REGISTERED, got {registered!r}"
    caller = yield open_client(router, transport)
    yield join_with(caller, roles("caller", progressive_call_invocations=True))
    return callee, caller, registered[2]


@defer.inlineCallbacks
def assert_quiet(*clients):
    """
    Nothing more arrives at any of ``clients`` within :data:`QUIET_PERIOD`.
    """
    yield sleep(QUIET_PERIOD)
    for client in clients:
        assert client.pending_messages() == [], f"unexpected messages: {client.pending_messages()!r}"


@defer.inlineCallbacks
def stream_call(callee, caller, registration_id):
    """
    Send one call in three CALL chunks (progress, progress, final) and check each reaches the callee as
    an INVOCATION of one request id with ``progress`` true, true, absent; the callee's YIELD then
    reaches the caller as its RESULT.
    """
    chunks = [({"progress": True}, 1), ({"progress": True}, 2), ({}, 3)]
    invocations = []
    for options, value in chunks:
        caller.send([CALL, 1, options, PROCEDURE, [value]])
        invocation = yield callee.next_message()
        assert invocation[0] == INVOCATION, f"expected INVOCATION for chunk {value}, got {invocation!r}"
        invocations.append(invocation)
    request = invocations[0][1]
    assert [inv[1] for inv in invocations] == [request] * 3, "chunks of one call went to different invocations"
    assert [inv[2] for inv in invocations] == [registration_id] * 3
    assert [inv[3].get("progress") for inv in invocations] == [True, True, None]
    assert [inv[4] for inv in invocations] == [[1], [2], [3]]
    assert caller.pending_messages() == [], "the caller was answered before the callee yielded"

    callee.send([YIELD, request, {}, [6]])
    result = yield caller.next_message()
    assert result == [RESULT, 1, {}, [6]]
    yield assert_quiet(callee, caller)


# -- progressive call invocations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_chunks_reach_one_invocation_and_the_yield_answers_the_call(router, transport):
    """Three CALL chunks become INVOCATIONs of one request id (progress true, true, absent); the YIELD becomes the RESULT."""
    callee, caller, registration_id = yield callee_and_caller(
        router, transport, {"progressive_call_invocations": True})
    yield stream_call(callee, caller, registration_id)


@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_callee_without_the_feature_gets_no_progressive_call(router, transport):
    """A progressive CALL to a callee without the feature gets ERROR feature_not_supported and never reaches it."""
    callee, caller, registration_id = yield callee_and_caller(router, transport, {"progressive_call_results": True})
    caller.send([CALL, 1, {"progress": True}, PROCEDURE, [1]])
    error = yield caller.next_message()
    assert error[:3] == [ERROR, CALL, 1], f"expected ERROR for CALL 1, got {error!r}"
    assert error[4] == FEATURE_NOT_SUPPORTED
    yield assert_quiet(callee, caller)

    # the refusal ends nothing: a plain call with a new request id goes through
    caller.send([CALL, 2, {}, PROCEDURE, [7]])
    invocation = yield callee.next_message()
    assert invocation[0] == INVOCATION and invocation[2] == registration_id
    assert "progress" not in invocation[3]
    assert invocation[4] == [7]
    callee.send([YIELD, invocation[1], {}, [8]])
    result = yield caller.next_message()
    assert result == [RESULT, 2, {}, [8]]


@pytest_twisted.inlineCallbacks
def test_progressive_calls_spelling_is_accepted(router):
    """A callee announcing the feature as ``progressive_calls`` (an older spelling) gets progressive call invocations."""
    callee, caller, registration_id = yield callee_and_caller(router, "websocket", {"progressive_calls": True})
    yield stream_call(callee, caller, registration_id)


# -- WELCOME ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("transport", ("websocket", "rawsocket-tcp"))
@pytest_twisted.inlineCallbacks
def test_welcome_announces_the_features_and_agent(router, transport, serializer):
    """WELCOME.Details.roles lists exactly the broker and dealer features of router.features, and agent names wampd."""
    client = yield open_client(router, transport, serializer)
    welcome = yield join_with(client, roles("caller"))
    details = welcome[2]
    assert details["roles"] == {
        "broker": {"features": BROKER_FEATURES},
        "dealer": {"features": DEALER_FEATURES},
    }
    assert details["agent"].startswith("wampd")
    assert details["agent"] == AGENT
