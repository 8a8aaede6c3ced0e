"""
Dynamic authentication: an authenticator procedure registered by a component decides (in memory).
"""

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.auth import compute_wcs
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from router.auth.anonymous import AnonymousMethod
from router.auth.dynamic import DynamicMethod
from router.testing import MemoryRouter

KEY = Ed25519PrivateKey.generate()
PUBKEY = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def authenticate(realm, authid, details):
    """
    The authenticator a trusted component registers: knows joe's ticket, peter's secret, one key.
    """
    if details["authmethod"] == "ticket":
        if authid == "joe" and details["ticket"] == "s3cret":
            return {"role": "user", "extra": {"greeting": "hi joe"}}
        raise ApplicationError("com.example.denied", "bad ticket")
    if details["authmethod"] == "wampcra" and authid == "peter":
        return {"secret": "secret1", "role": "admin"}
    if details["authmethod"] == "cryptosign" and details["authextra"].get("pubkey") == PUBKEY:
        return {"authid": "alice", "role": "user"}
    raise ApplicationError("com.example.denied", "unknown")


class Client(ApplicationSession):
    """
    A client that authenticates with one method and records how it ended.
    """

    def __init__(self, method, authid=None, secret=None, authextra=None):
        ApplicationSession.__init__(self, ComponentConfig(realm="realm1"))
        self.method, self.login, self.secret, self.extra = method, authid, secret, authextra
        self.welcome = None
        self.close_reason = None

    def onConnect(self):
        self.join("realm1", authmethods=[self.method], authid=self.login, authextra=self.extra)

    def onChallenge(self, challenge):
        if challenge.method == "ticket":
            return self.secret
        if challenge.method == "wampcra":
            return compute_wcs(self.secret.encode(), challenge.extra["challenge"].encode()).decode()
        data = bytes.fromhex(challenge.extra["challenge"])
        return (KEY.sign(data) + data).hex()

    def onJoin(self, details):
        self.welcome = details

    def onLeave(self, details):
        self.close_reason = details.reason
        ApplicationSession.onLeave(self, details)


def setup():
    router = MemoryRouter()
    backend = router.join(methods={"anonymous": AnonymousMethod("trusted")})
    backend.register(authenticate, "com.example.authenticate")
    methods = {name: DynamicMethod(name, "com.example.authenticate", "realm1")
               for name in ("ticket", "wampcra", "cryptosign")}
    return router, methods


def test_ticket_accepted_and_denied():
    """The authenticator's role and extra reach WELCOME; its error refuses the session with authentication_failed."""
    router, methods = setup()
    good = router.join(Client("ticket", "joe", "s3cret"), methods=methods)
    assert (good.welcome.authid, good.welcome.authrole, good.welcome.authmethod, good.welcome.authprovider) == (
        "joe", "user", "ticket", "dynamic")
    assert good.welcome.authextra == {"greeting": "hi joe"}
    bad = router.join(Client("ticket", "joe", "wrong"), methods=methods)
    assert bad.welcome is None and bad.close_reason == "wamp.error.authentication_failed"


def test_wampcra_with_secret_from_authenticator():
    """WAMP-CRA uses the secret the authenticator returns; an unknown user gets a challenge and fails."""
    router, methods = setup()
    good = router.join(Client("wampcra", "peter", "secret1"), methods=methods)
    assert (good.welcome.authrole, good.welcome.authprovider) == ("admin", "dynamic")
    bad = router.join(Client("wampcra", "mallory", "secret1"), methods=methods)
    assert bad.close_reason == "wamp.error.authentication_failed"


def test_cryptosign_key_authorized_by_authenticator():
    """A key the authenticator accepts authenticates as the authid it names."""
    router, methods = setup()
    good = router.join(Client("cryptosign", authextra={"pubkey": PUBKEY}), methods=methods)
    assert (good.welcome.authid, good.welcome.authrole) == ("alice", "user")


def test_no_authenticator_registered():
    """Without the authenticator procedure, sessions are refused and nothing else breaks."""
    router = MemoryRouter()
    methods = {"ticket": DynamicMethod("ticket", "com.example.nobody", "realm1")}
    client = router.join(Client("ticket", "joe", "s3cret"), methods=methods)
    assert client.welcome is None and client.close_reason == "wamp.error.authentication_failed"
    assert router.join().is_attached()


def test_scram_with_credentials_from_authenticator():
    """WAMP-SCRAM checks the client proof against the stored keys the authenticator returns."""
    import base64

    from autobahn.wamp.message import Authenticate, Hello
    from autobahn.wamp.role import RoleCallerFeatures

    from router.auth.scram import KDF_PBKDF2, ScramPrincipal
    from router.session import SessionMachine
    from router.transport.handler import deliver
    from tests.unit.test_scram import spec_proof

    stored = ScramPrincipal.from_password("pencil", "user", kdf=KDF_PBKDF2, iterations=1000)
    router = MemoryRouter()
    backend = router.join(methods={"anonymous": AnonymousMethod("trusted")})
    backend.register(lambda realm, authid, details: {
        "role": "user", "salt": stored.salt, "kdf": stored.kdf, "iterations": stored.iterations,
        "stored_key": base64.b64encode(stored.stored_key).decode(),
        "server_key": base64.b64encode(stored.server_key).decode()} if authid == "sam" else None,
        "com.example.authenticate")
    link = Recorder()
    machine = SessionMachine(router.router, link=link,
                             methods={"wamp-scram": DynamicMethod("wamp-scram", "com.example.authenticate", "realm1")})
    deliver(machine.receive(Hello("realm1", {"caller": RoleCallerFeatures()}, authmethods=["wamp-scram"],
                                  authid="sam", authextra={"nonce": "bm9uY2U="})))
    (challenge,) = link.sent
    proof, verifier = spec_proof("pencil", "sam", "bm9uY2U=", challenge)
    deliver(machine.receive(Authenticate(proof, {"nonce": challenge.extra["nonce"]})))
    welcome = link.sent[-1]
    assert (welcome.authid, welcome.authrole, welcome.authprovider) == ("sam", "user", "dynamic")
    assert welcome.authextra == {"verifier": verifier}


class Recorder:
    """
    A session machine's link that records what is sent to it.
    """

    def __init__(self):
        self.sent = []

    def send(self, msg):
        self.sent.append(msg)


def test_tls_certificate_decided_by_authenticator():
    """The authenticator sees the client certificate and names the principal; without a certificate, refused."""
    from autobahn.wamp.message import Hello
    from autobahn.wamp.role import RoleCallerFeatures

    from router.session import SessionMachine
    from router.transport.handler import deliver

    router = MemoryRouter()
    backend = router.join(methods={"anonymous": AnonymousMethod("trusted")})
    backend.register(lambda realm, authid, details: {"authid": details["transport"]["peer_cert"]["subject"]["cn"],
                                                     "role": "device"}, "com.example.authenticate")
    methods = {"tls": DynamicMethod("tls", "com.example.authenticate", "realm1")}
    for cert, expected in (({"subject": {"cn": "sensor-9"}, "sha256": "AB"}, "sensor-9"), (None, None)):
        link = Recorder()
        machine = SessionMachine(router.router, link=link, transport_info={"peer_cert": cert} if cert else {},
                                 methods=methods)
        deliver(machine.receive(Hello("realm1", {"caller": RoleCallerFeatures()}, authmethods=["tls"])))
        (reply,) = link.sent
        if expected:
            assert (reply.authid, reply.authrole, reply.authmethod) == (expected, "device", "tls")
        else:
            assert reply.reason == "wamp.error.authentication_failed"
