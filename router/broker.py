"""
The broker: subscriptions and the routing of publications to subscribers (sans-IO).

Each method takes the acting peer and its message and returns the deliveries it causes. Changes
to subscriptions are appended to ``observations`` for the meta API to announce.
"""

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

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
from router.codec import options_of
from router.ids import SequentialIds, random_id
from router.matching import UriIndex, pattern_matches
from router.passthru import PassthruEvent, ppt_options
from router.peer import Peer
from router.replies import Deliveries, error_for
from router.uri import MATCH_EXACT, MATCH_POLICIES, is_reserved, is_valid_uri

#: (meta event topic, session, subscription) records of what changed
Observations = list[tuple[str, Peer, Any]]


class Subscription:
    """
    A topic or topic pattern with the sessions subscribed to it.
    """

    __slots__ = ("id", "uri", "match", "created", "subscribers")

    def __init__(self, subscription_id: int, uri: str, match: str, created: str) -> None:
        self.id = subscription_id
        self.uri = uri
        self.match = match
        #: ISO 8601 time of creation
        self.created = created
        #: an ordered set: subscribers receive events in the order they subscribed
        self.subscribers: dict[Peer, None] = {}

    def details(self) -> dict[str, Any]:
        """
        The subscription as the meta API describes it.
        """
        return {"id": self.id, "created": self.created, "uri": self.uri, "match": self.match}


@dataclass(frozen=True)
class HistoryRule:
    """
    Keep the last ``limit`` events of every topic matching ``uri`` under ``match``.
    """

    uri: str
    match: str = MATCH_EXACT
    limit: int = 100


class _Receivers:
    """
    A publication's black- and whitelisting options, checked per receiver.
    """

    __slots__ = ("exclude", "exclude_authid", "exclude_authrole", "eligible", "eligible_authid", "eligible_authrole")

    def __init__(self, msg: Publish) -> None:
        self.exclude = set(msg.exclude or ())
        self.exclude_authid = set(msg.exclude_authid or ())
        self.exclude_authrole = set(msg.exclude_authrole or ())
        self.eligible = None if msg.eligible is None else set(msg.eligible)
        self.eligible_authid = None if msg.eligible_authid is None else set(msg.eligible_authid)
        self.eligible_authrole = None if msg.eligible_authrole is None else set(msg.eligible_authrole)

    def admits(self, peer: Peer) -> bool:
        """
        A receiver must pass every filter given.
        """
        return not (
            peer.session_id in self.exclude
            or peer.authid in self.exclude_authid
            or peer.authrole in self.exclude_authrole
            or (self.eligible is not None and peer.session_id not in self.eligible)
            or (self.eligible_authid is not None and peer.authid not in self.eligible_authid)
            or (self.eligible_authrole is not None and peer.authrole not in self.eligible_authrole)
        )


def _is_filtered(msg: Publish) -> bool:
    return bool(
        msg.exclude or msg.exclude_authid or msg.exclude_authrole
        or msg.eligible is not None or msg.eligible_authid is not None or msg.eligible_authrole is not None
    )


