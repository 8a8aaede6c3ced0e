"""
Dynamic authentication: a WAMP procedure registered by a trusted component decides.

The authenticator is called with ``(realm, authid, details)`` where ``details`` has ``authmethod``,
``authextra``, ``session`` and ``transport`` (and ``ticket`` for ticket authentication; the TLS
client certificate as ``transport.peer_cert``). It answers with a role name, or a dict with
``role`` and optionally ``authid`` and ``extra``; for WAMP-CRA also ``secret`` (and ``salt``,
``iterations``, ``keylen``); for WAMP-SCRAM the stored credentials ``salt``, ``kdf``,
``iterations``, ``memory``, ``stored_key`` and ``server_key`` (base64); for cryptosign the public
key it authorizes is the one in ``authextra.pubkey``. An error refuses the session.
"""

import base64
from typing import Any

from router import uris
from router.auth import Accept, Ask, Challenge, Decision, Deny, HelloInfo
from router.auth.cryptosign import CryptosignAttempt, CryptosignPrincipal
from router.auth.scram import KDF_ARGON2, ScramAttempt, ScramPrincipal, mock_salt
from router.auth.scram import METHOD as SCRAM
from router.auth.wampcra import CraAttempt, CraPrincipal

FAILED = Deny(uris.AUTHENTICATION_FAILED, "authentication failed")


def _details(hello: HelloInfo, authmethod: str, **more: Any) -> dict[str, Any]:
    transport = {k: v for k, v in hello.transport.items() if isinstance(v, (str, int, bool))}
    if isinstance(hello.transport.get("peer_cert"), dict):
        transport["peer_cert"] = hello.transport["peer_cert"]
    details = {"authmethod": authmethod, "authextra": hello.authextra, "session": hello.session_id,
               "transport": transport}
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

    :param name: ``ticket``, ``wampcra``, ``cryptosign``, ``wamp-scram`` or ``tls``.
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
        if name == "tls":
            if not hello.transport.get("peer_cert"):
                return FAILED
            return self._ask(_details(hello, name), lambda ok, msg: self._decided(ok, msg))
        then = {"wampcra": self._wampcra_principal, "cryptosign": self._cryptosign_principal,
                "wamp-scram": self._scram_principal}[name]
        return self._ask(_details(hello, name), then)

    def _decided(self, ok: bool, msg: Any) -> Decision:
        answer = _answer(ok, msg)
        return FAILED if answer is None else self._accept(answer, self._hello.authid)

    def _scram_principal(self, ok: bool, msg: Any) -> Decision:
        answer = _answer(ok, msg)
        principal = None
        if answer is not None:
            try:
                principal = ScramPrincipal(
                    answer["salt"], answer.get("kdf", KDF_ARGON2), int(answer["iterations"]), answer.get("memory"),
                    base64.b64decode(answer["stored_key"], validate=True),
                    base64.b64decode(answer["server_key"], validate=True), answer["role"])
            except (KeyError, TypeError, ValueError):
                principal = None  # a malformed answer refuses like an unknown principal
        self._inner = ScramAttempt(SCRAM, principal, self._hello, mock_salt(self._hello.authid))
        return self._inner.hello()

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
            return self._ask(_details(self._hello, "ticket", ticket=signature), self._decided)
        if self._inner is None:
            return FAILED
        decision = self._inner.authenticate(signature, extra)
        if isinstance(decision, Accept):
            return Accept(decision.authid, decision.authrole, decision.authmethod, "dynamic", decision.authextra)
        return decision
