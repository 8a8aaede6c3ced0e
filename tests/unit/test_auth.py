"""
Authentication methods and role authorization in the session machine (no sockets).
"""

import json

import pytest
from autobahn.wamp.auth import compute_wcs, derive_key
from autobahn.wamp.message import Abort, Authenticate, Call, Challenge, Hello, Publish, Register, Subscribe, Welcome
from autobahn.wamp.role import RoleCalleeFeatures, RoleCallerFeatures, RolePublisherFeatures, RoleSubscriberFeatures
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from router.auth.anonymous import AnonymousMethod
from router.auth.cryptosign import CryptosignMethod, CryptosignPrincipal
from router.auth.ticket import TicketMethod, TicketPrincipal
from router.auth.wampcra import CraMethod, CraPrincipal
from router.authorizer import Permission
from router.core import RealmOptions, Router, RouterOptions
from router.session import SessionMachine, State

ROLES = {
    "publisher": RolePublisherFeatures(),
    "subscriber": RoleSubscriberFeatures(),
    "caller": RoleCallerFeatures(),
    "callee": RoleCalleeFeatures(),
}

PRIVATE = Ed25519PrivateKey.generate()
PUBKEY = PRIVATE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

METHODS = {
    "anonymous": AnonymousMethod("guest"),
    "ticket": TicketMethod({"joe": TicketPrincipal("s3cret", "user"),
                            "ann": TicketPrincipal("pw", "user", realm="other")}),
    "wampcra": CraMethod({"peter": CraPrincipal("secret1", "user"),
                          "salty": CraPrincipal("secret2", "admin", salt="salt123", iterations=100, keylen=32)}),
    "cryptosign": CryptosignMethod({"alice": CryptosignPrincipal((PUBKEY,), "user")}),
}

REALM_ROLES = {
    "guest": (Permission("com.public.", "prefix", subscribe=True, call=True),),
    "user": (Permission("com.", "prefix", call=True, register=True, publish=True, subscribe=True),),
    "admin": (Permission("", "prefix", call=True, register=True, publish=True, subscribe=True),),
}


def router():
    return Router(RouterOptions(realms={"realm1": RealmOptions(roles=REALM_ROLES), "other": RealmOptions()}))


def machine(r=None):
    return SessionMachine(r or router(), link=object(), methods=METHODS)


def hello(authmethods, authid=None, authextra=None, realm="realm1"):
    return Hello(realm, ROLES, authmethods=authmethods, authid=authid, authextra=authextra)


def only(out):
    assert len(out) == 1, out
    return out[0][1]


class TestTicket:
    def test_right_ticket(self):
        """The right ticket gets WELCOME with authid, the principal's role, authmethod ticket, authprovider static."""
        m = machine()
        challenge = only(m.receive(hello(["ticket"], "joe")))
        assert isinstance(challenge, Challenge) and challenge.method == "ticket"
        welcome = only(m.receive(Authenticate("s3cret")))
        assert isinstance(welcome, Welcome)
        assert (welcome.authid, welcome.authrole, welcome.authmethod, welcome.authprovider) == (
            "joe", "user", "ticket", "static")

    @pytest.mark.parametrize("authid, ticket", [("joe", "wrong"), ("nobody", "s3cret"), ("nobody", "wrong")])
    def test_failures_look_alike(self, authid, ticket):
        """A wrong ticket and an unknown authid both get a challenge and then the same ABORT."""
        m = machine()
        assert isinstance(only(m.receive(hello(["ticket"], authid))), Challenge)
        abort = only(m.receive(Authenticate(ticket)))
        assert isinstance(abort, Abort)
        assert (abort.reason, abort.message) == ("wamp.error.authentication_failed", "authentication failed")
        assert m.state is State.IDLE

    def test_principal_bound_to_realm(self):
        """A principal configured for another realm cannot join this one."""
        m = machine()
        m.receive(hello(["ticket"], "ann"))
        assert only(m.receive(Authenticate("pw"))).reason == "wamp.error.authentication_failed"

    def test_challenge_cannot_be_replayed(self):
        """A second AUTHENTICATE after the first was answered is a protocol violation, not a second try."""
        m = machine()
        m.receive(hello(["ticket"], "joe"))
        m.receive(Authenticate("wrong"))
        abort = only(m.receive(Authenticate("s3cret")))
        assert abort.reason == "wamp.error.protocol_violation"

    def test_other_messages_while_challenging(self):
        """Anything but AUTHENTICATE or ABORT while a challenge is open ends in protocol_violation."""
        m = machine()
        m.receive(hello(["ticket"], "joe"))
        assert only(m.receive(Publish(1, "com.t"))).reason == "wamp.error.protocol_violation"


