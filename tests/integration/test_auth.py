"""
Authentication and authorization with real Autobahn|Python clients over loopback (WebSocket and
RawSocket over TCP, JSON and MessagePack), each on plain listeners (ws://, RawSocket) and on TLS
listeners (wss://, RawSocket-TLS): ticket, WAMP-CRA (plain and salted), cryptosign (also bound to
the TLS channel), WAMP-SCRAM and anonymous logins and their refusals, the router seeing the session's
transport as secure exactly over TLS, role permissions on every action, a TLS configuration file
with several methods and roles, and secrets taken from the environment by a configuration file.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from autobahn.wamp.auth import AuthScram, compute_wcs, derive_key
from autobahn.wamp.cryptosign import CryptosignKey
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, PublishOptions, RegisterOptions
from twisted.internet import defer

from router.auth.anonymous import AnonymousMethod
from router.auth.cryptosign import CryptosignMethod, CryptosignPrincipal
from router.auth.scram import KDF_ARGON2, METHOD_DRAFT, ScramMethod, ScramPrincipal
from router.auth.ticket import TicketMethod, TicketPrincipal
from router.auth.wampcra import CraMethod, CraPrincipal
from router.authorizer import Permission
from router.config import Config, ConfigError, ListenerConfig, load_config
from router.core import RealmOptions, RouterOptions
from router.service import RouterService
from router.transport.tls import TLSOptions
from tests.conftest import dev_tls
from tests.support import Client, RunningRouter, client_factory, sleep, with_timeout

AUTHENTICATION_FAILED = "wamp.error.authentication_failed"
NO_MATCHING_AUTH_METHOD = "wamp.error.no_matching_auth_method"
NOT_AUTHORIZED = "wamp.error.not_authorized"

#: the seed of alice's authorized cryptosign key (tests/js/auth.js derives the same key from it)
CRYPTOSIGN_SEED = os.urandom(32)
CRYPTOSIGN_KEY = CryptosignKey.from_bytes(CRYPTOSIGN_SEED)
#: a valid Ed25519 key nobody authorized
STRANGER_KEY = CryptosignKey.from_bytes(os.urandom(32))

#: the salted WAMP-CRA principal's password and key derivation parameters
SALT, ITERATIONS, KEYLEN = "pepper-and-salt", 100, 32

#: the SCRAM principal (Argon2id with small costs, so logins stay fast)
SCRAM_PRINCIPAL = ScramPrincipal.from_password("pencil", "user", kdf=KDF_ARGON2, iterations=2, memory=1024)


def auth_methods() -> dict[str, Any]:
    """
    The methods of the main listener: one principal per role and method.
    """
    return {
        "ticket": TicketMethod({
            "joe": TicketPrincipal("s3cret", "user"),
            "rita": TicketPrincipal("r3ad", "reader"),
            "boss": TicketPrincipal("b0ss", "admin"),
        }),
        "wampcra": CraMethod({
            "peter": CraPrincipal("secret1", "user"),
            "salty": CraPrincipal("secret2", "admin", salt=SALT, iterations=ITERATIONS, keylen=KEYLEN),
        }),
        "cryptosign": CryptosignMethod({"alice": CryptosignPrincipal((CRYPTOSIGN_KEY.public_key(),), "user")}),
        # the draft variant under the name Autobahn|Python's SCRAM client asks for
        "scram": ScramMethod({"sam": SCRAM_PRINCIPAL}, METHOD_DRAFT),
        "anonymous": AnonymousMethod("guest"),
    }


ALL = {"call": True, "register": True, "publish": True, "subscribe": True}

#: realm1's roles; "user" shows the precedence of exact, prefix and wildcard permissions
ROLES = {
    "admin": (Permission("", "prefix", **ALL),),
    "user": (
        Permission("com.app.", "prefix", **ALL),
        Permission("com.app.admin", "exact"),
        Permission("com.app.locked.", "prefix"),
        Permission("com.app.locked.open", "exact", call=True),
        Permission("com.app.disclosed", "exact", call=True, disclose_caller=True),
        Permission("com.wild..open", "wildcard", call=True),
        Permission("com.wild.shut.", "prefix"),
    ),
    "reader": (Permission("com.app.", "prefix", call=True, subscribe=True),),
    "guest": (Permission("com.public.", "prefix", call=True, subscribe=True),),
}

matrix = pytest.mark.parametrize("transport, serializer", [
    (transport, serializer) for transport in ("websocket", "rawsocket-tcp") for serializer in ("json", "msgpack")
])


#: how the auth router's listeners serve: plain TCP (ws://, RawSocket) or TLS (wss://, RawSocket-TLS)
LISTENER_KINDS = ("plain", "tls")


@dataclass
class AuthRouter(RunningRouter):
    """
    A router with realm1 under :data:`ROLES`: ``tcp_port`` offers every method, ``ticket_only``
    listens with ticket authentication alone; both serve TLS with ``cert_file`` if it is set.
    """

    ticket_only: RunningRouter | None = None
    #: the PEM certificate both listeners serve over TLS (``None`` for plain listeners)
    cert_file: str | None = None


def start_auth_router(tls: TLSOptions | None = None) -> AuthRouter:
    """
    Start a router with :func:`auth_methods` on one loopback port and ticket only on another, both
    serving TLS with ``tls`` if given.
    """
    config = Config(
        router=RouterOptions(realms={"realm1": RealmOptions(roles=ROLES)}),
        listeners=(
            ListenerConfig("tcp:0:interface=127.0.0.1", auth=auth_methods(), tls=tls),
            ListenerConfig("tcp:0:interface=127.0.0.1", auth={"ticket": auth_methods()["ticket"]}, tls=tls),
        ),
    )
    service = RouterService(config)
    service.startService()
    pytest_twisted.blockon(with_timeout(service.ready))
    ports = [port.getHost().port for port in service.ports]
    trust_root = Path(tls.cert).read_bytes() if tls is not None else None
    return AuthRouter(service, ports[0], "", trust_root, ticket_only=RunningRouter(service, ports[1], "", trust_root),
                      cert_file=tls.cert if tls is not None else None)


@pytest.fixture(params=LISTENER_KINDS)
def auth_router(request, tmp_path):
    """
    A running router from :func:`start_auth_router`, on plain listeners or (``tls``) on TLS listeners
    with a development certificate for localhost and 127.0.0.1; stopped after the test.
    """
    running = start_auth_router(dev_tls(tmp_path / "tls") if request.param == "tls" else None)
    yield running
    pytest_twisted.blockon(running.service.stopService())


def serves_tls(router: RunningRouter) -> bool:
    """
    Whether ``router``'s listeners serve TLS (and :func:`open_session` connects with TLS).
    """
    return router.trust_root is not None


def router_transport(router: RunningRouter, session: Any) -> dict[str, Any]:
    """
    The transport details the router keeps for a joined session (what ``wamp.session.get`` shows).
    """
    peer = router.service.router.realms[session.details.realm].peers[session.details.session]
    return peer.transport_info


# credentials: what AuthClient sends in HELLO and how it answers the challenge

def ticket(authid: str | None, secret: str) -> dict[str, Any]:
    return {"authmethods": ["ticket"], "authid": authid, "respond": lambda challenge: secret}


def wampcra(authid: str, password: str) -> dict[str, Any]:
    def respond(challenge: Any) -> str:
        extra = challenge.extra
        key = password.encode("utf-8")
        if "salt" in extra:
            key = derive_key(key, extra["salt"].encode("utf-8"), extra["iterations"], extra["keylen"])
        return compute_wcs(key, extra["challenge"].encode("utf-8")).decode("ascii")

    return {"authmethods": ["wampcra"], "authid": authid, "respond": respond}


def cryptosign(key: CryptosignKey, authid: str | None = None) -> dict[str, Any]:
    return {"authmethods": ["cryptosign"], "authid": authid, "authextra": {"pubkey": key.public_key()},
            "respond": key.sign_challenge}


def scram(authid: str, password: str) -> dict[str, Any]:
    """
    Autobahn|Python's WAMP-SCRAM client (the draft method ``scram``); ``client`` verifies the router's
    signature in WELCOME.
    """
    client = AuthScram(authid=authid, password=password)
    return {"authmethods": ["scram"], "authid": authid, "authextra": client.authextra, "client": client,
            "respond": lambda challenge: client.on_challenge(None, challenge).decode("ascii")}


def bound_cryptosign(key: CryptosignKey, channel_id: bytes | None = None) -> dict[str, Any]:
    """
    Cryptosign asking for tls-unique channel binding, signing the challenge XOR ``channel_id``, by
    default the client's own TLS channel's (see :class:`AuthClient`).
    """
    return {"authmethods": ["cryptosign"], "authextra": {"pubkey": key.public_key(), "channel_binding": "tls-unique"},
            "respond": lambda challenge, own_channel_id: key.sign_challenge(
                challenge, channel_id or own_channel_id, "tls-unique"),
            "needs_channel_id": True}


ANONYMOUS: dict[str, Any] = {"authmethods": ["anonymous"]}
ADMIN = ticket("boss", "b0ss")
USER = ticket("joe", "s3cret")
READER = ticket("rita", "r3ad")


class AuthClient(Client):
    """
    A client joining with the credentials in ``config.extra``; it keeps the challenges it answered
    and, when refused, the CloseDetails of the ABORT.
    """

    def __init__(self, config: ComponentConfig) -> None:
        Client.__init__(self, config)
        self.challenges: list[Any] = []
        self.refusal: Any = None

    def onConnect(self) -> None:
        extra = self.config.extra
        self.join(self.config.realm, authmethods=extra.get("authmethods"), authid=extra.get("authid"),
                  authextra=extra.get("authextra"))

    def onChallenge(self, challenge: Any) -> Any:
        self.challenges.append(challenge)
        if self.config.extra.get("needs_channel_id"):
            channel_id = (self._transport.transport_details.channel_id or {}).get("tls-unique")
            return self.config.extra["respond"](challenge, channel_id)
        return self.config.extra["respond"](challenge)

    def onLeave(self, details: Any) -> None:
        if not self.joined.called:
            self.refusal = details
        Client.onLeave(self, details)


@defer.inlineCallbacks
def open_session(router: RunningRouter, credentials: dict[str, Any], transport: str = "websocket",
                 serializer: str = "json") -> Any:
    """
    Connect an :class:`AuthClient` (without waiting for the join).
    """
    session = AuthClient(ComponentConfig(realm="realm1", extra=credentials))
    endpoint, factory = client_factory(router, transport, serializer, lambda: session, tls=serves_tls(router))
    yield with_timeout(endpoint.connect(factory))
    return session


@defer.inlineCallbacks
def login(router: RunningRouter, credentials: dict[str, Any], transport: str = "websocket",
          serializer: str = "json") -> Any:
    """
    Connect an :class:`AuthClient` and wait until it has joined; both ends must see a secure
    transport exactly when the router serves TLS.
    """
    session = yield open_session(router, credentials, transport, serializer)
    yield with_timeout(session.joined)
    secure = serves_tls(router)
    assert session._transport.transport_details.is_secure is secure, f"client side: is_secure is not {secure}"
    assert router_transport(router, session)["is_secure"] is secure, f"router side: is_secure is not {secure}"
    return session


@defer.inlineCallbacks
def refused_login(router: RunningRouter, credentials: dict[str, Any], transport: str = "websocket",
                  serializer: str = "json") -> Any:
    """
    Connect an :class:`AuthClient` that must be refused; returns it with ``refusal`` set.
    """
    session = yield open_session(router, credentials, transport, serializer)
    session.joined.addErrback(lambda failure: None)  # the refusal is checked through `refusal`
    yield with_timeout(session.left)
    assert not session.is_attached(), "the session joined although it should have been refused"
    assert session.refusal is not None, "the client left without an ABORT"
    return session


@defer.inlineCallbacks
def outcome(d: Any) -> Any:
    """
    ``("ok", result)`` or ``("error", error URI)`` of a WAMP request.
    """
    try:
        result = yield with_timeout(d)
    except ApplicationError as e:
        return ("error", e.error)
    return ("ok", result)


class Inbox:
    """
    A subscription handler keeping the events' positional arguments, with a wait for the first one.
    """

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.first: defer.Deferred[None] = defer.Deferred()

    def __call__(self, *args: Any) -> None:
        self.events.append(args)
        if not self.first.called:
            self.first.callback(None)


class Callee:
    """
    A prefix registration (``com.`` by default) answering with the called procedure, keeping each call's details.
    """

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, *args: Any, details: Any) -> str:
        self.calls.append(details)
        return details.procedure

    @defer.inlineCallbacks
    def register(self, session: Any, prefix: str = "com.") -> Any:
        yield with_timeout(session.register(self, prefix, options=RegisterOptions(match="prefix",
                                                                                  details_arg="details")))
        return self


def assert_details(details: Any, authid: str, authrole: str, authmethod: str) -> None:
    assert (details.authid, details.authrole, details.authmethod, details.authprovider) == (
        authid, authrole, authmethod, "static")


# authentication

@matrix
@pytest_twisted.inlineCallbacks
def test_ticket_login(auth_router, transport, serializer):
    """The right ticket joins with the authid, the principal's role, authmethod ticket and authprovider static."""
    session = yield login(auth_router, USER, transport, serializer)
    assert [c.method for c in session.challenges] == ["ticket"]
    assert_details(session.details, "joe", "user", "ticket")
    assert session.details.realm == "realm1"


