"""
WAMP-Cryptosign: the client proves it holds an Ed25519 private key by signing a random challenge.
"""

import binascii
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from router import uris
from router.auth import Accept, Challenge, Decision, Deny, HelloInfo

FAILED = Deny(uris.AUTHENTICATION_FAILED, "authentication failed")


@dataclass(frozen=True)
class CryptosignPrincipal:
    """
    One client allowed to authenticate with any of its authorized Ed25519 public keys (hex).
    """

    authorized_keys: tuple[str, ...]
    role: str
    realm: str | None = None


def _hex_bytes(value: Any, length: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 * length:
        return None
    try:
        return binascii.a2b_hex(value)
    except (binascii.Error, ValueError):
        return None


class CryptosignAttempt:
    def __init__(self, authid: str | None, principal: CryptosignPrincipal | None, hello: HelloInfo) -> None:
        self._authid = authid
        self._principal = principal
        self._hello = hello
        self._pubkey = _hex_bytes(hello.authextra.get("pubkey"), 32)
        self._challenge = secrets.token_bytes(32)

    def hello(self) -> Decision:
        if self._pubkey is None:
            return Deny(uris.INVALID_ARGUMENT, "cryptosign needs authextra.pubkey: 32 bytes in hex")
        channel_binding = self._hello.authextra.get("channel_binding")
        if channel_binding not in (None, "tls-unique"):
            return Deny(uris.INVALID_ARGUMENT, "unsupported channel binding {!r}".format(channel_binding))
        return Challenge("cryptosign", {"challenge": self._challenge.hex(), "channel_binding": channel_binding})

    def _signed_data(self) -> bytes | None:
        if self._hello.authextra.get("channel_binding") != "tls-unique":
            return self._challenge
        channel_id = (self._hello.transport.get("channel_id") or {}).get("tls-unique")
        if not channel_id or len(channel_id) != 32:
            return None
        return bytes(a ^ b for a, b in zip(self._challenge, channel_id))

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Accept | Deny:
        signed = _hex_bytes(signature, 96)
        data = self._signed_data()
        principal = self._principal
        if signed is None or data is None or principal is None or self._pubkey is None:
            return FAILED
        if signed[64:] != data or principal.realm not in (None, self._hello.realm):
            return FAILED
        try:
            Ed25519PublicKey.from_public_bytes(self._pubkey).verify(signed[:64], data)
        except (InvalidSignature, ValueError):
            return FAILED
        assert self._authid is not None
        return Accept(self._authid, principal.role, "cryptosign", "static")


class CryptosignMethod:
    """
    Cryptosign against a static table of principals and their authorized keys.
    """

    name = "cryptosign"

    def __init__(self, principals: dict[str, CryptosignPrincipal]) -> None:
        self.principals = principals
        self._by_key = {key.lower(): authid for authid, p in principals.items() for key in p.authorized_keys}

    def attempt(self, hello: HelloInfo) -> CryptosignAttempt:
        pubkey = hello.authextra.get("pubkey")
        authid = self._by_key.get(pubkey.lower()) if isinstance(pubkey, str) else None
        if hello.authid is not None and authid != hello.authid:
            authid = None
        principal = self.principals.get(authid) if authid else None
        return CryptosignAttempt(authid, principal, hello)