class TestWampCra:
    def test_plain_secret(self):
        """A WAMP-CRA signature over the JSON challenge with the plain secret is accepted."""
        r = router()
        m = machine(r)
        challenge = only(m.receive(hello(["wampcra"], "peter")))
        details = json.loads(challenge.extra["challenge"])
        assert details["authid"] == "peter" and details["authmethod"] == "wampcra" and details["nonce"]
        assert "salt" not in challenge.extra
        signature = compute_wcs(b"secret1", challenge.extra["challenge"].encode()).decode()
        welcome = only(m.receive(Authenticate(signature)))
        assert (welcome.authid, welcome.authrole, welcome.authmethod) == ("peter", "user", "wampcra")
        assert welcome.session == details["session"]

    def test_salted_secret(self):
        """A salted principal's challenge carries salt, iterations and keylen, and the derived key signs it."""
        m = machine()
        challenge = only(m.receive(hello(["wampcra"], "salty")))
        extra = challenge.extra
        assert (extra["salt"], extra["iterations"], extra["keylen"]) == ("salt123", 100, 32)
        key = derive_key(b"secret2", extra["salt"].encode(), extra["iterations"], extra["keylen"])
        welcome = only(m.receive(Authenticate(compute_wcs(key, extra["challenge"].encode()).decode())))
        assert welcome.authrole == "admin"

    def test_unknown_user_gets_a_salted_challenge_and_fails(self):
        """An unknown authid gets a challenge shaped like a real one and then authentication_failed."""
        m = machine()
        challenge = only(m.receive(hello(["wampcra"], "ghost")))
        assert {"challenge", "salt", "iterations", "keylen"} <= set(challenge.extra)
        assert only(m.receive(Authenticate("AAAA"))).reason == "wamp.error.authentication_failed"

    def test_wrong_signature(self):
        """A signature made with the wrong secret is refused."""
        m = machine()
        challenge = only(m.receive(hello(["wampcra"], "peter")))
        signature = compute_wcs(b"not-the-secret", challenge.extra["challenge"].encode()).decode()
        assert only(m.receive(Authenticate(signature))).reason == "wamp.error.authentication_failed"


class TestCryptosign:
    def sign(self, challenge_hex):
        data = bytes.fromhex(challenge_hex)
        return (PRIVATE.sign(data) + data).hex()

    def test_authorized_key(self):
        """A signature of the challenge by an authorized key is accepted, authid from the key's principal."""
        m = machine()
        challenge = only(m.receive(hello(["cryptosign"], authextra={"pubkey": PUBKEY})))
        assert len(bytes.fromhex(challenge.extra["challenge"])) == 32
        welcome = only(m.receive(Authenticate(self.sign(challenge.extra["challenge"]))))
        assert (welcome.authid, welcome.authrole, welcome.authmethod) == ("alice", "user", "cryptosign")

    def test_unauthorized_key_and_bad_signature(self):
        """An unknown key and a signature over other data are both refused alike."""
        other = Ed25519PrivateKey.generate()
        other_pub = other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        m = machine()
        challenge = only(m.receive(hello(["cryptosign"], authextra={"pubkey": other_pub})))
        data = bytes.fromhex(challenge.extra["challenge"])
        assert only(m.receive(Authenticate((other.sign(data) + data).hex()))).reason == "wamp.error.authentication_failed"
        m = machine()
        challenge = only(m.receive(hello(["cryptosign"], authextra={"pubkey": PUBKEY})))
        forged = (PRIVATE.sign(b"x" * 32) + bytes.fromhex(challenge.extra["challenge"])).hex()
        assert only(m.receive(Authenticate(forged))).reason == "wamp.error.authentication_failed"

    def test_missing_pubkey(self):
        """cryptosign without authextra.pubkey is refused with invalid_argument."""
        assert only(machine().receive(hello(["cryptosign"]))).reason == "wamp.error.invalid_argument"


