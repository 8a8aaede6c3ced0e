"""
WAMP-SCRAM: SCRAM-SHA-256 with a PBKDF2 or Argon2id key derivation, as the spec defines it
(method ``wamp-scram``), and Autobahn|Python's draft variant (method ``scram``) for its clients.

The router stores per principal only the salt, KDF parameters, ``StoredKey`` and ``ServerKey``;
the draft variant derives its keys differently and so needs the password itself.
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from argon2.low_level import Type, hash_secret, hash_secret_raw

from router import uris
from router.auth import Accept, Challenge, Decision, Deny, HelloInfo

FAILED = Deny(uris.AUTHENTICATION_FAILED, "authentication failed")

KDF_PBKDF2 = "pbkdf2"
KDF_ARGON2 = "argon2id13"
#: the draft variant's name for Argon2id 1.3
KDF_ARGON2_DRAFT = "argon2id-13"

METHOD = "wamp-scram"
METHOD_DRAFT = "scram"


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def salted_password(password: str, salt: str, kdf: str, iterations: int, memory: int | None) -> bytes:
    """
    ``SaltedPassword = KDF(password, salt, params)`` with 32 octets of output (spec variant).
    """
    raw_salt = base64.b64decode(salt)
    if kdf == KDF_PBKDF2:
        return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), raw_salt, iterations, 32)
    return hash_secret_raw(password.encode("utf-8"), raw_salt, time_cost=iterations, memory_cost=memory or 0,
                           parallelism=1, hash_len=32, type=Type.ID, version=0x13)


def _draft_salted_password(password: str, salt: str, iterations: int, memory: int) -> bytes:
    # Autobahn's draft client keys HMAC with the base64 text of the Argon2 hash, not its octets
    encoded = hash_secret(password.encode("utf-8"), base64.b64decode(salt), time_cost=iterations,
                          memory_cost=memory, parallelism=1, hash_len=32, type=Type.ID, version=0x13)
    return encoded.split(b"$")[-1]


@dataclass(frozen=True)
class ScramPrincipal:
    """
    One client allowed to authenticate with WAMP-SCRAM.
    """

    salt: str
    kdf: str
    iterations: int
    memory: int | None
    stored_key: bytes
    server_key: bytes
    role: str
    realm: str | None = None
    #: kept only when configured as a password, for Autobahn's draft variant
    password: str | None = None

    @classmethod
    def from_password(cls, password: str, role: str, realm: str | None = None, kdf: str = KDF_ARGON2,
                      iterations: int | None = None, memory: int | None = None,
                      salt: str | None = None) -> "ScramPrincipal":
        """
        Derive the stored keys from a password (with a random salt unless one is given).
        """
        salt = salt or base64.b64encode(secrets.token_bytes(16)).decode()
        if kdf == KDF_PBKDF2:
            iterations, memory = iterations or 4096, None
        else:
            iterations, memory = iterations or 3, memory or 65536
        salted = salted_password(password, salt, kdf, iterations, memory)
        client_key = _hmac(salted, b"Client Key")
        return cls(salt, kdf, iterations, memory, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"),
                   role, realm, password)


def _escape(text: str) -> str:
    return text.replace("=", "=3D").replace(",", "=2C")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ScramAttempt:
    def __init__(self, method: str, principal: ScramPrincipal | None, hello: HelloInfo, mock_salt: str) -> None:
        self._method = method
        self._principal = principal
        self._hello = hello
        self._mock_salt = mock_salt
        self._client_nonce = hello.authextra.get("nonce")
        self._nonce = ""
        self._server_first = ""

    def _params(self) -> tuple[str, str, int, int | None]:
        p = self._principal
        if p is None:
            return self._mock_salt, KDF_ARGON2, 3, 65536
        return p.salt, p.kdf, p.iterations, p.memory

    def hello(self) -> Decision:
        if not isinstance(self._client_nonce, str) or not self._client_nonce or self._hello.authid is None:
            return Deny(uris.INVALID_ARGUMENT, "WAMP-SCRAM needs authid and authextra.nonce")
        if self._hello.authextra.get("channel_binding") not in (None, ""):
            return Deny(uris.INVALID_ARGUMENT, "channel binding is not supported")
        salt, kdf, iterations, memory = self._params()
        if self._method == METHOD_DRAFT:
            p = self._principal
            if p is not None and (p.password is None or p.kdf != KDF_ARGON2):
                self._principal = None  # the draft variant cannot work from stored keys alone
            kdf = KDF_ARGON2_DRAFT
        self._nonce = self._client_nonce + _b64(secrets.token_bytes(16))
        self._server_first = "r={},s={},i={}".format(self._nonce, salt, iterations)
        extra: dict[str, Any] = {"nonce": self._nonce, "salt": salt, "kdf": kdf, "iterations": iterations}
        if memory is not None:
            extra["memory"] = memory
        return Challenge(self._method, extra)

    def _auth_message(self, extra: dict[str, Any]) -> bytes:
        assert self._hello.authid is not None
        client_first = "n={},r={}".format(_escape(self._hello.authid), self._client_nonce)
        if self._method == METHOD_DRAFT:
            channel = extra.get("channel_binding") or ""
        else:
            channel = _b64(b"n,,")
        final = "c={},r={}".format(channel, self._nonce)
        return "{},{},{}".format(client_first, self._server_first, final).encode("utf-8")

    def _keys(self) -> tuple[bytes, bytes]:
        p = self._principal
        if p is None:
            return secrets.token_bytes(32), secrets.token_bytes(32)
        if self._method == METHOD_DRAFT:
            assert p.password is not None and p.memory is not None
            salted = _draft_salted_password(p.password, p.salt, p.iterations, p.memory)
            return hashlib.sha256(_hmac(salted, b"Client Key")).digest(), _hmac(salted, b"Server Key")
        return p.stored_key, p.server_key

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Accept | Deny:
        if self._method == METHOD and extra.get("nonce") != self._nonce:
            return FAILED
        try:
            proof = base64.b64decode(signature, validate=True)
        except (ValueError, TypeError):
            return FAILED
        stored_key, server_key = self._keys()
        auth_message = self._auth_message(extra)
        client_signature = _hmac(stored_key, auth_message)
        if len(proof) != len(client_signature):
            return FAILED
        client_key = bytes(a ^ b for a, b in zip(client_signature, proof))
        recovered = hashlib.sha256(client_key).digest()
        p = self._principal
        if not hmac.compare_digest(recovered, stored_key) or p is None or p.realm not in (None, self._hello.realm):
            return FAILED
        verifier = _b64(_hmac(server_key, auth_message))
        authextra = {"scram_server_signature": verifier} if self._method == METHOD_DRAFT else {"verifier": verifier}
        assert self._hello.authid is not None
        return Accept(self._hello.authid, p.role, self._method, "static", authextra)


_MOCK_KEY = secrets.token_bytes(16)


def mock_salt(authid: str | None) -> str:
    """
    The salt an unknown authid is challenged with: the same every time for one authid (as the spec
    advises), so a probe cannot tell it from a real principal.
    """
    return _b64(_hmac(_MOCK_KEY, (authid or "").encode("utf-8"))[:16])


class ScramMethod:
    """
    WAMP-SCRAM against a static table of principals; serves ``wamp-scram`` and Autobahn's ``scram``.
    """

    def __init__(self, principals: dict[str, ScramPrincipal], name: str = METHOD) -> None:
        self.principals = principals
        self.name = name

    def attempt(self, hello: HelloInfo) -> ScramAttempt:
        principal = self.principals.get(hello.authid) if hello.authid else None
        return ScramAttempt(self.name, principal, hello, mock_salt(hello.authid))
