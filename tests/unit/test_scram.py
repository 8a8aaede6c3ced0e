"""
WAMP-SCRAM in the session machine: the spec's variant and Autobahn|Python's draft client.
"""

import base64
import hashlib
import hmac
from types import SimpleNamespace

import pytest
from autobahn.wamp.auth import AuthScram
from autobahn.wamp.message import Authenticate, Challenge, Hello, Welcome
from autobahn.wamp.role import RoleCallerFeatures
from twisted.logger import Logger

from router.auth.scram import (
    KDF_ARGON2,
    KDF_PBKDF2,
    METHOD_DRAFT,
    ScramMethod,
    ScramPrincipal,
    salted_password,
)
from router.core import Router
from router.session import SessionMachine

PRINCIPALS = {
    "pbk": ScramPrincipal.from_password("pencil", "user", kdf=KDF_PBKDF2, iterations=4096),
    "arg": ScramPrincipal.from_password("pencil", "user", kdf=KDF_ARGON2, iterations=2, memory=1024),
}
METHODS = {"wamp-scram": ScramMethod(PRINCIPALS), "scram": ScramMethod(PRINCIPALS, METHOD_DRAFT)}


def h(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def spec_proof(password, authid, client_nonce, challenge):
    """
    The ClientProof as the spec's pseudocode computes it.
    """
    extra = challenge.extra
    salted = salted_password(password, extra["salt"], extra["kdf"], extra["iterations"], extra.get("memory"))
    client_key = h(salted, b"Client Key")
    stored_key = hashlib.sha256(client_key).digest()
    auth_message = "n={},r={},r={},s={},i={},c={},r={}".format(
        authid, client_nonce, extra["nonce"], extra["salt"], extra["iterations"],
        base64.b64encode(b"n,,").decode(), extra["nonce"]).encode()
    proof = bytes(a ^ b for a, b in zip(client_key, h(stored_key, auth_message)))
    server_signature = h(h(salted, b"Server Key"), auth_message)
    return base64.b64encode(proof).decode(), base64.b64encode(server_signature).decode()


def start(method, authid, nonce="cm9ja2V0bm9uY2U="):
    m = SessionMachine(Router(), link=object(), methods=METHODS)
    (_, challenge), = m.receive(Hello("realm1", {"caller": RoleCallerFeatures()}, authmethods=[method],
                                      authid=authid, authextra={"nonce": nonce}))
    return m, challenge


@pytest.mark.parametrize("authid", ["pbk", "arg"])
def test_spec_variant(authid):
    """A spec-conformant client proof is accepted and WELCOME carries the server's verifier."""
    m, challenge = start("wamp-scram", authid)
    assert isinstance(challenge, Challenge) and challenge.method == "wamp-scram"
    assert challenge.extra["nonce"].startswith("cm9ja2V0bm9uY2U=")
    proof, server_signature = spec_proof("pencil", authid, "cm9ja2V0bm9uY2U=", challenge)
    (_, welcome), = m.receive(Authenticate(proof, {"nonce": challenge.extra["nonce"]}))
    assert isinstance(welcome, Welcome)
    assert (welcome.authid, welcome.authmethod, welcome.authextra) == (authid, "wamp-scram",
                                                                       {"verifier": server_signature})


def test_wrong_password_and_unknown_user_look_alike():
    """A wrong password and an unknown authid both end in authentication_failed; the mock salt is stable."""
    m, challenge = start("wamp-scram", "pbk")
    proof, _ = spec_proof("wrong", "pbk", "cm9ja2V0bm9uY2U=", challenge)
    (_, abort), = m.receive(Authenticate(proof, {"nonce": challenge.extra["nonce"]}))
    assert abort.reason == "wamp.error.authentication_failed"
    m, first = start("wamp-scram", "ghost")
    _, second = start("wamp-scram", "ghost")
    assert first.extra["salt"] == second.extra["salt"]
    proof, _ = spec_proof("pencil", "ghost", "cm9ja2V0bm9uY2U=", first)
    (_, abort), = m.receive(Authenticate(proof, {"nonce": first.extra["nonce"]}))
    assert abort.reason == "wamp.error.authentication_failed"


def test_nonce_must_match():
    """An AUTHENTICATE echoing another nonce is refused."""
    m, challenge = start("wamp-scram", "pbk")
    proof, _ = spec_proof("pencil", "pbk", "cm9ja2V0bm9uY2U=", challenge)
    (_, abort), = m.receive(Authenticate(proof, {"nonce": "other"}))
    assert abort.reason == "wamp.error.authentication_failed"


def test_autobahn_draft_client():
    """Autobahn|Python's SCRAM client (method scram, kdf argon2id-13) authenticates and verifies the router."""
    client = AuthScram(authid="arg", password="pencil")
    m, challenge = start("scram", "arg", client.authextra["nonce"])
    assert challenge.extra["kdf"] == "argon2id-13"
    signature = client.on_challenge(None, challenge)
    (_, welcome), = m.receive(Authenticate(signature.decode(), {}))
    assert isinstance(welcome, Welcome) and welcome.authmethod == "scram"
    session = SimpleNamespace(log=Logger())
    assert client.on_welcome(session, welcome.authextra) is None  # the router's signature verifies