class _Retained:
    """
    The last event retained on a topic, with what decides who may receive it.
    """

    __slots__ = ("publication", "msg", "publisher", "receivers", "exclude_me", "ppt")

    def __init__(self, publication: int, msg: Publish, publisher: Peer | None, disclose: bool,
                 ppt: dict[str, Any] | None) -> None:
        self.publication = publication
        self.ppt = ppt
        self.msg = msg
        self.publisher = publisher if disclose else None
        self.receivers = _Receivers(msg) if _is_filtered(msg) else None
        #: the publisher's session id when it excluded itself
        self.exclude_me = publisher.session_id if publisher is not None and msg.exclude_me is not False else None


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Broker:
    """
    Pub/sub routing for one realm.

    :param subscription_ids: Router-scope id source for new subscriptions.
    :param strict_uri: Apply the strict URI rule.
    :param observations: Where subscription changes are recorded for the meta API.
    :param clock: ``seconds()`` gives the time for creation stamps and event history.
    :param history: Which topics keep an event history.
    :param disclose_publisher: Disclose every publisher, whether or not it asked.
    :param publication_id: Source of global-scope publication ids.
    """

    def __init__(
        self,
        subscription_ids: SequentialIds,
        strict_uri: bool = False,
        observations: Observations | None = None,
        clock: Any = None,
        history: tuple[HistoryRule, ...] = (),
        disclose_publisher: bool = False,
        publication_id: Callable[[], int] = random_id,
    ) -> None:
        self._subscription_ids = subscription_ids
        self._strict_uri = strict_uri
        self.observations: Observations = observations if observations is not None else []
        self._clock = clock
        self._history_rules: UriIndex[HistoryRule] = UriIndex()
        for rule in history:
            self._history_rules.add(rule.match, rule.uri, rule)
        self._disclose_publisher = disclose_publisher
        self._publication_id = publication_id
        self._index: UriIndex[Subscription] = UriIndex()
        self._by_id: dict[int, Subscription] = {}
        self._retained: dict[str, _Retained] = {}
        #: topic -> recent events, oldest first: (time, publication, args, kwargs, receiver filter)
        self._history: dict[str, deque[tuple[float, int, Any, Any, _Receivers | None]]] = {}

    # lookups (meta API)

    def subscription(self, subscription_id: int) -> Subscription | None:
        """
        The subscription with this id, if it exists.
        """
        return self._by_id.get(subscription_id)

    def subscriptions(self) -> Iterator[Subscription]:
        """
        Every subscription.
        """
        return iter(self._by_id.values())

    def lookup(self, uri: str, match: str = MATCH_EXACT) -> Subscription | None:
        """
        The subscription for exactly this URI (or pattern) and match policy.
        """
        return self._index.get(match, uri) if match in MATCH_POLICIES else None

    def matching(self, uri: str) -> list[Subscription]:
        """
        Every subscription a publication to ``uri`` would reach.
        """
        return list(self._index.matches(uri))

    # client requests

    def subscribe(self, peer: Peer, msg: Subscribe) -> Deliveries:
        """
        Add ``peer`` to the subscription for the topic (creating it); subscribing again returns the
        same subscription id. With ``get_retained``, retained events follow SUBSCRIBED.
        """
        match = msg.match or MATCH_EXACT
        if not is_valid_uri(msg.topic, match, self._strict_uri):
            return [(peer, error_for(msg, uris.INVALID_URI, "invalid topic URI {!r}".format(msg.topic)))]
        subscription = self._index.get(match, msg.topic)
        if subscription is None:
            subscription = Subscription(self._subscription_ids.next(), msg.topic, match, _iso(self._now()))
            self._index.add(match, msg.topic, subscription)
            self._by_id[subscription.id] = subscription
            self.observations.append((uris.SUBSCRIPTION_ON_CREATE, peer, subscription))
        if peer not in subscription.subscribers:
            subscription.subscribers[peer] = None
            peer.subscriptions.add(subscription.id)
            self.observations.append((uris.SUBSCRIPTION_ON_SUBSCRIBE, peer, subscription))
        out: Deliveries = [(peer, Subscribed(msg.request, subscription.id))]
        if msg.get_retained:
            out.extend(self._retained_for(peer, subscription))
        return out

    def unsubscribe(self, peer: Peer, msg: Unsubscribe) -> Deliveries:
        """
        Remove ``peer`` from a subscription it holds.
        """
        if msg.subscription not in peer.subscriptions:
            return [(peer, error_for(msg, uris.NO_SUCH_SUBSCRIPTION))]
        self._drop_subscriber(peer, self._by_id[msg.subscription])
        return [(peer, Unsubscribed(msg.request))]

    def publish(self, peer: Peer, msg: Publish, disclose: bool = False) -> Deliveries:
        """
        Route a publication: one EVENT per matching subscription to each eligible subscriber, the
        publisher excluded unless it asked otherwise, and PUBLISHED when acknowledgement was asked.
        The publisher is disclosed when it asked, when ``disclose`` or when the realm says so.
        """
        topic = msg.topic
        if is_reserved(topic) or not is_valid_uri(topic, MATCH_EXACT, self._strict_uri):
            if msg.acknowledge:
                return [(peer, error_for(msg, uris.INVALID_URI, "invalid topic URI {!r}".format(topic)))]
            return []
        disclose = disclose or self._disclose_publisher or bool(options_of(msg).get("disclose_me"))
        ppt = ppt_options(msg, peer)
        publication = self._publication_id()
        out = self._dispatch(publication, msg, peer, disclose, ppt)
        if msg.retain:
            self._retained[topic] = _Retained(publication, msg, peer, disclose, ppt)
        if not msg.exclude and msg.eligible is None:
            # events for chosen sessions are never kept; authid/authrole filters are kept with the
            # event and applied to whoever reads the history
            self._remember(topic, publication, msg)
        if msg.acknowledge:
            out.append((peer, Published(msg.request, publication)))
        return out

    # router requests

    def publish_internal(self, topic: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None,
                         eligible: list[int] | None = None, exclude: list[int] | None = None) -> Deliveries:
        """
        Publish as the router itself (meta events, testaments): no publisher to exclude or disclose.
        """
        msg = Publish(0, topic, args=args, kwargs=kwargs, eligible=eligible, exclude=exclude)
        return self._dispatch(self._publication_id(), msg, None, False)

    def remove_subscriber(self, peer: Peer, subscription_id: int, reason: str | None = None) -> Deliveries:
        """
        Take ``peer`` off a subscription; a peer that announced ``subscription_revocation`` is told
        with ``UNSUBSCRIBED(0, {subscription, reason})``.
        """
        subscription = self._by_id.get(subscription_id)
        if subscription is None or peer not in subscription.subscribers:
            return []
        self._drop_subscriber(peer, subscription)
        if peer.has_feature("subscriber", "subscription_revocation"):
            return [(peer, Unsubscribed(0, subscription=subscription_id, reason=reason))]
        return []

    def detach(self, peer: Peer) -> Deliveries:
        """
        Remove every subscription of a session that is leaving.
        """
        for subscription_id in list(peer.subscriptions):
            self._drop_subscriber(peer, self._by_id[subscription_id])
        return []

    def events(self, subscription: Subscription, limit: int | None = None, reverse: bool = False,
               from_time: str | None = None, after_time: str | None = None,
               before_time: str | None = None, reader: Peer | None = None) -> list[dict[str, Any]]:
        """
        The kept history of the topics ``subscription`` covers, oldest first (newest first with
        ``reverse``), filtered by ISO 8601 time bounds and cut to ``limit``. Events published for
        certain authids or authroles only are shown to a ``reader`` they admit.

        :raises ValueError: for a time bound that is not ISO 8601.
        """
        bounds = [_seconds(t) for t in (from_time, after_time, before_time)]
        records = []
        for topic, kept in self._history.items():
            if not pattern_matches(subscription.match, subscription.uri, topic):
                continue
            for when, publication, args, kwargs, receivers in kept:
                if receivers is not None and (reader is None or not receivers.admits(reader)):
                    continue
                if bounds[0] is not None and when < bounds[0]:
                    continue
                if bounds[1] is not None and when <= bounds[1]:
                    continue
                if bounds[2] is not None and when >= bounds[2]:
                    continue
                records.append((when, publication, topic, args, kwargs))
        records.sort(key=lambda r: r[0], reverse=reverse)
        if limit is not None:
            records = records[:limit]
        return [
            {"timestamp": _iso(when), "subscription": subscription.id, "publication": publication,
             "topic": topic, "args": args or [], "kwargs": kwargs or {}}
            for when, publication, topic, args, kwargs in records
        ]

    # internals

    def _now(self) -> float:
        if self._clock is None:
            import time

            return time.time()
        return self._clock.seconds()

    def _dispatch(self, publication: int, msg: Publish, publisher: Peer | None, disclose: bool,
                  ppt: dict[str, Any] | None = None) -> Deliveries:
        out: Deliveries = []
        skip = publisher if msg.exclude_me is not False else None
        receivers = _Receivers(msg) if _is_filtered(msg) else None
        for subscription in self._index.matches(msg.topic):
            event = self._event(subscription, publication, msg, publisher if disclose else None, ppt=ppt)
            for receiver in subscription.subscribers:
                if receiver is skip or (receivers is not None and not receivers.admits(receiver)):
                    continue
                out.append((receiver, event))
        return out

    def _event(self, subscription: Subscription, publication: int, msg: Publish, publisher: Peer | None,
               retained: bool = False, ppt: dict[str, Any] | None = None) -> Event:
        """
        The EVENT for one subscription: one object shared by all its receivers, so each serializer
        encodes it once.
        """
        event = (PassthruEvent if ppt else Event)(
            subscription.id,
            publication,
            args=msg.args,
            kwargs=msg.kwargs,
            payload=msg.payload,
            publisher=publisher.session_id if publisher else None,
            publisher_authid=publisher.authid if publisher else None,
            publisher_authrole=publisher.authrole if publisher else None,
            topic=msg.topic if subscription.match != MATCH_EXACT else None,
            retained=True if retained else None,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
        )
        event._router_internal = ppt
        return event

    def _retained_for(self, peer: Peer, subscription: Subscription) -> Deliveries:
        out: Deliveries = []
        for topic, kept in self._retained.items():
            if not pattern_matches(subscription.match, subscription.uri, topic):
                continue
            if kept.exclude_me == peer.session_id:
                continue
            if kept.receivers is not None and not kept.receivers.admits(peer):
                continue
            out.append((peer, self._event(subscription, kept.publication, kept.msg, kept.publisher, retained=True,
                                          ppt=kept.ppt)))
        return out

    def _remember(self, topic: str, publication: int, msg: Publish) -> None:
        kept = self._history.get(topic)
        if kept is None:
            rule = self._history_rules.best(topic)
            if rule is None:
                return
            kept = self._history[topic] = deque(maxlen=rule.limit)
        kept.append((self._now(), publication, msg.args, msg.kwargs, _Receivers(msg) if _is_filtered(msg) else None))

    def _drop_subscriber(self, peer: Peer, subscription: Subscription) -> None:
        subscription.subscribers.pop(peer, None)
        peer.subscriptions.discard(subscription.id)
        self.observations.append((uris.SUBSCRIPTION_ON_UNSUBSCRIBE, peer, subscription))
        if not subscription.subscribers:
            self._index.remove(subscription.match, subscription.uri)
            del self._by_id[subscription.id]
            self.observations.append((uris.SUBSCRIPTION_ON_DELETE, peer, subscription))


def _seconds(iso: str | None) -> float | None:
    if iso is None:
        return None
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


__all__ = ["Broker", "HistoryRule", "Subscription", "Observations"]
