"""
Turning received bytes into WAMP messages without raising: the transports' shared decoder.

Whatever a client sends, :func:`decode` returns a list of items for the session machine: parsed
Autobahn messages, :class:`Malformed` for anything undecodable or ill-shaped, and
:class:`InvalidUriRequest` for a well-formed request whose URI is invalid (answered with ERROR
``wamp.error.invalid_uri`` instead of ending the session).
"""

from typing import Any

from autobahn.wamp.exception import InvalidUriError, ProtocolError
from autobahn.wamp.interfaces import ISerializer
from autobahn.wamp.message import Call, Cancel, Error, Hello, Publish, Register, Subscribe, Yield

from router.ids import MAX_ID

#: requests whose element 3 is a URI the router must answer with ERROR invalid_uri when bad
_URI_REQUESTS = {cls.MESSAGE_TYPE: cls for cls in (Publish, Subscribe, Call, Register)}
#: client messages whose element 2 is an options or details dict
_WITH_OPTIONS = {cls.MESSAGE_TYPE for cls in (Hello, Publish, Subscribe, Call, Register, Yield, Cancel)}


class Malformed:
    """
    A payload that could not be decoded into a valid WAMP message.
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return "Malformed({!r})".format(self.reason)


class Oversized:
    """
    A message larger than the transport accepts.
    """

    __slots__ = ("size", "limit")

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit


class InvalidUriRequest:
    """
    A PUBLISH, SUBSCRIBE, CALL or REGISTER that is well-formed except for its URI.
    """

    __slots__ = ("MESSAGE_TYPE", "request", "uri", "reason", "answer")

    def __init__(self, message_type: int, request: int, uri: str, reason: str, answer: bool = True) -> None:
        self.MESSAGE_TYPE = message_type
        self.request = request
        self.uri = uri
        self.reason = reason
        #: whether the peer expects a reply (false for a PUBLISH without ``acknowledge``)
        self.answer = answer


Decoded = Any  # a Message, Malformed, Oversized or InvalidUriRequest


def decode(serializer: ISerializer, payload: bytes, is_binary: bool | None = None) -> list[Decoded]:
    """
    Decode one transport payload (one or, in batched mode, several WAMP messages).

    :param serializer: The transport's Autobahn WAMP serializer.
    :param payload: The received bytes.
    :param is_binary: For WebSocket, whether the frame was binary; ``None`` where not applicable.
    """
    # the object serializer inside Autobahn's WAMP serializer gives us the raw lists, so a bad URI can
    # be answered per request instead of failing the whole transport
    objects = serializer._serializer
    if is_binary is not None and is_binary != objects.BINARY:
        kind = "binary" if is_binary else "text"
        return [Malformed("{} frame on a {} transport".format(kind, serializer.SERIALIZER_ID))]
    try:
        raw_messages = objects.unserialize(payload)
    except Exception as e:
        return [Malformed("undecodable {} payload: {}".format(serializer.SERIALIZER_ID, type(e).__name__))]
    return [_parse(raw, serializer.MESSAGE_TYPE_MAP) for raw in raw_messages]


def _parse(raw: Any, message_types: dict[int, Any]) -> Decoded:
    if type(raw) is not list or not raw:
        return Malformed("a WAMP message must be a non-empty array")
    message_type = raw[0]
    if type(message_type) is not int:
        return Malformed("the WAMP message type must be an integer")
    klass = message_types.get(message_type)
    if klass is None:
        return Malformed("unknown WAMP message type {}".format(message_type))
    try:
        msg = klass.parse(raw)
    except InvalidUriError as e:
        if (
            message_type in _URI_REQUESTS
            and len(raw) >= 4
            and type(raw[1]) is int
            and 1 <= raw[1] <= MAX_ID
            and type(raw[3]) is str
        ):
            answer = message_type != Publish.MESSAGE_TYPE or (
                isinstance(raw[2], dict) and raw[2].get("acknowledge") is True)
            return InvalidUriRequest(message_type, raw[1], raw[3], str(e), answer)
        return Malformed(str(e))
    except ProtocolError as e:
        return Malformed(str(e))
    except Exception as e:  # Autobahn's parsers assert on some shapes
        return Malformed("invalid {} message ({})".format(klass.__name__.upper(), type(e).__name__))
    if message_type in _WITH_OPTIONS:
        # Autobahn's message classes keep only the options they know; the router reads the others
        # (disclose_me, progress, forward_timeout, ppt_*, ...) from the raw dict kept here
        msg._router_internal = raw[2]
    elif message_type == Error.MESSAGE_TYPE:
        msg._router_internal = raw[3]
    return msg


def options_of(msg: Any) -> dict[str, Any]:
    """
    The options or details dict as the client sent it (empty for messages built in code).
    """
    return msg._router_internal or {}
