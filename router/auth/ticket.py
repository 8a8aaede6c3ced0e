"""
Ticket authentication: the client sends a shared secret (over TLS, as it travels in clear).
"""

import hmac
from dataclasses import dataclass
from typing import Any

from router import uris
from router.auth import Accept, Challenge, Decision, Deny, HelloInfo

FAILED = Deny(uris.AUTHENTICATION_FAILED, "authentication failed")


@dataclass(frozen=True)
class TicketPrincipal:
    """
    One client allowed to authenticate by ticket.
    """

    ticket: str
    role: str
    #: the realm the principal may join (any realm when ``None``)
    realm: str | None = None


class TicketAttempt:
    def __init__(self, principal: TicketPrincipal | None, hello: HelloInfo) -> None:
        self._principal = principal
        self._hello = hello

    def hello(self) -> Decision:
        # everybody gets the challenge, so the answer reveals nothing about which authids exist
        return Challenge("ticket", {})

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Accept | Deny:
        principal = self._principal
        expected = principal.ticket if principal is not None else "\0 no such principal"
        matches = hmac.compare_digest(signature.encode("utf-8"), expected.encode("utf-8"))
        if principal is None or not matches or principal.realm not in (None, self._hello.realm):
            return FAILED
        assert self._hello.authid is not None
        return Accept(self._hello.authid, principal.role, "ticket", "static")


class TicketMethod:
    """
    Ticket authentication against a static table of principals.
    """

    name = "ticket"

    def __init__(self, principals: dict[str, TicketPrincipal]) -> None:
        self.principals = principals

    def attempt(self, hello: HelloInfo) -> TicketAttempt:
        principal = self.principals.get(hello.authid) if hello.authid else None
        return TicketAttempt(principal, hello)
