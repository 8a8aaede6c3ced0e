"""
Payload passthru mode on the wire: no client library sends ``ppt_*`` options, so hand-rolled
clients speak them and check the router relays options and binary payloads untouched.
"""

import pytest
import pytest_twisted

from tests.integration.test_bad_input import (
    CALL,
    ERROR,
    EVENT,
    INVOCATION,
    PUBLISH,
    RAW_TRANSPORTS,
    REGISTER,
    REGISTERED,
    RESULT,
    SUBSCRIBE,
    SUBSCRIBED,
    YIELD,
    hang_up_all,
    open_client,
)
from tests.integration.test_raw_advanced import join_with

PPT = {"ppt_scheme": "x_custom", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "k1"}
PAYLOAD = b"\x00\x01\xfe\xff opaque"
ALL_ROLES = ("caller", "callee", "publisher", "subscriber")


@pytest.fixture(autouse=True)
def _hang_up_clients(router):
    """
    Hand-rolled clients left open by a failed assertion are closed before the router stops.
    """
    yield
    pytest_twisted.blockon(hang_up_all())


def roles(passthru: bool) -> dict:
    features = {"payload_passthru_mode": True} if passthru else {}
    return {name: {"features": dict(features)} for name in ALL_ROLES}


def details_ppt(details: dict) -> dict:
    return {key: details[key] for key in PPT if key in details}


@pytest.mark.parametrize("serializer", ["msgpack", "cbor"])
@pytest.mark.parametrize("transport", RAW_TRANSPORTS)
@pytest_twisted.inlineCallbacks
def test_rpc_and_pubsub_relay_ppt(router, transport, serializer):
    """CALL/YIELD/ERROR/PUBLISH ppt_* options and binary payloads arrive untouched in INVOCATION/RESULT/ERROR/EVENT."""
    callee = yield open_client(router, transport, serializer)
    yield join_with(callee, roles(True))
    callee.send([REGISTER, 1, {}, "com.secret"])
    assert (yield callee.next_message())[0] == REGISTERED
    callee.send([SUBSCRIBE, 2, {}, "com.secret.topic"])
    assert (yield callee.next_message())[0] == SUBSCRIBED
    caller = yield open_client(router, transport, serializer)
    yield join_with(caller, roles(True))

    caller.send([CALL, 1, PPT, "com.secret", [PAYLOAD]])
    invocation = yield callee.next_message()
    assert invocation[0] == INVOCATION and details_ppt(invocation[3]) == PPT and invocation[4] == [PAYLOAD]
    callee.send([YIELD, invocation[1], PPT, [PAYLOAD[::-1]]])
    result = yield caller.next_message()
    assert result[0] == RESULT and details_ppt(result[2]) == PPT and result[3] == [PAYLOAD[::-1]]

    caller.send([CALL, 2, PPT, "com.secret", [PAYLOAD]])
    invocation = yield callee.next_message()
    callee.send([ERROR, INVOCATION, invocation[1], PPT, "com.secret.failed", [PAYLOAD]])
    error = yield caller.next_message()
    assert error[:3] == [ERROR, CALL, 2] and details_ppt(error[3]) == PPT and error[5] == [PAYLOAD]

    caller.send([PUBLISH, 3, PPT, "com.secret.topic", [PAYLOAD]])
    event = yield callee.next_message()
    assert event[0] == EVENT and details_ppt(event[3]) == PPT and event[4] == [PAYLOAD]


@pytest_twisted.inlineCallbacks
def test_callee_without_feature_is_not_invoked(router):
    """A ppt CALL routed to a callee that did not announce the feature gets ERROR feature_not_supported."""
    callee = yield open_client(router, "rawsocket-tcp", "msgpack")
    yield join_with(callee, roles(False))
    callee.send([REGISTER, 1, {}, "com.plain"])
    assert (yield callee.next_message())[0] == REGISTERED
    caller = yield open_client(router, "rawsocket-tcp", "msgpack")
    yield join_with(caller, roles(True))
    caller.send([CALL, 1, PPT, "com.plain", [PAYLOAD]])
    error = yield caller.next_message()
    assert error[:3] == [ERROR, CALL, 1] and error[4] == "wamp.error.feature_not_supported"


@pytest_twisted.inlineCallbacks
def test_sender_without_feature_is_aborted(router):
    """A PUBLISH with ppt_* from a session that did not announce the feature ends it with protocol_violation."""
    client = yield open_client(router, "websocket", "msgpack")
    yield join_with(client, roles(False))
    client.send([PUBLISH, 1, PPT, "com.secret.topic", [PAYLOAD]])
    abort = yield client.next_message()
    assert abort[0] == 3 and abort[2] == "wamp.error.protocol_violation"