class TestMethodSelection:
    def test_client_order_is_honoured(self):
        """The first of the client's authmethods that the listener accepts is used."""
        m = machine()
        assert isinstance(only(m.receive(hello(["wampcra", "anonymous"], "peter"))), Challenge)
        m = machine()
        welcome = only(m.receive(hello(["anonymous", "wampcra"], "peter")))
        assert (welcome.authmethod, welcome.authrole) == ("anonymous", "guest")

    def test_no_matching_method(self):
        """Methods the listener does not offer get no_matching_auth_method."""
        m = SessionMachine(router(), methods={"ticket": METHODS["ticket"]})
        assert only(m.receive(hello(["anonymous"]))).reason == "wamp.error.no_matching_auth_method"

    def test_unknown_role_refused(self):
        """A session whose role the realm does not define gets no_such_role."""
        m = SessionMachine(router(), methods={"anonymous": AnonymousMethod("nobody")})
        assert only(m.receive(hello(["anonymous"]))).reason == "wamp.error.no_such_role"


class TestAuthorization:
    def joined_as(self, r, method="anonymous"):
        m = SessionMachine(r, link=object(), methods=METHODS)
        assert isinstance(only(m.receive(hello([method]))), Welcome)
        return m

    @pytest.mark.parametrize(
        "message, allowed",
        [
            (Subscribe(1, "com.public.news"), True),
            (Subscribe(1, "com.private.news"), False),
            (Call(1, "com.public.time"), True),
            (Register(1, "com.public.time"), False),
            (Publish(1, "com.public.news", acknowledge=True), False),
        ],
    )
    def test_guest_permissions(self, message, allowed):
        """Each action is allowed exactly where the role's best-matching permission allows it."""
        m = self.joined_as(router())
        reply = only(m.receive(message))
        denied = getattr(reply, "error", None) == "wamp.error.not_authorized"
        assert denied is not allowed

    def test_denied_unacknowledged_publish_is_silent(self):
        """A denied PUBLISH without acknowledge gets no reply."""
        m = self.joined_as(router())
        assert m.receive(Publish(1, "com.public.news")) == []

    def test_meta_procedures_obey_permissions(self):
        """Meta procedures are authorized like any URI: a guest may not call wamp.session.count."""
        m = self.joined_as(router())
        assert only(m.receive(Call(1, "wamp.session.count"))).error == "wamp.error.not_authorized"

    def test_role_disclose_caller(self):
        """A permission with disclose.caller discloses the caller in INVOCATION."""
        roles = {"anonymous": (Permission("com.", "prefix", call=True, register=True, disclose_caller=True),)}
        r = Router(RouterOptions(realms={"realm1": RealmOptions(roles=roles)}))
        callee = SessionMachine(r, link=object())
        callee.receive(hello(None))
        caller = SessionMachine(r, link=object())
        caller.receive(hello(None))
        callee.receive(Register(1, "com.p"))
        (_, invocation), = caller.receive(Call(1, "com.p"))
        assert invocation.caller == caller.peer.session_id


class TestTlsClientCertificate:
    FINGERPRINT = "AB:" * 31 + "CD"

    def machine(self, peer_cert):
        from router.auth.tls import TlsMethod, TlsPrincipal

        methods = {"tls": TlsMethod({"device7": TlsPrincipal(self.FINGERPRINT.replace(":", "").lower(), "user")})}
        return SessionMachine(router(), link=object(), transport_info={"peer_cert": peer_cert}, methods=methods)

    def test_known_certificate(self):
        """A client certificate whose SHA-256 fingerprint is configured authenticates as its principal."""
        welcome = only(self.machine({"sha256": self.FINGERPRINT}).receive(hello(["tls"])))
        assert (welcome.authid, welcome.authrole, welcome.authmethod) == ("device7", "user", "tls")

    def test_unknown_or_missing_certificate(self):
        """No certificate, an unknown one, or a mismatching authid is refused with authentication_failed."""
        for cert, authid in (({}, None), ({"sha256": "00" * 32}, None), ({"sha256": self.FINGERPRINT}, "other")):
            abort = only(self.machine(cert).receive(hello(["tls"], authid)))
            assert abort.reason == "wamp.error.authentication_failed"
