"""
Authentication: methods that turn a HELLO (and maybe an AUTHENTICATE) into a decision (sans-IO).

A method returns values, never raises for the peer's input: :class:`Accept`, :class:`Deny` or
:class:`Challenge`. The session machine runs the methods in the order of the client's
``authmethods`` and speaks CHALLENGE/AUTHENTICATE/WELCOME/ABORT for them.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class HelloInfo:
    """
    What the client said in HELLO that authentication may use.
    """

    realm: str
    authid: str | None
    authextra: dict[str, Any]
    session_id: int
    #: transport details (peer address, TLS client certificate, channel id)
    transport: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Accept:
    """
    The session is authenticated as ``authid`` in ``authrole``.
    """

    authid: str
    authrole: str
    authmethod: str
    authprovider: str = "static"
    authextra: dict[str, Any] | None = None


@dataclass(frozen=True)
class Deny:
    """
    Authentication failed; the session is refused with ABORT ``reason``.
    """

    reason: str
    message: str


@dataclass(frozen=True)
class Challenge:
    """
    Send CHALLENGE with ``extra``; the AUTHENTICATE reply goes to :meth:`Attempt.authenticate`.
    """

    method: str
    extra: dict[str, Any]


@dataclass(frozen=True)
class Ask:
    """
    Decide after asking a WAMP procedure: ``then(ok, message)`` gets its RESULT (``ok``) or ERROR
    and returns the decision.
    """

    realm: str
    procedure: str
    args: list[Any]
    kwargs: dict[str, Any]
    then: Any  # Callable[[bool, Any], Decision]


Decision = Accept | Deny | Challenge | Ask


class Attempt(Protocol):
    """
    One session's authentication with one method.
    """

    def hello(self) -> Decision:
        """
        Decide on the HELLO alone, or challenge.
        """

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Decision:
        """
        Decide on the AUTHENTICATE answering the challenge (called at most once).
        """


class Method(Protocol):
    """
    A configured authentication method (one per listener and method name).
    """

    name: str

    def attempt(self, hello: HelloInfo) -> Attempt:
        """
        Start authenticating one session.
        """
