"""
A realm: the routing domain that owns one broker, one dealer, the meta API and the sessions
joined to it (sans-IO).
"""

from typing import Any, Callable

from autobahn.wamp.message import (
    Call,
    Cancel,
    Error,
    Invocation,
    Message,
    Publish,
    Register,
    Result,
    Subscribe,
    Unregister,
    Unsubscribe,
    Yield,
)

from twisted.logger import Logger

from router import uris
from router.authorizer import Authorizer, Permission, permission_from_answer
from router.broker import Broker, HistoryRule, Observations
from router.codec import options_of
from router.dealer import Dealer
from router.errors import ProtocolViolation
from router.ids import SequentialIds
from router.meta import MetaApi
from router.peer import Peer
from router.replies import Deliveries, error_for


def _cannot_ask(*args: Any) -> Deliveries:
    raise RuntimeError("this realm was built without a way to call authorizer procedures")


class Realm:
    """
    Routing state of one realm. All of it lives on the reactor thread; the methods never block.

    :param name: The realm URI.
    :param subscription_ids: Router-scope id source for subscriptions.
    :param registration_ids: Router-scope id source for registrations.
    :param strict_uri: Apply the strict URI rule to topics and procedures.
    :param clock: ``seconds()`` and ``callLater()`` for call timeouts and time stamps.
    :param emit: Sends deliveries that arise outside of a message (timer expiry).
    :param history: Topics that keep an event history.
    :param disclose_publisher: Disclose every publisher to subscribers.
    :param disclose_caller: Disclose every caller to callees.
    :param roles: Role permissions (or dynamic roles); ``None`` allows everything to every session.
    :param ask: ``ask(realm, procedure, args, kwargs, answer)`` calls a procedure as the router
        (:meth:`router.core.Router.ask`), for dynamic authorization.
    """

    log = Logger()

    def __init__(
        self,
        name: str,
        subscription_ids: SequentialIds,
        registration_ids: SequentialIds,
        strict_uri: bool = False,
        clock: Any = None,
        emit: Callable[[Deliveries], None] | None = None,
        history: tuple[HistoryRule, ...] = (),
        disclose_publisher: bool = False,
        disclose_caller: bool = False,
        roles: dict[str, Any] | None = None,
        ask: Callable[..., Deliveries] | None = None,
    ) -> None:
        self.name = name
        self.authorizer = Authorizer(roles)
        self._ask = ask or _cannot_ask
        #: changes to subscriptions and registrations since the meta API last looked
        self.observations: Observations = []
        self.broker = Broker(subscription_ids, strict_uri=strict_uri, observations=self.observations, clock=clock,
                             history=history, disclose_publisher=disclose_publisher)
        self.dealer = Dealer(registration_ids, strict_uri=strict_uri, observations=self.observations, clock=clock,
                             emit=emit, disclose_caller=disclose_caller)
        #: session id -> peer, in join order
        self.peers: dict[int, Peer] = {}
        self.meta = MetaApi(self)
        self._dispatch: dict[type, Callable[[Peer, Any], Deliveries]] = {
            Publish: self._guarded,
            Subscribe: self._guarded,
            Unsubscribe: self.broker.unsubscribe,
            Call: self._guarded,
            Cancel: self.dealer.cancel,
            Register: self._guarded,
            Unregister: self.dealer.unregister,
            Yield: self.dealer.yield_,
            Error: self._callee_error,
        }

    def join(self, peer: Peer) -> Deliveries:
        """
        Add an established session to the realm.
        """
        self.peers[peer.session_id] = peer
        return self.meta.joined(peer)

    def leave(self, peer: Peer) -> Deliveries:
        """
        Remove a session and everything it held; returns what its departure tells the others.
        """
        if self.peers.pop(peer.session_id, None) is None:
            return []
        peer.gone = True
        out = self.meta.leaving(peer)
        out += self.broker.detach(peer)
        out += self.dealer.detach(peer)
        out += self.meta.observe()
        out += self.meta.left(peer)
        return out

    def process(self, peer: Peer, msg: Message) -> Deliveries:
        """
        Route one message from an established session: the realm's single dispatch point.

        :raises ProtocolViolation: for a message a client may not send on an established session.
        """
        if peer.held is not None:  # waiting for a dynamic authorization: keep the session's order
            peer.held.append(msg)
            return []
        handler = self._dispatch.get(type(msg))
        if handler is None:
            raise ProtocolViolation("unexpected {} message on an established session".format(type(msg).__name__.upper()))
        out = handler(peer, msg)
        if self.observations:
            out += self.meta.observe()
        return out

    def undeliverable(self, peer: Peer, msg: Message) -> Deliveries:
        """
        ``msg`` could not be sent to ``peer`` because it exceeds the size the peer accepts; calls it
        belonged to end with ``wamp.error.payload_size_exceeded``. An EVENT has nobody to tell.
        """
        if isinstance(msg, (Invocation, Result, Error)):
            return self.dealer.undeliverable(peer, msg)
        return []

    def _guarded(self, peer: Peer, msg: Any) -> Deliveries:
        """
        Authorize a PUBLISH, SUBSCRIBE, REGISTER or CALL, then perform it. While a dynamic
        authorizer is asked, the session's later messages wait, so their order is kept.
        """
        action, uri = self._action(msg)
        if action == "call" and peer.calls.get(msg.request) is not None:
            return self.dealer.call(peer, msg)  # the next chunk of a progressive call, authorized already
        cached = peer.permissions.get((uri, action))
        if cached is not None:
            return self._perform(peer, msg, action, uri, cached)
        dynamic = self.authorizer.dynamic.get(peer.authrole)
        if dynamic is None:
            return self._perform(peer, msg, action, uri, self.authorizer.permission(peer.authrole, uri))
        peer.held = []
        options = options_of(msg)
        return self._ask(dynamic.realm, dynamic.authorizer, [peer.details(), uri, action, options], {},
                         lambda ok, answer: self._authorized(peer, msg, action, uri, ok, answer))

    def _authorized(self, peer: Peer, msg: Any, action: str, uri: str, ok: bool, answer: Any) -> Deliveries:
        held, peer.held = peer.held, None
        if peer.gone:
            return []
        permission, cache = permission_from_answer(uri, action, ok, answer)
        if cache:
            peer.permissions[(uri, action)] = permission
        out = self._perform(peer, msg, action, uri, permission)
        for index, later in enumerate(held or []):
            out += self.process(peer, later)
            if peer.held is not None:  # another question is out: the rest waits behind it
                peer.held.extend(held[index + 1:])
                break
        return out

    @staticmethod
    def _action(msg: Any) -> tuple[str, str]:
        if isinstance(msg, Publish):
            return "publish", msg.topic
        if isinstance(msg, Subscribe):
            return "subscribe", msg.topic
        if isinstance(msg, Register):
            return "register", msg.procedure
        return "call", msg.procedure

    def _perform(self, peer: Peer, msg: Any, action: str, uri: str, permission: Permission) -> Deliveries:
        if not permission.allows(action):
            if action == "publish" and not msg.acknowledge:
                return []
            self.log.info("Denied {action} on {uri} to session {session} ({authid}/{authrole})", action=action,
                          uri=uri, session=peer.session_id, authid=peer.authid, authrole=peer.authrole)
            return [(peer, error_for(msg, uris.NOT_AUTHORIZED, "{} on {!r} is not authorized for role {!r}".format(
                action, uri, peer.authrole)))]
        if action == "publish":
            return self.broker.publish(peer, msg, disclose=permission.disclose_publisher)
        if action == "subscribe":
            return self.broker.subscribe(peer, msg)
        if action == "register":
            return self.dealer.register(peer, msg)
        if self.meta.provides(uri):
            return self.meta.call(peer, msg)
        return self.dealer.call(peer, msg, disclose=permission.disclose_caller)

    def _callee_error(self, peer: Peer, msg: Error) -> Deliveries:
        if msg.request_type != Invocation.MESSAGE_TYPE:
            raise ProtocolViolation("ERROR for request type {} (a client sends ERROR only for INVOCATION)".format(msg.request_type))
        return self.dealer.error(peer, msg)