@matrix
@pytest_twisted.inlineCallbacks
def test_wampcra_login(auth_router, transport, serializer):
    """A WAMP-CRA signature of the challenge with the plain secret joins as the principal's role."""
    session = yield login(auth_router, wampcra("peter", "secret1"), transport, serializer)
    challenge = session.challenges[0]
    assert challenge.method == "wampcra" and "salt" not in challenge.extra
    assert_details(session.details, "peter", "user", "wampcra")


@matrix
@pytest_twisted.inlineCallbacks
def test_wampcra_salted_login(auth_router, transport, serializer):
    """A salted principal's challenge names salt, iterations and keylen, and the derived key's signature joins."""
    session = yield login(auth_router, wampcra("salty", "secret2"), transport, serializer)
    extra = session.challenges[0].extra
    assert (extra["salt"], extra["iterations"], extra["keylen"]) == (SALT, ITERATIONS, KEYLEN)
    assert_details(session.details, "salty", "admin", "wampcra")


@matrix
@pytest_twisted.inlineCallbacks
def test_cryptosign_login(auth_router, transport, serializer):
    """A signature by an authorized key joins as the key's principal, found by the public key alone."""
    session = yield login(auth_router, cryptosign(CRYPTOSIGN_KEY), transport, serializer)
    assert [c.method for c in session.challenges] == ["cryptosign"]
    assert_details(session.details, "alice", "user", "cryptosign")


