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
from router.authorizer import Authorizer, Permission
from router.broker import Broker, HistoryRule, Observations
from router.dealer import Dealer
from router.errors import ProtocolViolation
from router.ids import SequentialIds
from router.meta import MetaApi
from router.peer import Peer
from router.replies import Deliveries, error_for


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
    :param roles: Role permissions; ``None`` allows everything to every session.
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
        roles: dict[str, tuple[Permission, ...]] | None = None,
    ) -> None:
        self.name = name
        self.authorizer = Authorizer(roles)
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
            Publish: self._publish,
            Subscribe: self._subscribe,
            Unsubscribe: self.broker.unsubscribe,
            Call: self._call,
            Cancel: self.dealer.cancel,
            Register: self._register,
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

    def _denied(self, peer: Peer, msg: Any, action: str, uri: str) -> Deliveries:
        self.log.info("Denied {action} on {uri} to session {session} ({authid}/{authrole})", action=action,
                      uri=uri, session=peer.session_id, authid=peer.authid, authrole=peer.authrole)
        return [(peer, error_for(msg, uris.NOT_AUTHORIZED, "{} on {!r} is not authorized for role {!r}".format(
            action, uri, peer.authrole)))]

    def _publish(self, peer: Peer, msg: Publish) -> Deliveries:
        permission = self.authorizer.permission(peer.authrole, msg.topic)
        if not permission.publish:
            return self._denied(peer, msg, "publish", msg.topic) if msg.acknowledge else []
        return self.broker.publish(peer, msg, disclose=permission.disclose_publisher)

    def _subscribe(self, peer: Peer, msg: Subscribe) -> Deliveries:
        if not self.authorizer.permission(peer.authrole, msg.topic).subscribe:
            return self._denied(peer, msg, "subscribe", msg.topic)
        return self.broker.subscribe(peer, msg)

    def _register(self, peer: Peer, msg: Register) -> Deliveries:
        if not self.authorizer.permission(peer.authrole, msg.procedure).register:
            return self._denied(peer, msg, "register", msg.procedure)
        return self.dealer.register(peer, msg)

    def _call(self, peer: Peer, msg: Call) -> Deliveries:
        if peer.calls.get(msg.request) is None:  # later chunks of a progressive call were authorized already
            permission = self.authorizer.permission(peer.authrole, msg.procedure)
            if not permission.call:
                return self._denied(peer, msg, "call", msg.procedure)
            if self.meta.provides(msg.procedure):
                return self.meta.call(peer, msg)
            return self.dealer.call(peer, msg, disclose=permission.disclose_caller)
        return self.dealer.call(peer, msg)

    def _callee_error(self, peer: Peer, msg: Error) -> Deliveries:
        if msg.request_type != Invocation.MESSAGE_TYPE:
            raise ProtocolViolation("ERROR for request type {} (a client sends ERROR only for INVOCATION)".format(msg.request_type))
        return self.dealer.error(peer, msg)
