"""
The shared decoder: every payload becomes messages or a described failure, never an exception.
"""

import pytest
from autobahn.wamp.message import Subscribe
from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer

from router.codec import InvalidUriRequest, Malformed, decode


def test_valid_message():
    """A well-formed SUBSCRIBE decodes to an Autobahn message."""
    (msg,) = decode(JsonSerializer(), b'[32, 1, {}, "com.topic"]', False)
    assert isinstance(msg, Subscribe) and msg.topic == "com.topic"


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"{not json", "undecodable"),
        (b'{"a": 1}', "non-empty array"),
        (b"[]", "non-empty array"),
        (b'["x"]', "must be an integer"),
        (b"[99]", "unknown WAMP message type 99"),
        (b'[32, "one", {}, "com.topic"]', ""),
        (b"[32, 1, {}]", ""),
        (b'[32, 1, {}, 5]', ""),
    ],
)
def test_malformed_payloads(payload, reason):
    """Undecodable or ill-shaped payloads become Malformed with a reason."""
    (item,) = decode(JsonSerializer(), payload, False)
    assert isinstance(item, Malformed)
    assert reason in item.reason


def test_invalid_uri_is_answerable():
    """A request well-formed but for its URI decodes to InvalidUriRequest keeping type and request id."""
    (item,) = decode(JsonSerializer(), b'[48, 12, {}, "com. bad"]', False)
    assert isinstance(item, InvalidUriRequest)
    assert (item.MESSAGE_TYPE, item.request) == (48, 12)


def test_frame_kind_must_match_serializer():
    """A binary frame on a JSON transport (or text on msgpack) is malformed."""
    (item,) = decode(JsonSerializer(), b'[32, 1, {}, "com.topic"]', True)
    assert isinstance(item, Malformed)
    (item,) = decode(MsgPackSerializer(), b"\x93\x20\x01\x80", False)
    assert isinstance(item, Malformed)


def test_unacknowledged_publish_with_bad_uri_expects_no_answer():
    """An invalid-URI PUBLISH without acknowledge is marked as needing no reply; with acknowledge it needs one."""
    (plain,) = decode(JsonSerializer(), b'[16, 3, {}, "a..b"]', False)
    (acked,) = decode(JsonSerializer(), b'[16, 4, {"acknowledge": true}, "a..b"]', False)
    assert isinstance(plain, InvalidUriRequest) and plain.answer is False
    assert acked.answer is True