@pytest_twisted.inlineCallbacks
def test_cryptosign_login_with_authid(auth_router):
    """A cryptosign client naming its own authid joins under it."""
    session = yield login(auth_router, cryptosign(CRYPTOSIGN_KEY, authid="alice"))
    assert_details(session.details, "alice", "user", "cryptosign")


@pytest.mark.parametrize("transport", ["websocket", "rawsocket-tcp"])
@pytest_twisted.inlineCallbacks
def test_cryptosign_channel_binding(auth_router, transport):
    """A tls-unique-bound cryptosign signature joins over TLS with its own channel id, not with another or on plain."""
    forged = yield refused_login(auth_router, bound_cryptosign(CRYPTOSIGN_KEY, os.urandom(32)), transport)
    assert forged.challenges[0].extra["channel_binding"] == "tls-unique"
    assert forged.refusal.reason == AUTHENTICATION_FAILED
    if serves_tls(auth_router):
        session = yield login(auth_router, bound_cryptosign(CRYPTOSIGN_KEY), transport)
        assert_details(session.details, "alice", "user", "cryptosign")
        own = session._transport.transport_details.channel_id["tls-unique"]
        assert own not in (None, b"\x00" * 32)
        assert router_transport(auth_router, session)["channel_id"]["tls-unique"] == own


