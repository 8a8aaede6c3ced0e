"""
Anonymous authentication: everybody is let in under one role.
"""

import secrets
from typing import Any

from router.auth import Accept, Decision, Deny, HelloInfo
from router import uris


def random_authid() -> str:
    """
    An authid for an anonymous session, like ``9F3A-07C2-B1E4``.
    """
    token = secrets.token_hex(6).upper()
    return "-".join(token[i:i + 4] for i in range(0, 12, 4))


class AnonymousAttempt:
    def __init__(self, role: str) -> None:
        self._role = role

    def hello(self) -> Decision:
        return Accept(random_authid(), self._role, "anonymous", "static")

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Accept | Deny:
        return Deny(uris.AUTHENTICATION_FAILED, "anonymous authentication takes no challenge")


class AnonymousMethod:
    """
    Accept any session as ``role`` with a random authid.
    """

    name = "anonymous"

    def __init__(self, role: str = "anonymous") -> None:
        self.role = role

    def attempt(self, hello: HelloInfo) -> AnonymousAttempt:
        return AnonymousAttempt(self.role)
