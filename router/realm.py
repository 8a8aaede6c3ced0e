"""
A realm: the routing domain that owns one broker, one dealer and the sessions joined to it (sans-IO).
"""

from typing import Callable

from autobahn.wamp.message import (
    Call,
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

from router.broker import Broker
from router.dealer import Dealer
from router.errors import ProtocolViolation
from router.ids import SequentialIds
from router.peer import Peer
from router.replies import Deliveries


class Realm:
    """
    Routing state of one realm. All of it lives on the reactor thread; the methods never block.

    :param name: The realm URI.
    :param subscription_ids: Router-scope id source for subscriptions.
    :param registration_ids: Router-scope id source for registrations.
    :param strict_uri: Apply the strict URI rule to topics and procedures.
    """

    def __init__(
        self,
        name: str,
        subscription_ids: SequentialIds,
        registration_ids: SequentialIds,
        strict_uri: bool = False,
    ) -> None:
        self.name = name
        self.broker = Broker(subscription_ids, strict_uri=strict_uri)
        self.dealer = Dealer(registration_ids, strict_uri=strict_uri)
        #: session id -> peer, in join order
        self.peers: dict[int, Peer] = {}
        self._dispatch: dict[type, Callable[[Peer, Message], Deliveries]] = {
            Publish: self.broker.publish,
            Subscribe: self.broker.subscribe,
            Unsubscribe: self.broker.unsubscribe,
            Call: self.dealer.call,
            Register: self.dealer.register,
            Unregister: self.dealer.unregister,
            Yield: self.dealer.yield_,
            Error: self._callee_error,
        }

    def join(self, peer: Peer) -> Deliveries:
        """
        Add an established session to the realm.
        """
        self.peers[peer.session_id] = peer
        return []

    def leave(self, peer: Peer) -> Deliveries:
        """
        Remove a session and everything it held; returns what its departure tells the others.
        """
        if self.peers.pop(peer.session_id, None) is None:
            return []
        peer.gone = True
        return self.broker.detach(peer) + self.dealer.detach(peer)

    def process(self, peer: Peer, msg: Message) -> Deliveries:
        """
        Route one message from an established session: the realm's single dispatch point.

        :raises ProtocolViolation: for a message a client may not send on an established session.
        """
        handler = self._dispatch.get(type(msg))
        if handler is None:
            raise ProtocolViolation("unexpected {} message on an established session".format(type(msg).__name__.upper()))
        return handler(peer, msg)

    def undeliverable(self, peer: Peer, msg: Message) -> Deliveries:
        """
        ``msg`` could not be sent to ``peer`` because it exceeds the size the peer accepts; calls it
        belonged to end with ``wamp.error.payload_size_exceeded``. An EVENT has nobody to tell.
        """
        if isinstance(msg, (Invocation, Result, Error)):
            return self.dealer.undeliverable(peer, msg)
        return []

    def _callee_error(self, peer: Peer, msg: Error) -> Deliveries:
        if msg.request_type != Invocation.MESSAGE_TYPE:
            raise ProtocolViolation("ERROR for request type {} (a client sends ERROR only for INVOCATION)".format(msg.request_type))
        return self.dealer.error(peer, msg)
