"""
Advanced Profile broker features, driven without sockets: pattern subscriptions, retention,
history, disclosure, revocation and observations for the meta API.
"""

from autobahn.wamp.message import Event, Publish, Subscribe, Unsubscribe, Unsubscribed
from twisted.internet.task import Clock

from router import uris
from router.broker import HistoryRule
from router.core import RealmOptions, Router, RouterOptions
from tests.unit.helpers import decoded, joined, joined_with_features


def router_with(**realm_options):
    return Router(RouterOptions(realms={"realm1": RealmOptions(**realm_options)}), clock=Clock())


def subscribe(machine, topic, request=1, **options):
    out = machine.receive(Subscribe(request, topic, **options))
    return out[0][1].subscription, out[1:]


class TestPatternSubscriptions:
    def test_prefix_and_wildcard_both_match_one_publish(self):
        """A prefix and a wildcard subscription matching one publish each get one EVENT carrying the topic."""
        router = Router()
        subscriber, publisher = joined(router), joined(router)
        prefix, _ = subscribe(subscriber, "com.app", 1, match="prefix")
        wildcard, _ = subscribe(subscriber, "com..update", 2, match="wildcard")
        exact, _ = subscribe(subscriber, "com.app.update", 3)
        out = publisher.receive(Publish(1, "com.app.update"))
        events = {msg.subscription: msg for _, msg in out}
        assert set(events) == {prefix, wildcard, exact}
        assert events[prefix].topic == events[wildcard].topic == "com.app.update"
        assert events[exact].topic is None


class TestRetention:
    def test_get_retained_delivers_last_event_after_subscribed(self):
        """A subscriber asking get_retained gets the last retained event, flagged retained, right after SUBSCRIBED."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        publisher.receive(Publish(1, "com.t", args=[1], retain=True))
        publisher.receive(Publish(2, "com.t", args=[2], retain=True))
        publisher.receive(Publish(3, "com.t", args=[3]))
        sub, retained = subscribe(subscriber, "com.t", get_retained=True)
        (peer, event), = retained
        assert isinstance(event, Event)
        assert (event.subscription, event.args, event.retained) == (sub, [2], True)

    def test_retained_event_respects_eligibility(self):
        """A retained event published for eligible sessions only is not delivered to others."""
        router = Router()
        publisher, allowed, other = joined(router), joined(router), joined(router)
        publisher.receive(Publish(1, "com.t", retain=True, eligible=[allowed.peer.session_id]))
        assert subscribe(other, "com.t", get_retained=True)[1] == []
        assert len(subscribe(allowed, "com.t", get_retained=True)[1]) == 1

    def test_pattern_subscription_gets_retained_events_of_matching_topics(self):
        """A prefix subscription with get_retained gets the retained event of every matching topic."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        publisher.receive(Publish(1, "com.a.x", retain=True))
        publisher.receive(Publish(2, "com.a.y", retain=True))
        publisher.receive(Publish(3, "com.b", retain=True))
        _, retained = subscribe(subscriber, "com.a", match="prefix", get_retained=True)
        assert sorted(event.topic for _, event in retained) == ["com.a.x", "com.a.y"]

    def test_without_get_retained_nothing(self):
        """Subscribing without get_retained delivers no retained event."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        publisher.receive(Publish(1, "com.t", retain=True))
        assert subscribe(subscriber, "com.t")[1] == []


class TestHistory:
    def test_events_kept_per_rule_and_filtered(self):
        """Configured topics keep their last events up to the limit; filtered publications are left out."""
        router = router_with(history=(HistoryRule("com.h", "prefix", 3),))
        publisher, subscriber = joined(router), joined(router)
        for i in range(5):
            router.clock.advance(1)
            publisher.receive(Publish(i + 1, "com.h.a", args=[i]))
        publisher.receive(Publish(9, "com.h.a", args=["secret"], eligible=[subscriber.peer.session_id]))
        publisher.receive(Publish(10, "com.other", args=["not kept"]))
        sub, _ = subscribe(subscriber, "com.h.a")
        broker = router.realms["realm1"].broker
        events = broker.events(broker.subscription(sub))
        assert [e["args"] for e in events] == [[2], [3], [4]]
        assert [e["args"] for e in broker.events(broker.subscription(sub), limit=2, reverse=True)] == [[4], [3]]
        assert events[0]["topic"] == "com.h.a" and events[0]["timestamp"].endswith("Z")

    def test_time_bounds(self):
        """from_time, after_time and before_time select events by publication time."""
        router = router_with(history=(HistoryRule("com.h"),))
        publisher, subscriber = joined(router), joined(router)
        stamps = []
        for i in range(4):
            router.clock.advance(10)
            publisher.receive(Publish(i + 1, "com.h", args=[i]))
        sub, _ = subscribe(subscriber, "com.h")
        broker = router.realms["realm1"].broker
        stamps = [e["timestamp"] for e in broker.events(broker.subscription(sub))]
        assert [e["args"] for e in broker.events(broker.subscription(sub), after_time=stamps[1])] == [[2], [3]]
        assert [e["args"] for e in broker.events(broker.subscription(sub), from_time=stamps[1],
                                                 before_time=stamps[3])] == [[1], [2]]


class TestDisclosure:
    def test_disclose_me_on_publish(self):
        """PUBLISH.disclose_me puts publisher, publisher_authid and publisher_authrole into EVENT."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        subscribe(subscriber, "com.t")
        (_, event), = publisher.receive(decoded([16, 1, {"disclose_me": True}, "com.t"]))
        assert (event.publisher, event.publisher_authid, event.publisher_authrole) == (
            publisher.peer.session_id, publisher.peer.authid, "anonymous")
        (_, plain), = publisher.receive(Publish(2, "com.t"))
        assert plain.publisher is None

    def test_realm_discloses_every_publisher(self):
        """A realm with disclose_publisher discloses publishers that did not ask."""
        router = router_with(disclose_publisher=True)
        publisher, subscriber = joined(router), joined(router)
        subscribe(subscriber, "com.t")
        (_, event), = publisher.receive(Publish(1, "com.t"))
        assert event.publisher == publisher.peer.session_id


