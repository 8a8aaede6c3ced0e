"""
The broker through the session machine: subscriptions, publications, exclusion and filtering.
"""

from autobahn.wamp.message import Event, Publish, Published, Subscribe, Subscribed, Unsubscribe, Unsubscribed

from router.core import Router
from tests.unit.helpers import joined, messages_to


def subscribe(machine, topic, request=1, match=None):
    (peer, reply), = machine.receive(Subscribe(request, topic, match=match))
    assert isinstance(reply, Subscribed), reply
    return reply.subscription


class TestSubscriptions:
    def test_subscribe_again_returns_same_id(self):
        """A repeated SUBSCRIBE to the same topic returns the same subscription id."""
        machine = joined(Router())
        assert subscribe(machine, "com.t", 1) == subscribe(machine, "com.t", 2)

    def test_subscribers_of_one_topic_share_the_subscription(self):
        """Two sessions subscribing to one topic get the same subscription id."""
        router = Router()
        assert subscribe(joined(router), "com.t") == subscribe(joined(router), "com.t")

    def test_unsubscribe_then_unknown(self):
        """UNSUBSCRIBE answers UNSUBSCRIBED once and no_such_subscription for an id the session does not hold."""
        machine = joined(Router())
        sub = subscribe(machine, "com.t")
        (_, reply), = machine.receive(Unsubscribe(2, sub))
        assert isinstance(reply, Unsubscribed) and reply.request == 2
        (_, error), = machine.receive(Unsubscribe(3, sub))
        assert error.error == "wamp.error.no_such_subscription"

    def test_cannot_unsubscribe_anothers_subscription(self):
        """A session cannot unsubscribe from a subscription it does not hold."""
        router = Router()
        owner, other = joined(router), joined(router)
        sub = subscribe(owner, "com.t")
        (_, error), = other.receive(Unsubscribe(1, sub))
        assert error.error == "wamp.error.no_such_subscription"


class TestPublish:
    def test_event_to_each_subscriber_not_publisher(self):
        """PUBLISH produces one EVENT per subscriber, excluding the publisher by default, and no PUBLISHED unless asked."""
        router = Router()
        publisher, a, b = joined(router), joined(router), joined(router)
        sub = subscribe(a, "com.t")
        subscribe(b, "com.t")
        subscribe(publisher, "com.t")
        out = publisher.receive(Publish(1, "com.t", args=[1], kwargs={"k": 2}))
        assert {peer for peer, _ in out} == {a.peer, b.peer}
        event = messages_to(out, a)[0]
        assert isinstance(event, Event)
        assert (event.subscription, event.args, event.kwargs) == (sub, [1], {"k": 2})
        assert event.publication > 0

    def test_one_event_object_shared_by_receivers(self):
        """All receivers of one subscription get the same EVENT object, so it is serialized once per serializer."""
        router = Router()
        publisher, a, b = joined(router), joined(router), joined(router)
        subscribe(a, "com.t")
        subscribe(b, "com.t")
        out = publisher.receive(Publish(1, "com.t"))
        assert out[0][1] is out[1][1]

    def test_acknowledge(self):
        """An acknowledged PUBLISH gets PUBLISHED with the publication id the events carry."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        subscribe(subscriber, "com.t")
        out = publisher.receive(Publish(5, "com.t", acknowledge=True))
        published = messages_to(out, publisher)[0]
        event = messages_to(out, subscriber)[0]
        assert isinstance(published, Published)
        assert published.request == 5
        assert published.publication == event.publication

    def test_exclude_me_false(self):
        """exclude_me=False delivers the event to the publisher too."""
        machine = joined(Router())
        subscribe(machine, "com.t")
        out = machine.receive(Publish(1, "com.t", exclude_me=False))
        assert [peer for peer, _ in out] == [machine.peer]

    def test_reserved_and_invalid_topics(self):
        """Publishing to wamp.* or an invalid URI gets invalid_uri when acknowledged, and nothing otherwise."""
        machine = joined(Router())
        for topic in ("wamp.session.on_join", "com..t"):
            (_, error), = machine.receive(Publish(1, topic, acknowledge=True))
            assert error.error == "wamp.error.invalid_uri"
            assert machine.receive(Publish(2, topic)) == []

    def test_blackwhite_listing(self):
        """exclude and eligible options restrict receivers by session id."""
        router = Router()
        publisher, a, b, c = (joined(router) for _ in range(4))
        for m in (a, b, c):
            subscribe(m, "com.t")
        out = publisher.receive(Publish(1, "com.t", exclude=[a.peer.session_id]))
        assert {p for p, _ in out} == {b.peer, c.peer}
        out = publisher.receive(Publish(2, "com.t", eligible=[a.peer.session_id, b.peer.session_id],
                                        exclude=[b.peer.session_id]))
        assert {p for p, _ in out} == {a.peer}

    def test_publication_ids_differ(self):
        """Each publication gets its own global-scope id."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        subscribe(subscriber, "com.t")
        ids = {messages_to(publisher.receive(Publish(i, "com.t", acknowledge=True)), publisher)[0].publication
               for i in range(1, 51)}
        assert len(ids) == 50

    def test_leaving_subscriber_gets_nothing_more(self):
        """After a subscriber leaves, publications no longer address it and its subscription is deleted."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        subscribe(subscriber, "com.t")
        subscriber.transport_lost()
        assert publisher.receive(Publish(1, "com.t")) == []
        assert router.realms["realm1"].broker._by_id == {}


class TestOrdering:
    def test_events_keep_publish_order(self):
        """Events from one publisher reach a subscriber in publish order, across topics."""
        router = Router()
        publisher, subscriber = joined(router), joined(router)
        subs = {subscribe(subscriber, "com.a", 1): "a", subscribe(subscriber, "com.b", 2): "b"}
        received = []
        for i in range(1, 21):
            topic = "com.a" if i % 2 else "com.b"
            for _, event in publisher.receive(Publish(i, topic, args=[i])):
                received.append((subs[event.subscription], event.args[0]))
        assert [n for _, n in received] == list(range(1, 21))
