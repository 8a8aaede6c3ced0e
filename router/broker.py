"""
The broker: subscriptions and the routing of publications to subscribers (sans-IO).

Each method takes the acting peer and its message and returns the deliveries it causes.
"""

from typing import Callable

from autobahn.wamp.message import (
    Event,
    Publish,
    Published,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
)

from router import uris
from router.ids import SequentialIds, random_id
from router.matching import UriIndex
from router.peer import Peer
from router.replies import Deliveries, error_for
from router.uri import MATCH_EXACT, is_reserved, is_valid_uri


class Subscription:
    """
    A topic or topic pattern with the sessions subscribed to it.
    """

    __slots__ = ("id", "uri", "match", "subscribers")

    def __init__(self, subscription_id: int, uri: str, match: str) -> None:
        self.id = subscription_id
        self.uri = uri
        self.match = match
        #: an ordered set: subscribers receive events in the order they subscribed
        self.subscribers: dict[Peer, None] = {}


def _is_eligible(peer: Peer, options: Publish) -> bool:
    """
    Apply PUBLISH's black- and whitelisting options to one receiver: it must pass every filter given.
    """
    if options.exclude and peer.session_id in options.exclude:
        return False
    if options.exclude_authid and peer.authid in options.exclude_authid:
        return False
    if options.exclude_authrole and peer.authrole in options.exclude_authrole:
        return False
    if options.eligible is not None and peer.session_id not in options.eligible:
        return False
    if options.eligible_authid is not None and peer.authid not in options.eligible_authid:
        return False
    if options.eligible_authrole is not None and peer.authrole not in options.eligible_authrole:
        return False
    return True


class Broker:
    """
    Pub/sub routing for one realm.

    :param subscription_ids: Router-scope id source for new subscriptions.
    :param strict_uri: Apply the strict URI rule.
    :param publication_id: Source of global-scope publication ids.
    """

    def __init__(
        self,
        subscription_ids: SequentialIds,
        strict_uri: bool = False,
        publication_id: Callable[[], int] = random_id,
    ) -> None:
        self._subscription_ids = subscription_ids
        self._strict_uri = strict_uri
        self._publication_id = publication_id
        self._index: UriIndex[Subscription] = UriIndex()
        self._by_id: dict[int, Subscription] = {}

    def subscription(self, subscription_id: int) -> Subscription | None:
        """
        The subscription with this id, if it exists.
        """
        return self._by_id.get(subscription_id)

    def subscribe(self, peer: Peer, msg: Subscribe) -> Deliveries:
        """
        Add ``peer`` to the subscription for the topic (creating it); subscribing again returns the
        same subscription id.
        """
        match = msg.match or MATCH_EXACT
        if not is_valid_uri(msg.topic, match, self._strict_uri):
            return [(peer, error_for(msg, uris.INVALID_URI, "invalid topic URI {!r}".format(msg.topic)))]
        subscription = self._index.get(match, msg.topic)
        if subscription is None:
            subscription = Subscription(self._subscription_ids.next(), msg.topic, match)
            self._index.add(match, msg.topic, subscription)
            self._by_id[subscription.id] = subscription
        subscription.subscribers[peer] = None
        peer.subscriptions.add(subscription.id)
        return [(peer, Subscribed(msg.request, subscription.id))]

    def unsubscribe(self, peer: Peer, msg: Unsubscribe) -> Deliveries:
        """
        Remove ``peer`` from a subscription it holds.
        """
        if msg.subscription not in peer.subscriptions:
            return [(peer, error_for(msg, uris.NO_SUCH_SUBSCRIPTION))]
        self._drop_subscriber(peer, self._by_id[msg.subscription])
        return [(peer, Unsubscribed(msg.request))]

    def publish(self, peer: Peer, msg: Publish) -> Deliveries:
        """
        Route a publication: one EVENT per matching subscription to each eligible subscriber, the
        publisher excluded unless it asked otherwise, and PUBLISHED when acknowledgement was asked.
        """
        topic = msg.topic
        if is_reserved(topic) or not is_valid_uri(topic, MATCH_EXACT, self._strict_uri):
            if msg.acknowledge:
                return [(peer, error_for(msg, uris.INVALID_URI, "invalid topic URI {!r}".format(topic)))]
            return []
        publication = self._publication_id()
        out: Deliveries = []
        exclude_me = msg.exclude_me is not False
        filtered = (
            msg.exclude or msg.exclude_authid or msg.exclude_authrole
            or msg.eligible is not None or msg.eligible_authid is not None
            or msg.eligible_authrole is not None
        )
        for subscription in self._index.matches(topic):
            event = self._event(subscription, publication, msg)
            for receiver in subscription.subscribers:
                if receiver is peer and exclude_me:
                    continue
                if filtered and not _is_eligible(receiver, msg):
                    continue
                out.append((receiver, event))
        if msg.acknowledge:
            out.append((peer, Published(msg.request, publication)))
        return out

    def detach(self, peer: Peer) -> Deliveries:
        """
        Remove every subscription of a session that is leaving.
        """
        for subscription_id in list(peer.subscriptions):
            self._drop_subscriber(peer, self._by_id[subscription_id])
        return []

    def _event(self, subscription: Subscription, publication: int, msg: Publish) -> Event:
        """
        The EVENT for one subscription: one object shared by all its receivers, so each serializer
        encodes it once.
        """
        return Event(
            subscription.id,
            publication,
            args=msg.args,
            kwargs=msg.kwargs,
            payload=msg.payload,
            topic=msg.topic if subscription.match != MATCH_EXACT else None,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
        )

    def _drop_subscriber(self, peer: Peer, subscription: Subscription) -> None:
        subscription.subscribers.pop(peer, None)
        peer.subscriptions.discard(subscription.id)
        if not subscription.subscribers:
            self._index.remove(subscription.match, subscription.uri)
            del self._by_id[subscription.id]


__all__ = ["Broker", "Subscription"]