@matrix
@pytest_twisted.inlineCallbacks
def test_scram_login(auth_router, transport, serializer):
    """Autobahn|Python's SCRAM client joins with the right password, verifies the router, and a wrong one is refused."""
    right = scram("sam", "pencil")
    session = yield login(auth_router, right, transport, serializer)
    assert [c.method for c in session.challenges] == ["scram"]
    assert (session.details.authid, session.details.authrole, session.details.authmethod) == ("sam", "user", "scram")
    assert right["client"].on_welcome(session, session.details.authextra) is None
    wrong = yield refused_login(auth_router, scram("sam", "eraser"), transport, serializer)
    assert wrong.refusal.reason == AUTHENTICATION_FAILED


@matrix
@pytest_twisted.inlineCallbacks
def test_anonymous_login(auth_router, transport, serializer):
    """An anonymous client joins without a challenge as the configured role with a random authid."""
    session = yield login(auth_router, ANONYMOUS, transport, serializer)
    other = yield login(auth_router, {}, transport, serializer)
    assert session.challenges == [] and other.challenges == []
    for details in (session.details, other.details):
        assert (details.authrole, details.authmethod, details.authprovider) == ("guest", "anonymous", "static")
        assert details.authid
    assert session.details.authid != other.details.authid


@matrix
@pytest_twisted.inlineCallbacks
def test_wrong_ticket_and_unknown_authid_look_alike(auth_router, transport, serializer):
    """A wrong ticket and an unknown authid are both challenged and refused with the same ABORT."""
    wrong = yield refused_login(auth_router, ticket("joe", "wrong"), transport, serializer)
    unknown = yield refused_login(auth_router, ticket("nobody", "s3cret"), transport, serializer)
    assert [c.method for c in wrong.challenges] == [c.method for c in unknown.challenges] == ["ticket"]
    assert wrong.refusal.reason == AUTHENTICATION_FAILED and wrong.refusal.message
    assert (unknown.refusal.reason, unknown.refusal.message) == (wrong.refusal.reason, wrong.refusal.message)


