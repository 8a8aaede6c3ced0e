"""
Authorization: which role may do which action on which URI (sans-IO).

A realm without configured roles allows every action to every session (the development
default). A realm with roles allows only what a session's role permits; the permission for a URI
is the one whose pattern matches it best (exact, then the longest prefix, then the wildcard with the
longest leading match), as the dealer chooses registrations.
"""

from dataclasses import dataclass
from typing import Any

from router.matching import UriIndex

ACTIONS = ("call", "register", "publish", "subscribe")


@dataclass(frozen=True)
class Permission:
    """
    What a role may do on the URIs a pattern matches.
    """

    uri: str
    match: str = "exact"
    call: bool = False
    register: bool = False
    publish: bool = False
    subscribe: bool = False
    #: disclose the caller to callees on calls matched here
    disclose_caller: bool = False
    #: disclose the publisher to subscribers on publications matched here
    disclose_publisher: bool = False

    def allows(self, action: str) -> bool:
        return bool(getattr(self, action))


#: the answer for a realm without roles, and for anything when no permission matches
ALLOW_ALL = Permission("", "prefix", True, True, True, True)
DENY = Permission("", "prefix")


@dataclass(frozen=True)
class DynamicRole:
    """
    A role whose permissions an authorizer procedure decides: it is called with
    ``(session_details, uri, action, options)`` and answers ``true``/``false`` or a dict with
    ``allow``, optionally ``disclose`` and ``cache`` (keep the answer for this session and URI).
    """

    authorizer: str
    realm: str


def permission_from_answer(uri: str, action: str, ok: bool, answer: Any) -> tuple[Permission, bool]:
    """
    The permission an authorizer's answer grants for one action, and whether to cache it. An error
    or a malformed answer denies.
    """
    value = answer.args[0] if ok and answer.args else None
    if isinstance(value, bool):
        allow, disclose, cache = value, False, False
    elif isinstance(value, dict) and isinstance(value.get("allow"), bool):
        allow, disclose, cache = value["allow"], value.get("disclose") is True, value.get("cache") is True
    else:
        return DENY, False
    permission = Permission(uri, "exact", **{action: allow},
                            disclose_caller=disclose and action == "call",
                            disclose_publisher=disclose and action == "publish")
    return permission, cache


class Authorizer:
    """
    The permissions of a realm's roles, with answers cached per (role, URI).

    :param roles: role -> permissions or a :class:`DynamicRole`; ``None`` allows everything to
        everybody.
    """

    def __init__(self, roles: dict[str, Any] | None = None) -> None:
        self._roles = roles
        self._indexes: dict[str, UriIndex[Permission]] = {}
        #: role -> the procedure deciding for it
        self.dynamic: dict[str, DynamicRole] = {}
        for role, permissions in (roles or {}).items():
            if isinstance(permissions, DynamicRole):
                self.dynamic[role] = permissions
                continue
            index: UriIndex[Permission] = UriIndex()
            for permission in permissions:
                index.add(permission.match, permission.uri, permission)
            self._indexes[role] = index
        self._cache: dict[tuple[str, str], Permission] = {}

    def knows(self, role: str) -> bool:
        """
        Tell whether sessions may join in ``role``.
        """
        return self._roles is None or role in self._roles

    def permission(self, role: str, uri: str) -> Permission:
        """
        The permission governing ``role`` on ``uri`` (:data:`DENY` when none matches).
        """
        if self._roles is None:
            return ALLOW_ALL
        key = (role, uri)
        permission = self._cache.get(key)
        if permission is None:
            index = self._indexes.get(role)
            permission = (index.best(uri) if index is not None else None) or DENY
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = permission
        return permission
