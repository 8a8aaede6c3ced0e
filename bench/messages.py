"""
WAMP messages for the load generator and the floor server, serialized once and patched per use.

A :class:`Template` is a message serialized with sentinel integers, split around them; rendering
it splices in a request id or a timestamp with a fixed-width encoding (a non-minimal but valid
MessagePack/CBOR integer, or decimal digits for JSON), so sending a CALL costs a few bytes
operations instead of a serializer call. :meth:`Codec.head` reads a received message's type and
second element (the request id of RESULT, INVOCATION, PUBLISHED...) without decoding the rest.
"""

import json
import struct
from typing import Any, Callable

import cbor2
import msgpack

HELLO = 1
WELCOME = 2
ABORT = 3
GOODBYE = 6
ERROR = 8
PUBLISH = 16
PUBLISHED = 17
SUBSCRIBE = 32
SUBSCRIBED = 33
EVENT = 36
CALL = 48
RESULT = 50
REGISTER = 64
REGISTERED = 65
INVOCATION = 68
YIELD = 70

#: placeholders for a request id (fits 32 bits) and a timestamp (fits 64 bits) in templates
ID = 0xDEADBE01
TIMESTAMP = 0xDEADBEEFDEADBE02

#: the RawSocket serializer ids
RAWSOCKET_SERIALIZERS = {"json": 1, "msgpack": 2, "cbor": 3}
SERIALIZERS = tuple(RAWSOCKET_SERIALIZERS)

#: the client roles a benchmark session announces in HELLO
CLIENT_ROLES = {"roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}}}

#: what a benchmark call carries and a benchmark callee answers
CALL_ARGS = ["hello", 123]

_BE_U32 = struct.Struct(">BI")
_BE_U64 = struct.Struct(">BQ")


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _json_loads(data: bytes) -> Any:
    return json.loads(data)


def _msgpack_dumps(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _msgpack_loads(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)


def _json_int(value: int) -> bytes:
    return b"%d" % value


class Codec:
    """
    One WAMP serializer: full encoding and decoding, templates and the cheap header reader.

    :param name: ``json``, ``msgpack`` or ``cbor``.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.binary = name != "json"
        self.subprotocol = "wamp.2." + name
        self.rawsocket_id = RAWSOCKET_SERIALIZERS[name]
        if name == "json":
            self.dumps: Callable[[Any], bytes] = _json_dumps
            self.loads: Callable[[bytes], Any] = _json_loads
            self.head = _json_head
            self._sentinels = {ID: b"%d" % ID, TIMESTAMP: b"%d" % TIMESTAMP}
            self._encoders = {ID: _json_int, TIMESTAMP: _json_int}
        elif name == "msgpack":
            self.dumps, self.loads, self.head = _msgpack_dumps, _msgpack_loads, _msgpack_head
            self._sentinels = {ID: _BE_U32.pack(0xCE, ID), TIMESTAMP: _BE_U64.pack(0xCF, TIMESTAMP)}
            self._encoders = {ID: _prefixed(_BE_U32, 0xCE), TIMESTAMP: _prefixed(_BE_U64, 0xCF)}
        elif name == "cbor":
            self.dumps, self.loads, self.head = cbor2.dumps, cbor2.loads, _cbor_head
            self._sentinels = {ID: _BE_U32.pack(0x1A, ID), TIMESTAMP: _BE_U64.pack(0x1B, TIMESTAMP)}
            self._encoders = {ID: _prefixed(_BE_U32, 0x1A), TIMESTAMP: _prefixed(_BE_U64, 0x1B)}
        else:
            raise ValueError("unknown serializer {!r}".format(name))

    def template(self, message: list[Any]) -> "Template":
        """
        A template of ``message``, whose :data:`ID` and :data:`TIMESTAMP` elements are slots.
        """
        data = self.dumps(message)
        found = []
        for value, pattern in self._sentinels.items():
            at = data.find(pattern)
            if at >= 0:
                if data.find(pattern, at + 1) >= 0:
                    raise ValueError("sentinel {:x} appears twice".format(value))
                found.append((at, value, pattern))
        found.sort()
        parts, encoders, start = [], [], 0
        for at, value, pattern in found:
            parts.append(data[start:at])
            encoders.append(self._encoders[value])
            start = at + len(pattern)
        parts.append(data[start:])
        return Template(parts, encoders)


def _prefixed(layout: struct.Struct, marker: int) -> Callable[[int], bytes]:
    pack = layout.pack
    return lambda value: pack(marker, value)


class Template:
    """
    A serialized message with slots; ``render(*values)`` fills them in the order they occur.
    """

    __slots__ = ("render", "slots")

    def __init__(self, parts: list[bytes], encoders: list[Callable[[int], bytes]]) -> None:
        self.slots = len(encoders)
        if not encoders:
            whole = parts[0]
            self.render: Callable[..., bytes] = lambda: whole
        elif len(encoders) == 1:
            p0, p1 = parts
            (e0,) = encoders
            self.render = lambda a: p0 + e0(a) + p1
        elif len(encoders) == 2:
            p0, p1, p2 = parts
            e0, e1 = encoders
            self.render = lambda a, b: b"".join((p0, e0(a), p1, e1(b), p2))
        else:
            raise ValueError("at most two slots")


# -- reading the message type and the second element without decoding the rest


def _json_head(p: bytes) -> tuple[int, int | None]:
    """
    ``(type, second element if it is an integer else None)`` of a JSON-encoded WAMP message.
    """
    i = p.index(b",", 1)
    j = p.find(b",", i + 1)
    if j < 0:
        j = p.rindex(b"]")
    try:
        return int(p[1:i]), int(p[i + 1:j])
    except ValueError:
        return int(p[1:i]), None


def _msgpack_uint(p: bytes, at: int) -> tuple[int | None, int]:
    c = p[at]
    if c < 0x80:
        return c, at + 1
    if c == 0xCC or c == 0xD0:
        return p[at + 1], at + 2
    if c == 0xCD or c == 0xD1:
        return int.from_bytes(p[at + 1:at + 3], "big"), at + 3
    if c == 0xCE or c == 0xD2:
        return int.from_bytes(p[at + 1:at + 5], "big"), at + 5
    if c == 0xCF or c == 0xD3:
        return int.from_bytes(p[at + 1:at + 9], "big"), at + 9
    return None, at


def _msgpack_head(p: bytes) -> tuple[int, int | None]:
    c = p[0]
    at = 1 if c < 0xA0 else 3 if c == 0xDC else 5
    kind, at = _msgpack_uint(p, at)
    return kind, _msgpack_uint(p, at)[0]  # type: ignore[return-value]


def _cbor_uint(p: bytes, at: int) -> tuple[int | None, int]:
    c = p[at]
    if c < 0x18:
        return c, at + 1
    if c == 0x18:
        return p[at + 1], at + 2
    if c == 0x19:
        return int.from_bytes(p[at + 1:at + 3], "big"), at + 3
    if c == 0x1A:
        return int.from_bytes(p[at + 1:at + 5], "big"), at + 5
    if c == 0x1B:
        return int.from_bytes(p[at + 1:at + 9], "big"), at + 9
    return None, at


def _cbor_head(p: bytes) -> tuple[int, int | None]:
    c = p[0]
    at = 1 if c < 0x98 or c == 0x9F else 2 if c == 0x98 else 3 if c == 0x99 else 5
    kind, at = _cbor_uint(p, at)
    return kind, _cbor_uint(p, at)[0]  # type: ignore[return-value]


CODECS = {name: Codec(name) for name in SERIALIZERS}