@matrix
@pytest_twisted.inlineCallbacks
def test_wrong_wampcra_signature(auth_router, transport, serializer):
    """A WAMP-CRA signature made with the wrong secret (plain or salted) is refused."""
    plain = yield refused_login(auth_router, wampcra("peter", "wrong"), transport, serializer)
    salted = yield refused_login(auth_router, wampcra("salty", "wrong"), transport, serializer)
    assert plain.refusal.reason == salted.refusal.reason == AUTHENTICATION_FAILED


@pytest_twisted.inlineCallbacks
def test_unknown_wampcra_authid_looks_salted(auth_router):
    """An unknown WAMP-CRA authid gets a salted challenge like a salted principal's, then the same refusal."""
    unknown = yield refused_login(auth_router, wampcra("nobody", "secret1"))
    salted = yield refused_login(auth_router, wampcra("salty", "wrong"))
    assert set(unknown.challenges[0].extra) == set(salted.challenges[0].extra)
    assert (unknown.refusal.reason, unknown.refusal.message) == (salted.refusal.reason, salted.refusal.message)


@matrix
@pytest_twisted.inlineCallbacks
def test_unauthorized_cryptosign_key(auth_router, transport, serializer):
    """A valid signature by a key no principal authorized is refused, also when it claims an authid."""
    stranger = yield refused_login(auth_router, cryptosign(STRANGER_KEY), transport, serializer)
    impostor = yield refused_login(auth_router, cryptosign(STRANGER_KEY, authid="alice"), transport, serializer)
    assert stranger.refusal.reason == impostor.refusal.reason == AUTHENTICATION_FAILED


@matrix
@pytest_twisted.inlineCallbacks
def test_method_not_offered(auth_router, transport, serializer):
    """HELLO offering only methods the listener does not configure gets no_matching_auth_method, no challenge."""
    cra = yield refused_login(auth_router.ticket_only, wampcra("peter", "secret1"), transport, serializer)
    anonymous = yield refused_login(auth_router.ticket_only, ANONYMOUS, transport, serializer)
    for session in (cra, anonymous):
        assert session.refusal.reason == NO_MATCHING_AUTH_METHOD
        assert session.challenges == []
    joe = yield login(auth_router.ticket_only, USER, transport, serializer)
    assert_details(joe.details, "joe", "user", "ticket")


@pytest.mark.parametrize("transport", ["websocket", "rawsocket-tcp"])
@pytest_twisted.inlineCallbacks
def test_meta_api_shows_each_method_and_transport_security(auth_router, transport):
    """wamp.session.get names each method's session with its authmethod and is_secure exactly over TLS."""
    admin = yield login(auth_router, ADMIN, transport)
    logins = {
        "ticket": USER,
        "wampcra": wampcra("salty", "secret2"),
        "cryptosign": cryptosign(CRYPTOSIGN_KEY),
        "scram": scram("sam", "pencil"),
        "anonymous": ANONYMOUS,
    }
    for method, credentials in logins.items():
        session = yield login(auth_router, credentials, transport)
        result = yield outcome(admin.call("wamp.session.get", session.details.session))
        assert result[0] == "ok", (method, result)
        seen = result[1]
        assert (seen["session"], seen["authid"], seen["authmethod"]) == (
            session.details.session, session.details.authid, method)
        assert seen["transport"]["is_secure"] is serves_tls(auth_router), (method, seen["transport"])


