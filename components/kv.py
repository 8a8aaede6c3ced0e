"""
The key-value store: get, set and delete by RPC, every change announced by pub/sub.

Procedures:

- ``com.example.kv.get(key)`` -> the value, or the error ``com.example.kv.error.no_such_key``
- ``com.example.kv.set(key, value)``: store any value the serializer carries
- ``com.example.kv.delete(key)`` -> ``true`` if the key existed
- ``com.example.kv.items()`` -> every entry as one object (``{key: value}``)

Keys are 1 to 200 characters (else ``com.example.kv.error.invalid_key``); the store holds at most
``max_keys`` keys (else ``com.example.kv.error.full`` for a new key).

Each change is published on ``com.example.kv.on_change`` with keyword arguments ``key`` and
``value`` for a set, ``key`` and ``deleted=True`` for a delete.

Settings (``extra``): ``max_keys`` (default 1000).

Run on its own: ``python -m components.kv --url ws://127.0.0.1:8080/ws --realm realm1``.
"""

from typing import Any

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig

from components.base import SampleSession
from components.runner import run

GET = "com.example.kv.get"
SET = "com.example.kv.set"
DELETE = "com.example.kv.delete"
ITEMS = "com.example.kv.items"
ON_CHANGE = "com.example.kv.on_change"

NO_SUCH_KEY = "com.example.kv.error.no_such_key"
INVALID_KEY = "com.example.kv.error.invalid_key"
FULL = "com.example.kv.error.full"

MAX_KEY = 200


def _key(key: Any) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
        raise ApplicationError(INVALID_KEY, "a key is a string of 1 to {} characters".format(MAX_KEY))
    return key


class KeyValueStore(SampleSession):
    """
    A key-value store on com.example.kv.*, announcing every change on com.example.kv.on_change.
    """

    def __init__(self, config: ComponentConfig | None = None, reactor: Any = None) -> None:
        SampleSession.__init__(self, config, reactor)
        self.max_keys = self.setting("max_keys", 1000, int, lambda v: v >= 1)
        #: the entries
        self.data: dict[str, Any] = {}

    async def onJoin(self, details: Any) -> None:
        for procedure, uri in ((self.get, GET), (self.set, SET), (self.delete, DELETE), (self.items, ITEMS)):
            await self.register(procedure, uri)
        self.log.info("Key-value store ready on {prefix}*", prefix="com.example.kv.")

    def get(self, key: Any) -> Any:
        """
        The value stored under ``key``.
        """
        try:
            return self.data[_key(key)]
        except KeyError:
            raise ApplicationError(NO_SUCH_KEY, "no such key: {!r}".format(key)) from None

    def set(self, key: Any, value: Any) -> None:
        """
        Store ``value`` under ``key`` and announce it.
        """
        if _key(key) not in self.data and len(self.data) >= self.max_keys:
            raise ApplicationError(FULL, "the store holds {} keys already".format(self.max_keys))
        self.data[key] = value
        self.publish(ON_CHANGE, key=key, value=value)

    def delete(self, key: Any) -> bool:
        """
        Remove ``key``; announce it if it existed.
        """
        if _key(key) not in self.data:
            return False
        del self.data[key]
        self.publish(ON_CHANGE, key=key, deleted=True)
        return True

    def items(self) -> dict[str, Any]:
        """
        Every entry.
        """
        return dict(self.data)


if __name__ == "__main__":
    run(KeyValueStore)
