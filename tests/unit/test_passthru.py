"""
Payload passthru mode: ppt_* options relayed untouched, refusals per the spec (no sockets).
"""

from autobahn.wamp.message import Abort, Error, Invocation, Register, Subscribe

from router.core import Router
from tests.unit.helpers import decoded, joined, joined_with_features

PPT = {"ppt_scheme": "x_custom", "ppt_serializer": "cbor", "ppt_cipher": "xsalsa20poly1305", "ppt_keyid": "k1"}


def ppt_peers(router):
    return joined_with_features(router, payload_passthru_mode=True), joined_with_features(router, payload_passthru_mode=True)


def test_call_yield_relay_ppt_and_binary_payload():
    """CALL and YIELD ppt_* options reach INVOCATION and RESULT details; the binary argument passes as is."""
    router = Router()
    caller, callee = ppt_peers(router)
    callee.receive(Register(1, "com.p"))
    (_, invocation), = caller.receive(decoded([48, 1, PPT, "com.p", ["\x00AAEC"]]))
    raw = invocation.marshal()
    assert {k: raw[3][k] for k in PPT} == PPT and raw[4] == [b"\x00\x01\x02"]
    (_, result), = callee.receive(decoded([70, invocation.request, PPT, ["\x00AAEC"]]))
    raw = result.marshal()
    assert raw[2] == PPT and raw[3] == [b"\x00\x01\x02"]


def test_callee_error_relays_ppt():
    """A callee ERROR with ppt_* options reaches the caller with them."""
    router = Router()
    caller, callee = ppt_peers(router)
    callee.receive(Register(1, "com.p"))
    (_, invocation), = caller.receive(decoded([48, 1, PPT, "com.p", ["\x00AA=="]]))
    (_, error), = callee.receive(decoded([8, 68, invocation.request, PPT, "com.err", ["\x00AA=="]]))
    assert isinstance(error, Error) and error.marshal()[3] == PPT


def test_publish_relays_ppt():
    """PUBLISH ppt_* options reach EVENT details."""
    router = Router()
    publisher, subscriber = ppt_peers(router)
    subscriber.receive(Subscribe(1, "com.t"))
    (_, event), = publisher.receive(decoded([16, 1, PPT, "com.t", ["\x00AA=="]]))
    assert {k: event.marshal()[3][k] for k in PPT} == PPT


def test_unannounced_sender_is_a_protocol_violation():
    """Using ppt without announcing payload_passthru_mode ends the session with protocol_violation."""
    router = Router()
    plain = joined(router)
    (_, abort), = plain.receive(decoded([16, 1, PPT, "com.t", ["\x00AA=="]]))
    assert isinstance(abort, Abort) and abort.reason == "wamp.error.protocol_violation"


def test_callee_without_feature_gets_nothing_and_caller_feature_not_supported():
    """A ppt CALL to a callee that did not announce the feature gets ERROR feature_not_supported."""
    router = Router()
    caller = joined_with_features(router, payload_passthru_mode=True)
    callee = joined(router)
    callee.receive(Register(1, "com.p"))
    (peer, error), = caller.receive(decoded([48, 1, PPT, "com.p", ["\x00AA=="]]))
    assert peer is caller.peer and error.error == "wamp.error.feature_not_supported"


def test_caller_without_feature_ends_call_for_both():
    """A ppt YIELD for a caller that did not announce the feature: both get feature_not_supported."""
    router = Router()
    caller = joined(router)
    callee = joined_with_features(router, payload_passthru_mode=True)
    callee.receive(Register(1, "com.p"))
    (_, invocation), = caller.receive(decoded([48, 1, {}, "com.p"]))
    assert isinstance(invocation, Invocation)
    out = callee.receive(decoded([70, invocation.request, PPT, ["\x00AA=="]]))
    assert {peer: msg.error for peer, msg in out} == {
        callee.peer: "wamp.error.feature_not_supported", caller.peer: "wamp.error.feature_not_supported"}
