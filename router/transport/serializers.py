"""
The WAMP serializers the router speaks, by name.

JSON goes through the standard library's C encoder and decoder: Autobahn's own JSON object
serializer decodes with a pure-Python scanner on every message (to turn ``"\\u0000..."`` strings
into bytes), which is its largest cost. Here that scanner runs only for payloads that carry such a
binary value.
"""

import base64
import decimal
import json
from typing import Any

from autobahn.wamp.interfaces import ISerializer
from autobahn.wamp.serializer import CBORSerializer, JsonObjectSerializer, JsonSerializer, MsgPackSerializer

#: how WAMP's JSON serialization marks a binary value: a string starting with NUL
_BINARY_MARK = b"\\u0000"


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return "\x00" + base64.b64encode(value).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError("{} is not JSON serializable".format(type(value).__name__))


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default).encode


class FastJsonObjectSerializer(JsonObjectSerializer):
    """
    Autobahn's JSON object serializer (non-batched) with the C encoder and decoder.
    """

    def serialize(self, obj: Any) -> bytes:
        return _encode(obj).encode("utf-8")

    def unserialize(self, payload: bytes) -> list[Any]:
        if _BINARY_MARK in payload:
            return JsonObjectSerializer.unserialize(self, payload)
        return [json.loads(payload)]


class RouterJsonSerializer(JsonSerializer):
    """
    ``wamp.2.json`` with :class:`FastJsonObjectSerializer`.
    """

    def __init__(self) -> None:
        JsonSerializer.__init__(self)
        self._serializer = FastJsonObjectSerializer()


SERIALIZERS = {
    "json": RouterJsonSerializer,
    "msgpack": MsgPackSerializer,
    "cbor": CBORSerializer,
}


def serializers_for(names: list[str]) -> list[ISerializer]:
    """
    One Autobahn serializer per name (names must be keys of :data:`SERIALIZERS`).
    """
    return [SERIALIZERS[name]() for name in names]
