"""
TLS client certificate authentication: the certificate presented in the TLS handshake (verified
against the listener's ``ca_certs``) identifies the principal by its fingerprint.
"""

from dataclasses import dataclass
from typing import Any

from router import uris
from router.auth import Accept, Decision, Deny, HelloInfo

FAILED = Deny(uris.AUTHENTICATION_FAILED, "authentication failed")


def normalize_fingerprint(value: str) -> str:
    """
    A fingerprint as upper-case hex without separators (``ab:cd`` and ``ABCD`` compare equal).
    """
    return value.replace(":", "").replace(" ", "").upper()


@dataclass(frozen=True)
class TlsPrincipal:
    """
    One client identified by the SHA-256 fingerprint of its certificate.
    """

    sha256: str
    role: str
    realm: str | None = None


class TlsAttempt:
    def __init__(self, authid: str | None, principal: TlsPrincipal | None, hello: HelloInfo) -> None:
        self._authid = authid
        self._principal = principal
        self._hello = hello

    def hello(self) -> Decision:
        principal = self._principal
        if principal is None or self._authid is None or principal.realm not in (None, self._hello.realm):
            return FAILED
        return Accept(self._authid, principal.role, "tls", "static")

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Accept | Deny:
        return FAILED


class TlsMethod:
    """
    TLS client certificate authentication against a static table of fingerprints.
    """

    name = "tls"

    def __init__(self, principals: dict[str, TlsPrincipal]) -> None:
        self.principals = principals
        self._by_fingerprint = {normalize_fingerprint(p.sha256): authid for authid, p in principals.items()}

    def attempt(self, hello: HelloInfo) -> TlsAttempt:
        certificate = hello.transport.get("peer_cert") or {}
        fingerprint = certificate.get("sha256") if isinstance(certificate, dict) else None
        authid = self._by_fingerprint.get(normalize_fingerprint(fingerprint)) if isinstance(fingerprint, str) else None
        if hello.authid is not None and authid != hello.authid:
            authid = None
        return TlsAttempt(authid, self.principals.get(authid) if authid else None, hello)