class TestRevocationAndObservations:
    def test_remove_subscriber_revokes_when_announced(self):
        """remove_subscriber sends UNSUBSCRIBED(0, {subscription, reason}) to a subscriber that announced revocation."""
        router = Router()
        subscriber = joined_with_features(router, subscription_revocation=True)
        sub, _ = subscribe(subscriber, "com.t")
        broker = router.realms["realm1"].broker
        (peer, revoked), = broker.remove_subscriber(subscriber.peer, sub, "com.reason")
        assert isinstance(revoked, Unsubscribed)
        assert revoked.marshal() == [35, 0, {"subscription": sub, "reason": "com.reason"}]
        assert broker.subscription(sub) is None

    def test_remove_subscriber_silent_without_feature(self):
        """A subscriber that did not announce revocation is removed without a message."""
        router = Router()
        subscriber = joined(router)
        sub, _ = subscribe(subscriber, "com.t")
        assert router.realms["realm1"].broker.remove_subscriber(subscriber.peer, sub) == []
        assert sub not in subscriber.peer.subscriptions

    def test_observations_in_lifecycle_order(self):
        """Subscription changes are observed as on_create, on_subscribe, on_subscribe, on_unsubscribe twice, on_delete."""
        from router.broker import Broker
        from router.ids import SequentialIds

        router = Router()
        a, b = joined(router), joined(router)
        observed = []
        broker = Broker(SequentialIds(), observations=observed)
        sub = broker.subscribe(a.peer, Subscribe(1, "com.t"))[0][1].subscription
        broker.subscribe(b.peer, Subscribe(1, "com.t"))
        broker.subscribe(b.peer, Subscribe(2, "com.t"))  # again: no new observation
        broker.unsubscribe(a.peer, Unsubscribe(3, sub))
        broker.detach(b.peer)
        assert [(topic, peer) for topic, peer, _ in observed] == [
            (uris.SUBSCRIPTION_ON_CREATE, a.peer),
            (uris.SUBSCRIPTION_ON_SUBSCRIBE, a.peer),
            (uris.SUBSCRIPTION_ON_SUBSCRIBE, b.peer),
            (uris.SUBSCRIPTION_ON_UNSUBSCRIBE, a.peer),
            (uris.SUBSCRIPTION_ON_UNSUBSCRIBE, b.peer),
            (uris.SUBSCRIPTION_ON_DELETE, b.peer),
        ]
