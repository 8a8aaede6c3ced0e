"""
WAMP-CRA: challenge-response with HMAC-SHA256, optionally over a PBKDF2-salted secret.
"""

import base64
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from autobahn.wamp.auth import compute_wcs, derive_key

from router import uris
from router.auth import Accept, Challenge, Decision, Deny, HelloInfo

FAILED = Deny(uris.AUTHENTICATION_FAILED, "authentication failed")


@dataclass(frozen=True)
class CraPrincipal:
    """
    One client allowed to authenticate with WAMP-CRA. With ``salt``, ``secret`` is the password
    and the key is derived with PBKDF2 (``iterations``, ``keylen``), as the client derives it.
    """

    secret: str
    role: str
    realm: str | None = None
    salt: str | None = None
    iterations: int = 1000
    keylen: int = 32

    def key(self) -> bytes:
        if self.salt is None:
            return self.secret.encode("utf-8")
        return derive_key(self.secret.encode("utf-8"), self.salt.encode("utf-8"), self.iterations, self.keylen)


class CraAttempt:
    def __init__(self, principal: CraPrincipal | None, hello: HelloInfo) -> None:
        self._hello = hello
        self._principal = principal
        self._challenge = ""

    def hello(self) -> Decision:
        hello, principal = self._hello, self._principal
        role = principal.role if principal is not None else "user"
        self._challenge = json.dumps({
            "authid": hello.authid,
            "authrole": role,
            "authmethod": "wampcra",
            "authprovider": "static",
            "session": hello.session_id,
            "nonce": secrets.token_urlsafe(24),
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }, separators=(",", ":"))
        extra: dict[str, Any] = {"challenge": self._challenge}
        if principal is None:
            # an unknown authid gets a salted challenge like any other, revealing nothing
            extra.update(salt=base64.b64encode(secrets.token_bytes(12)).decode(), iterations=1000, keylen=32)
        elif principal.salt is not None:
            extra.update(salt=principal.salt, iterations=principal.iterations, keylen=principal.keylen)
        return Challenge("wampcra", extra)

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Accept | Deny:
        principal = self._principal
        key = principal.key() if principal is not None else secrets.token_bytes(32)
        expected = compute_wcs(key, self._challenge.encode("utf-8"))
        matches = hmac.compare_digest(signature.encode("ascii", "replace"), expected)
        if principal is None or not matches or principal.realm not in (None, self._hello.realm):
            return FAILED
        assert self._hello.authid is not None
        return Accept(self._hello.authid, principal.role, "wampcra", "static")


class CraMethod:
    """
    WAMP-CRA against a static table of principals.
    """

    name = "wampcra"

    def __init__(self, principals: dict[str, CraPrincipal]) -> None:
        self.principals = principals

    def attempt(self, hello: HelloInfo) -> CraAttempt:
        principal = self.principals.get(hello.authid) if hello.authid else None
        return CraAttempt(principal, hello)
