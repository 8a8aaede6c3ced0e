"""
The WAMP serializers the router speaks, by name.
"""

from autobahn.wamp.interfaces import ISerializer
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer

SERIALIZERS = {
    "json": JsonSerializer,
    "msgpack": MsgPackSerializer,
    "cbor": CBORSerializer,
}


def serializers_for(names: list[str]) -> list[ISerializer]:
    """
    One Autobahn serializer per name (names must be keys of :data:`SERIALIZERS`).
    """
    return [SERIALIZERS[name]() for name in names]
