"""
Dynamic authentication: a WAMP procedure registered by a trusted component decides.

The authenticator is called with ``(realm, authid, details)`` where ``details`` has ``authmethod``,
``authextra``, ``session`` and ``transport`` (and ``ticket`` for ticket authentication). It
answers with a role name, or a dict with ``role`` and optionally ``authid`` and ``extra``;
for WAMP-CRA also ``secret`` (and ``salt``, ``iterations``, ``keylen``); for cryptosign the
public key it authorizes is the one in ``authextra.pubkey``. An error refuses the session.
"""

from typing import Any

from router import uris
from router.auth import Accept, Ask, Challenge, Decision, Deny, HelloInfo
from router.auth.cryptosign import CryptosignAttempt, CryptosignPrincipal
from router.auth.wampcra import CraAttempt, CraPrincipal

FAILED = Deny(uris.AUTHENTICATION_FAILED, "authentication failed")


def _details(hello: HelloInfo, authmethod: str, **more: Any) -> dict[str, Any]:
    details = {"authmethod": authmethod, "authextra": hello.authextra, "session": hello.session_id,
               "transport": {k: v for k, v in hello.transport.items() if isinstance(v, (str, int, bool))}}
    details.update(more)
    return details


def _answer(ok: bool, msg: Any) -> dict[str, Any] | None:
    """
    The authenticator's answer as ``{role, authid?, ...}``, or ``None`` for a refusal or a malformed
    answer.
    """
    if not ok or not msg.args:
        return None
    value = msg.args[0]
    if isinstance(value, str):
        return {"role": value}
    if isinstance(value, dict) and isinstance(value.get("role"), str):
        return value
    return None


class DynamicMethod:
    """
    A method whose principals come from an authenticator procedure.

    :param name: ``ticket``, ``wampcra`` or ``cryptosign``.
    :param authenticator: The procedure URI.
    :param realm: The realm it is registered on.
    """

    def __init__(self, name: str, authenticator: str, realm: str) -> None:
        self.name = name
        self.authenticator = authenticator
        self.realm = realm

    def attempt(self, hello: HelloInfo) -> "DynamicAttempt":
        return DynamicAttempt(self, hello)


class DynamicAttempt:
    def __init__(self, method: DynamicMethod, hello: HelloInfo) -> None:
        self._method = method
        self._hello = hello
        self._inner: Any = None

    def _ask(self, details: dict[str, Any], then: Any) -> Ask:
        return Ask(self._method.realm, self._method.authenticator, [self._hello.realm, self._hello.authid, details],
                   {}, then)

    def _accept(self, answer: dict[str, Any], authid: str | None) -> Accept | Deny:
        authid = answer.get("authid", authid)
        if not isinstance(authid, str):
            return FAILED
        extra = answer.get("extra")
        return Accept(authid, answer["role"], self._method.name, "dynamic", extra if isinstance(extra, dict) else None)

    def hello(self) -> Decision:
        name, hello = self._method.name, self._hello
        if name == "ticket":
            return Challenge("ticket", {})
        if name == "wampcra":
            return self._ask(_details(hello, name), self._wampcra_principal)
        return self._ask(_details(hello, name), self._cryptosign_principal)

    def _wampcra_principal(self, ok: bool, msg: Any) -> Decision:
        answer = _answer(ok, msg)
        if answer is None or not isinstance(answer.get("secret"), str):
            self._inner = CraAttempt(None, self._hello)  # go on with a mock challenge: reveal nothing
        else:
            principal = CraPrincipal(answer["secret"], answer["role"], None, answer.get("salt"),
                                     answer.get("iterations", 1000), answer.get("keylen", 32))
            self._inner = CraAttempt(principal, self._hello)
        return self._inner.hello()

    def _cryptosign_principal(self, ok: bool, msg: Any) -> Decision:
        answer = _answer(ok, msg)
        pubkey = self._hello.authextra.get("pubkey")
        if answer is None or not isinstance(pubkey, str):
            self._inner = CryptosignAttempt(None, None, self._hello)
        else:
            authid = answer.get("authid", self._hello.authid)
            principal = CryptosignPrincipal((pubkey,), answer["role"])
            self._inner = CryptosignAttempt(authid if isinstance(authid, str) else None, principal, self._hello)
        return self._inner.hello()

    def authenticate(self, signature: str, extra: dict[str, Any]) -> Decision:
        if self._method.name == "ticket":
            def decide(ok: bool, msg: Any) -> Decision:
                answer = _answer(ok, msg)
                return FAILED if answer is None else self._accept(answer, self._hello.authid)

            return self._ask(_details(self._hello, "ticket", ticket=signature), decide)
        decision = self._inner.authenticate(signature, extra)
        if isinstance(decision, Accept):
            return Accept(decision.authid, decision.authrole, decision.authmethod, "dynamic", decision.authextra)
        return decision
