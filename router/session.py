"""
The session machine: one per transport, it runs the WAMP session lifecycle (sans-IO).

A transport carries WAMP sessions one after another::

    IDLE --HELLO--> ESTABLISHED --GOODBYE--> IDLE
                    ESTABLISHED --router GOODBYE--> CLOSING --GOODBYE--> IDLE
    any  --protocol violation--> FAILED (ABORT sent, transport to be closed, input ignored)
"""

from enum import Enum
from typing import Any

from autobahn.wamp.message import Abort, Authenticate, Goodbye, Hello, Message, Welcome
from autobahn.wamp.message import Challenge as AutobahnChallenge
from autobahn.wamp.role import RoleBrokerFeatures, RoleDealerFeatures
from twisted.logger import Logger

from router import uris
from router.auth import Accept, Ask, Challenge, Decision, Deny, HelloInfo, Method
from router.auth.anonymous import AnonymousMethod
from router.codec import InvalidUriRequest, Malformed, Oversized, options_of
from router.core import AGENT, Router
from router.errors import ProtocolViolation
from router.features import router_roles
from router.peer import Peer
from router.replies import Deliveries, error_for


class State(Enum):
    """
    Where the transport's current WAMP session stands.
    """

    IDLE = "idle"
    CHALLENGING = "challenging"
    #: the router is asking an authenticator procedure
    WAITING = "waiting"
    ESTABLISHED = "established"
    CLOSING = "closing"
    FAILED = "failed"


class RouterWelcome(Welcome):
    """
    WELCOME with the router's ``agent`` string in its details.
    """

    def marshal(self) -> list[Any]:
        raw = Welcome.marshal(self)
        raw[2]["agent"] = AGENT
        # Autobahn's role classes drop features they do not know (progressive_call_invocations)
        raw[2]["roles"] = router_roles()
        return raw


#: feature names some clients spell differently -> the spec's spelling
FEATURE_ALIASES = {
    "call_cancelling": "call_canceling",
    "progressive_calls": "progressive_call_invocations",
}


#: distinct announcements seen -> one shared frozenset each (sessions of one client library share it)
_ANNOUNCEMENTS: dict[frozenset[tuple[str, str]], frozenset[tuple[str, str]]] = {}


def _announced_roles(hello: Hello) -> frozenset[tuple[str, str]]:
    """
    The ``(role, feature)`` pairs the client announced as true, spelling variants normalized, as a
    frozenset shared by every session announcing the same (a session holds no copy of its own).
    """
    raw_roles = options_of(hello).get("roles")
    pairs = set()
    for name, features in (hello.roles or {}).items():
        announced = {k: v for k, v in vars(features).items() if not k.startswith("_") and v is not None}
        raw = raw_roles.get(name) if isinstance(raw_roles, dict) else None
        if isinstance(raw, dict) and isinstance(raw.get("features"), dict):
            announced.update(raw["features"])
        pairs.add((name, ""))
        pairs.update((name, FEATURE_ALIASES.get(k, k)) for k, v in announced.items() if v is True)
    key = frozenset(pairs)
    shared = _ANNOUNCEMENTS.get(key)
    if shared is None:
        if len(_ANNOUNCEMENTS) >= 4096:  # bounded: hostile clients cannot grow it without end
            return key
        shared = _ANNOUNCEMENTS[key] = key
    return shared


#: authentication when a listener configures none: anonymous, as role "anonymous"
DEFAULT_METHODS: dict[str, Method] = {"anonymous": AnonymousMethod("anonymous")}

#: placeholder roles for Autobahn's WELCOME constructor; RouterWelcome.marshal writes the real ones
_WELCOME_ROLES = {"broker": RoleBrokerFeatures(), "dealer": RoleDealerFeatures()}