@pytest_twisted.inlineCallbacks
def test_others_unaffected_by_refused_login(auth_router):
    """After a refused login, a session joined before and one joined after both keep calling."""
    admin = yield login(auth_router, ADMIN, "rawsocket-tcp", "msgpack")
    callee = yield Callee().register(admin)
    yield refused_login(auth_router, ticket("joe", "wrong"))
    yield refused_login(auth_router, cryptosign(STRANGER_KEY), "rawsocket-tcp", "json")
    user = yield login(auth_router, USER)
    assert (yield with_timeout(user.call("com.app.after"))) == "com.app.after"
    assert (yield with_timeout(admin.call("com.app.before"))) == "com.app.before"
    assert len(callee.calls) == 2
    assert set(auth_router.service.router.sessions) == {admin._session_id, user._session_id}


# authorization

def do(action: str, session: Any, uri: str) -> Any:
    """
    Perform ``action`` on ``uri``, acknowledged where WAMP allows; a Deferred of its outcome.
    """
    if action == "call":
        return outcome(session.call(uri))
    if action == "register":
        return outcome(session.register(lambda: None, uri))
    if action == "publish":
        return outcome(session.publish(uri, options=PublishOptions(acknowledge=True)))
    return outcome(session.subscribe(lambda *args: None, uri))


@pytest.mark.parametrize("action", ("call", "register", "publish", "subscribe"))
@matrix
@pytest_twisted.inlineCallbacks
def test_action_denied_without_permission(auth_router, transport, serializer, action):
    """An action is allowed under a URI the role permits it on and refused with not_authorized elsewhere."""
    admin = yield login(auth_router, ADMIN)
    callee = yield Callee().register(admin)
    user = yield login(auth_router, USER, transport, serializer)
    allowed = yield do(action, user, "com.app.thing")
    assert allowed[0] == "ok", allowed
    denied = yield do(action, user, "com.other.thing")
    assert denied == ("error", NOT_AUTHORIZED)
    assert [details.procedure for details in callee.calls] == (["com.app.thing"] if action == "call" else [])


@matrix
@pytest_twisted.inlineCallbacks
def test_permissions_are_per_action(auth_router, transport, serializer):
    """A role allowed to call and subscribe under a prefix does both there and is refused registering and publishing."""
    admin = yield login(auth_router, ADMIN)
    yield Callee().register(admin)
    reader = yield login(auth_router, READER, transport, serializer)
    inbox = Inbox()
    yield with_timeout(reader.subscribe(inbox, "com.app.news"))
    assert (yield outcome(reader.call("com.app.echo"))) == ("ok", "com.app.echo")
    yield with_timeout(admin.publish("com.app.news", "hello", options=PublishOptions(acknowledge=True)))
    yield with_timeout(inbox.first)
    assert inbox.events == [("hello",)]
    assert (yield do("register", reader, "com.app.mine")) == ("error", NOT_AUTHORIZED)
    assert (yield do("publish", reader, "com.app.news")) == ("error", NOT_AUTHORIZED)


@pytest_twisted.inlineCallbacks
def test_denied_unacknowledged_publish_is_dropped(auth_router):
    """A publish without acknowledge the role may not do reaches no subscriber and leaves the session working."""
    admin = yield login(auth_router, ADMIN)
    inbox = Inbox()
    yield with_timeout(admin.subscribe(inbox, "com.other.topic"))
    yield Callee().register(admin)
    user = yield login(auth_router, USER)
    user.publish("com.other.topic", "forbidden")
    assert (yield outcome(user.call("com.app.after"))) == ("ok", "com.app.after")
    yield sleep(0.2)
    assert inbox.events == []


PRECEDENCE = [
    # (procedure, the user's call allowed?, why)
    ("com.app.echo", True, "prefix com.app. allows"),
    ("com.app.admin", False, "exact com.app.admin beats prefix com.app."),
    ("com.app.admin.sub", True, "exact com.app.admin does not cover longer URIs"),
    ("com.app.locked.x", False, "the longer prefix com.app.locked. beats com.app."),
    ("com.app.locked.open", True, "exact com.app.locked.open beats prefix com.app.locked."),
    ("com.wild.any.open", True, "wildcard com.wild..open allows"),
    ("com.wild.any.closed", False, "nothing matches"),
    ("com.wild.shut.open", False, "prefix com.wild.shut. beats wildcard com.wild..open"),
]


@pytest.mark.parametrize("procedure, allowed, why", PRECEDENCE, ids=[p for p, _, _ in PRECEDENCE])
@pytest_twisted.inlineCallbacks
def test_permission_precedence(auth_router, procedure, allowed, why):
    """The permission deciding a call is the exact one, else the longest prefix, else the best wildcard."""
    admin = yield login(auth_router, ADMIN)
    callee = yield Callee().register(admin)
    user = yield login(auth_router, USER, "rawsocket-tcp", "msgpack")
    result = yield outcome(user.call(procedure))
    assert result == (("ok", procedure) if allowed else ("error", NOT_AUTHORIZED)), why
    assert len(callee.calls) == (1 if allowed else 0), why