class SessionMachine:
    """
    The lifecycle of the WAMP sessions on one transport.

    :param router: The router core.
    :param link: Stored on every :class:`~router.peer.Peer` this machine creates (see there).
    :param transport_info: Transport details to keep with the session.
    :param methods: Authentication methods by name, as configured for the listener (anonymous
        only by default).
    """

    log = Logger()

    def __init__(self, router: Router, link: Any = None, transport_info: dict[str, Any] | None = None,
                 methods: dict[str, Method] | None = None) -> None:
        self._router = router
        self._link = link
        self._transport_info = transport_info or {}
        self._methods = methods if methods is not None else DEFAULT_METHODS
        #: the HELLO, its details and the authentication attempt awaiting AUTHENTICATE
        self._pending: tuple[Hello, HelloInfo, Any] | None = None
        self.state = State.IDLE
        #: the current session, once HELLO was accepted
        self.peer: Peer | None = None
        #: set when the router has sent ABORT: the transport layer closes the transport
        self.close_transport = False

    def receive(self, item: Message | Malformed | Oversized | InvalidUriRequest) -> Deliveries:
        """
        Process one decoded item from the transport and return what to send to whom.
        """
        if self.state is State.FAILED:
            return []
        try:
            if isinstance(item, Malformed):
                raise ProtocolViolation(item.reason)
            if isinstance(item, Oversized):
                return self.abort(uris.PAYLOAD_SIZE_EXCEEDED, "message of {} bytes exceeds the limit of {} bytes"
                                  .format(item.size, item.limit))
            if self.state is State.IDLE:
                return self._receive_idle(item)
            if self.state in (State.CHALLENGING, State.WAITING):
                return self._receive_challenging(item)
            if self.state is State.CLOSING:
                return self._receive_closing(item)
            return self._receive_established(item)
        except ProtocolViolation as violation:
            return self.abort(uris.PROTOCOL_VIOLATION, str(violation))

    def transport_lost(self) -> Deliveries:
        """
        The transport went away: the session leaves its realm.
        """
        self.state = State.FAILED
        return self._leave()

    def undeliverable(self, msg: Message) -> Deliveries:
        """
        ``msg`` exceeded the size the peer accepts and was not sent: a WELCOME ends the session
        with ABORT ``payload_size_exceeded``; otherwise see :meth:`Realm.undeliverable`.
        """
        if isinstance(msg, Welcome):
            return self.abort(uris.PAYLOAD_SIZE_EXCEEDED,
                              "WELCOME is larger than the message size this client accepts")
        peer = self.peer
        if self.state is not State.ESTABLISHED or peer is None:
            return []
        return self._router.realms[peer.realm].undeliverable(peer, msg)

    def goodbye(self, reason: str, message: str | None = None) -> Deliveries:
        """
        Close the established session from the router side (shutdown, kill): it leaves the realm at
        once and the peer is expected to answer GOODBYE.
        """
        if self.state is not State.ESTABLISHED:
            return []
        peer = self.peer
        out = self._leave()
        self.state = State.CLOSING
        assert peer is not None
        out.append((peer, Goodbye(reason, message)))
        return out

    def abort(self, reason: str, message: str | None = None) -> Deliveries:
        """
        End the session with ABORT and mark the transport for closing; later input is ignored.
        """
        target = self.peer or self._unjoined_peer()
        out = self._leave()
        self.state = State.FAILED
        self.close_transport = True
        self.log.info("Aborting session {session}: {reason} ({message})", session=target.session_id or "-",
                      reason=reason, message=message)
        out.append((target, Abort(reason, message)))
        return out

    # states

    def _receive_idle(self, msg: Any) -> Deliveries:
        if isinstance(msg, Hello):
            return self._hello(msg)
        if isinstance(msg, Abort):
            return []
        raise ProtocolViolation("{} received before HELLO".format(type(msg).__name__.upper()))

    def _receive_challenging(self, msg: Any) -> Deliveries:
        if isinstance(msg, Authenticate) and self.state is State.CHALLENGING:
            return self._authenticate(msg)
        if isinstance(msg, Abort):
            self._pending = None
            self.state = State.IDLE
            return []
        raise ProtocolViolation("{} received while authenticating".format(type(msg).__name__.upper()))

    def _receive_closing(self, msg: Any) -> Deliveries:
        if isinstance(msg, (Goodbye, Abort)):
            self.state = State.IDLE
            self.peer = None
        return []

    def _receive_established(self, msg: Any) -> Deliveries:
        peer = self.peer
        assert peer is not None
        if isinstance(msg, InvalidUriRequest):
            return [(peer, error_for(msg, uris.INVALID_URI, msg.reason))] if msg.answer else []
        if isinstance(msg, Goodbye):
            out = self._leave()
            self.state = State.IDLE
            out.append((peer, Goodbye(uris.CLOSE_GOODBYE_AND_OUT)))
            return out
        if isinstance(msg, Abort):
            self.state = State.IDLE
            return self._leave()
        if isinstance(msg, Hello):
            raise ProtocolViolation("HELLO received on an established session")
        realm = self._router.realms[peer.realm]
        return realm.process(peer, msg)

    # handshake

    def _hello(self, hello: Hello) -> Deliveries:
        realm = self._router.realm(hello.realm) if hello.realm else None
        if realm is None:
            return self._refuse(uris.NO_SUCH_REALM, "no realm {!r} on this router".format(hello.realm))
        offered = hello.authmethods or ["anonymous"]
        method = next((self._methods[name] for name in offered if name in self._methods), None)
        if method is None:
            return self._refuse(uris.NO_MATCHING_AUTH_METHOD,
                                "none of the offered authentication methods is accepted")
        info = HelloInfo(realm.name, hello.authid, hello.authextra or {}, self._router.new_session_id(),
                         self._transport_info)
        attempt = method.attempt(info)
        self._pending = (hello, info, attempt)
        return self._proceed(attempt.hello())

    def _authenticate(self, msg: Authenticate) -> Deliveries:
        assert self._pending is not None
        # an attempt answers one AUTHENTICATE only: a challenge cannot be replayed
        self.state = State.IDLE
        return self._proceed(self._pending[2].authenticate(msg.signature, msg.extra or {}))

    def _proceed(self, decision: Decision) -> Deliveries:
        """
        Act on an authentication decision for the pending HELLO: challenge, ask an authenticator
        procedure (and come back here with its answer), or welcome/refuse.
        """
        assert self._pending is not None
        if isinstance(decision, Challenge):
            self.state = State.CHALLENGING
            return [(self._unjoined_peer(), AutobahnChallenge(decision.method, decision.extra))]
        if isinstance(decision, Ask):
            self.state = State.WAITING
            return self._router.ask(decision.realm, decision.procedure, decision.args, decision.kwargs,
                                    lambda ok, msg: self._answered(decision, ok, msg))
        hello, info, _ = self._pending
        self._pending = None
        self.state = State.IDLE
        return self._decide(hello, info, decision)

    def _answered(self, asked: Ask, ok: bool, msg: Any) -> Deliveries:
        if self.state is not State.WAITING:
            return []  # the client gave up (ABORT) or its transport went away meanwhile
        return self._proceed(asked.then(ok, msg))

    def _decide(self, hello: Hello, info: HelloInfo, decision: Accept | Deny) -> Deliveries:
        if isinstance(decision, Deny):
            self.log.info("Refused session on realm {realm}: {reason}", realm=info.realm, reason=decision.reason)
            return self._refuse(decision.reason, decision.message)
        realm = self._router.realms.get(info.realm)
        if realm is None:
            return self._refuse(uris.NO_SUCH_REALM, "no realm {!r} on this router".format(info.realm))
        if not realm.authorizer.knows(decision.authrole):
            return self._refuse(uris.NO_SUCH_ROLE, "no role {!r} on realm {!r}".format(decision.authrole, info.realm))
        return self._welcome(hello, info, decision, realm)

    def _welcome(self, hello: Hello, info: HelloInfo, accept: Accept, realm: Any) -> Deliveries:
        session_id = info.session_id
        peer = Peer(
            session_id,
            realm.name,
            authid=accept.authid,
            authrole=accept.authrole,
            authmethod=accept.authmethod,
            authprovider=accept.authprovider,
            roles=_announced_roles(hello),
            link=self._link,
            transport_info=self._transport_info,
        )
        peer.machine = self
        self.peer = peer
        self.state = State.ESTABLISHED
        self._router.sessions[session_id] = realm.name
        welcome = RouterWelcome(
            session_id,
            _WELCOME_ROLES,
            realm=realm.name,
            authid=peer.authid,
            authrole=peer.authrole,
            authmethod=peer.authmethod,
            authprovider=peer.authprovider,
            authextra=accept.authextra,
        )
        out: Deliveries = [(peer, welcome)]
        out.extend(realm.join(peer))
        self.log.info("Session {session} joined realm {realm} as {authid}/{authrole} ({authmethod})",
                      session=session_id, realm=realm.name, authid=peer.authid, authrole=peer.authrole,
                      authmethod=peer.authmethod)
        return out

    def _refuse(self, reason: str, message: str) -> Deliveries:
        """
        ABORT a HELLO: the transport stays open for another attempt.
        """
        return [(self._unjoined_peer(), Abort(reason, message))]

    def _leave(self) -> Deliveries:
        peer, self.peer = self.peer, None
        if peer is None:
            return []
        self._router.sessions.pop(peer.session_id, None)
        realm = self._router.realms.get(peer.realm)
        if realm is None:
            return []
        self.log.info("Session {session} left realm {realm}", session=peer.session_id, realm=peer.realm)
        return realm.leave(peer)

    def _unjoined_peer(self) -> Peer:
        """
        An address for replies on a transport that has no session (ABORT of a HELLO or before it).
        """
        return Peer(0, "", "", "", "", "", frozenset(), link=self._link)