@matrix
@pytest_twisted.inlineCallbacks
def test_meta_procedure_needs_permission(auth_router, transport, serializer):
    """wamp.session.count is refused to a role without permission on it and answered for the admin role."""
    user = yield login(auth_router, USER, transport, serializer)
    admin = yield login(auth_router, ADMIN, transport, serializer)
    assert (yield outcome(user.call("wamp.session.count"))) == ("error", NOT_AUTHORIZED)
    assert (yield outcome(admin.call("wamp.session.count"))) == ("ok", 2)


@matrix
@pytest_twisted.inlineCallbacks
def test_disclose_caller_permission(auth_router, transport, serializer):
    """A permission with disclose.caller shows the caller's session, authid and authrole to the callee, others not."""
    admin = yield login(auth_router, ADMIN, transport, serializer)
    callee = yield Callee().register(admin)
    user = yield login(auth_router, USER, transport, serializer)
    assert (yield outcome(user.call("com.app.disclosed"))) == ("ok", "com.app.disclosed")
    assert (yield outcome(user.call("com.app.echo"))) == ("ok", "com.app.echo")
    disclosed, hidden = callee.calls
    assert (disclosed.caller, disclosed.caller_authid, disclosed.caller_authrole) == (user._session_id, "joe", "user")
    assert (hidden.caller, hidden.caller_authid, hidden.caller_authrole) == (None, None, None)


@pytest_twisted.inlineCallbacks
def test_anonymous_role_permissions(auth_router):
    """The anonymous role gets exactly its own permissions: calls under com.public. but not under com.app."""
    admin = yield login(auth_router, ADMIN)
    yield Callee().register(admin)
    guest = yield login(auth_router, ANONYMOUS, "rawsocket-tcp", "json")
    assert (yield outcome(guest.call("com.public.time"))) == ("ok", "com.public.time")
    assert (yield outcome(guest.call("com.app.echo"))) == ("error", NOT_AUTHORIZED)
    assert (yield do("register", guest, "com.public.mine")) == ("error", NOT_AUTHORIZED)


# a TLS configuration file with several methods and roles

TLS_CONFIG = """\
realms:
  - name: realm1
    roles:
      - name: operator
        permissions:
          - uri: com.ops.
            match: prefix
            allow: {{call: true, register: true, publish: true, subscribe: true}}
          - uri: wamp.session.
            match: prefix
            allow: {{call: true}}
      - name: viewer
        permissions:
          - uri: com.ops.
            match: prefix
            allow: {{call: true, subscribe: true}}
listeners:
  - endpoint: "tcp:0:interface=127.0.0.1"
    tls:
      key: "{key}"
      cert: "{cert}"
    auth:
      ticket:
        type: static
        principals:
          joe: {{ticket: s3cret, role: operator}}
      wampcra:
        type: static
        users:
          peter: {{secret: secret1, role: viewer}}
          salty: {{secret: secret2, role: operator, salt: {salt}, iterations: {iterations}, keylen: {keylen}}}
      cryptosign:
        type: static
        principals:
          alice: {{authorized_keys: ["{pubkey}"], role: viewer}}
      anonymous:
        role: viewer
"""


@pytest_twisted.inlineCallbacks
def test_tls_config_with_several_methods_and_roles(tmp_path):
    """A YAML config with a TLS listener, four methods and two roles admits each method over TLS and enforces roles."""
    tls = dev_tls(tmp_path / "tls")
    path = tmp_path / "wampd.yaml"
    path.write_text(TLS_CONFIG.format(key=tls.key, cert=tls.cert, salt=SALT, iterations=ITERATIONS, keylen=KEYLEN,
                                      pubkey=CRYPTOSIGN_KEY.public_key()))
    config = load_config(str(path))
    assert config.listeners[0].tls is not None
    service = RouterService(config)
    service.startService()
    try:
        yield with_timeout(service.ready)
        running = RunningRouter(service, service.ports[0].getHost().port, "", Path(tls.cert).read_bytes())
        # every login below goes over wss:// unless named otherwise, and login() checks is_secure on both ends
        joe = yield login(running, ticket("joe", "s3cret"))
        salty = yield login(running, wampcra("salty", "secret2"), "rawsocket-tcp", "msgpack")
        peter = yield login(running, wampcra("peter", "secret1"))
        alice = yield login(running, cryptosign(CRYPTOSIGN_KEY), "rawsocket-tcp", "json")
        guest = yield login(running, ANONYMOUS)
        for session, expected in [(joe, ("joe", "operator", "ticket")), (salty, ("salty", "operator", "wampcra")),
                                  (peter, ("peter", "viewer", "wampcra")), (alice, ("alice", "viewer", "cryptosign"))]:
            assert_details(session.details, *expected)
        assert (guest.details.authrole, guest.details.authmethod) == ("viewer", "anonymous")

        # operators register and publish; viewers call and subscribe
        callee = yield Callee().register(joe, "com.ops.")
        inbox = Inbox()
        yield with_timeout(alice.subscribe(inbox, "com.ops.news"))
        yield with_timeout(salty.publish("com.ops.news", "up", options=PublishOptions(acknowledge=True)))
        yield with_timeout(inbox.first)
        assert inbox.events == [("up",)]
        for viewer in (peter, alice, guest):
            assert (yield outcome(viewer.call("com.ops.status"))) == ("ok", "com.ops.status")
            assert (yield do("register", viewer, "com.ops.mine")) == ("error", NOT_AUTHORIZED)
            assert (yield do("publish", viewer, "com.ops.news")) == ("error", NOT_AUTHORIZED)
            assert (yield do("call", viewer, "wamp.session.count")) == ("error", NOT_AUTHORIZED)
        assert len(callee.calls) == 3
        assert (yield do("subscribe", joe, "com.other.topic")) == ("error", NOT_AUTHORIZED)
        assert (yield outcome(salty.call("com.ops.status"))) == ("ok", "com.ops.status")

        # an operator sees through the meta API that the others are on TLS
        seen = yield outcome(joe.call("wamp.session.get", alice.details.session))
        assert seen[0] == "ok" and seen[1]["authmethod"] == "cryptosign"
        assert seen[1]["transport"]["is_secure"] is True

        # wrong credentials are refused over TLS as well
        wrong = yield refused_login(running, ticket("joe", "wrong"))
        assert wrong.refusal.reason == AUTHENTICATION_FAILED
        stranger = yield refused_login(running, cryptosign(STRANGER_KEY), "rawsocket-tcp")
        assert stranger.refusal.reason == AUTHENTICATION_FAILED
    finally:
        yield service.stopService()


# secrets from the environment

ENV_CONFIG = """\
realms:
  - name: realm1
    roles:
      - name: user
        permissions:
          - uri: com.app.
            match: prefix
            allow: {call: true, register: true}
listeners:
  - endpoint: "tcp:0:interface=127.0.0.1"
    auth:
      ticket:
        type: static
        principals:
          joe: {ticket: "${WAMPD_TEST_TICKET}", role: user}
"""


@pytest_twisted.inlineCallbacks
def test_ticket_from_environment(tmp_path, monkeypatch):
    """A configured ticket written ${NAME} is the environment variable's value, not the placeholder."""
    monkeypatch.setenv("WAMPD_TEST_TICKET", "from-the-env-42")
    path = tmp_path / "wampd.yaml"
    path.write_text(ENV_CONFIG)
    service = RouterService(load_config(str(path)))
    service.startService()
    try:
        yield with_timeout(service.ready)
        running = RunningRouter(service, service.ports[0].getHost().port, "")
        joe = yield login(running, ticket("joe", "from-the-env-42"))
        assert_details(joe.details, "joe", "user", "ticket")
        yield with_timeout(joe.register(lambda: "ok", "com.app.ping"))
        assert (yield outcome(joe.call("com.app.ping"))) == ("ok", "ok")
        literal = yield refused_login(running, ticket("joe", "${WAMPD_TEST_TICKET}"))
        assert literal.refusal.reason == AUTHENTICATION_FAILED
    finally:
        yield service.stopService()


def test_missing_environment_variable(tmp_path, monkeypatch):
    """A ${NAME} secret whose variable is unset stops loading with the key path and the variable's name."""
    monkeypatch.delenv("WAMPD_TEST_TICKET", raising=False)
    path = tmp_path / "wampd.yaml"
    path.write_text(ENV_CONFIG)
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    assert error.value.path == "listeners[0].auth.ticket.principals.joe.ticket"
    assert "WAMPD_TEST_TICKET" in error.value.problem
