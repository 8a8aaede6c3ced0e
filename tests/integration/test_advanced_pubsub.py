"""
Advanced Profile broker features through wampd with real Autobahn|Python clients over loopback:
pattern-based subscriptions, publisher exclusion and identification, subscriber black- and
whitelisting, event retention, event history, subscription ids and event ordering.

Negative checks ("this event never arrives") need no sleeping: events keep publish order per
publisher and subscriber, so once a later unfiltered event from the same publisher has arrived,
an earlier one that was going to arrive would already be there.
"""

import random

import pytest
import pytest_twisted
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer

from router.broker import HistoryRule
from router.core import RealmOptions, RouterOptions
from tests.conftest import start_router
from tests.support import connect, with_timeout

#: WebSocket everywhere, and RawSocket over TCP since it costs no more
transports = pytest.mark.parametrize("transport", ("websocket", "rawsocket-tcp"))
serializers = pytest.mark.parametrize("serializer", ("json", "msgpack"))

#: the published value that tells a subscriber everything before it has arrived
END = "end"


class Inbox:
    """
    An event handler that keeps each event's ``(args, kwargs, details)`` and lets a test wait, with a
    bound, until what it expects has arrived.
    """

    def __init__(self) -> None:
        self.events: list[tuple[tuple, dict, object]] = []
        self._waiting: list[tuple[object, defer.Deferred]] = []

    def __call__(self, *args, details=None, **kwargs) -> None:
        self.events.append((args, kwargs, details))
        for check, d in list(self._waiting):
            if check():
                self._waiting.remove((check, d))
                d.callback(None)

    @property
    def values(self) -> list:
        """
        The first positional argument of every event, in arrival order.
        """
        return [args[0] if args else None for args, _, _ in self.events]

    @property
    def details(self) -> list:
        """
        The ``EventDetails`` of every event, in arrival order.
        """
        return [details for _, _, details in self.events]

    def wait(self, check) -> defer.Deferred:
        """
        Fire once ``check()`` holds; fail with ``TimeoutError`` if it does not come to hold in time.
        """
        d: defer.Deferred = defer.Deferred()
        if check():
            d.callback(None)
        else:
            self._waiting.append((check, d))
        return with_timeout(d)

    def until(self, value) -> defer.Deferred:
        """
        Wait for an event whose first argument is ``value``.
        """
        return self.wait(lambda: value in self.values)

    def until_count(self, count: int) -> defer.Deferred:
        """
        Wait for ``count`` events.
        """
        return self.wait(lambda: len(self.events) >= count)


@defer.inlineCallbacks
def subscribe(session, topic, inbox=None, **options):
    """
    Subscribe ``inbox`` (a new one by default) to ``topic`` with event details; return
    ``(inbox, subscription)``.
    """
    inbox = inbox if inbox is not None else Inbox()
    subscription = yield session.subscribe(inbox, topic, options=SubscribeOptions(details=True, **options))
    return inbox, subscription


def publish(session, topic, *args, kwargs=None, **options):
    """
    An acknowledged publication (so that errors surface) with ``args``, ``kwargs`` and publish
    ``options``; fires with the Publication.
    """
    return with_timeout(session.publish(topic, *args, options=PublishOptions(acknowledge=True, **options),
                                        **(kwargs or {})))


def started(tmp_path, **realm_options):
    """
    A router whose realm1 has ``realm_options``, stopped when the fixture using it ends.
    """
    running = start_router(tmp_path, router_options=RouterOptions(realms={"realm1": RealmOptions(**realm_options)}))
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest.fixture
def disclosing_router(tmp_path):
    """
    A running router whose realm1 discloses every publisher.
    """
    yield from started(tmp_path, disclose_publisher=True)


@pytest.fixture
def history_router(tmp_path):
    """
    A running router whose realm1 keeps event history for com.example.log.*, com.mycompany.log.*
    and com.example.audit.
    """
    yield from started(tmp_path, history=(
        HistoryRule("com.example.log", match="prefix", limit=10),
        HistoryRule("com.mycompany.log", match="prefix"),
        HistoryRule("com.example.audit"),
    ))


# pattern-based subscriptions


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_prefix_subscription_receives_topics_under_the_prefix_with_topic_detail(router, transport, serializer):
    """A prefix subscription gets every event whose topic starts with the prefix, details.topic naming it."""
    subscriber = yield connect(router, transport, serializer)
    inbox, _ = yield subscribe(subscriber, "com.example.sensor", match="prefix")
    publisher = yield connect(router, transport, serializer)
    topics = ["com.example.sensor", "com.example.sensor.1", "com.example.sensor-low",
              "com.example.sensor.room.2", "com.example.sense", "com.example.other.sensor"]
    for topic in topics:
        yield publish(publisher, topic, topic)
    yield publish(publisher, "com.example.sensor.last", END)
    yield inbox.until(END)
    expected = ["com.example.sensor", "com.example.sensor.1", "com.example.sensor-low", "com.example.sensor.room.2",
                "com.example.sensor.last"]
    assert inbox.values == expected[:-1] + [END]
    assert [details.topic for details in inbox.details] == expected


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_wildcard_subscription_matches_whole_components_with_topic_detail(router, transport, serializer):
    """A wildcard subscription gets events whose topic has any component in the empty position and nothing else."""
    subscriber = yield connect(router, transport, serializer)
    inbox, _ = yield subscribe(subscriber, "com.myapp..userevent", match="wildcard")
    publisher = yield connect(router, transport, serializer)
    topics = ["com.myapp.foo.userevent", "com.myapp.foo.userevent.bar", "com.myapp.foo.user",
              "com.myapp2.foo.userevent", "com.myapp.a12.userevent"]
    for topic in topics:
        yield publish(publisher, topic, topic)
    yield publish(publisher, "com.myapp.last.userevent", END)
    yield inbox.until(END)
    assert inbox.values == ["com.myapp.foo.userevent", "com.myapp.a12.userevent", END]
    assert [details.topic for details in inbox.details] == [
        "com.myapp.foo.userevent", "com.myapp.a12.userevent", "com.myapp.last.userevent"]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_event_matching_several_subscriptions_of_one_client_arrives_once_per_subscription(router, transport,
                                                                                          serializer):
    """An event matching three subscriptions of one client arrives once on each, with one publication id."""
    subscriber = yield connect(router, transport, serializer)
    inbox = Inbox()
    _, exact = yield subscribe(subscriber, "com.example.room.light", inbox)
    _, prefix = yield subscribe(subscriber, "com.example.room", inbox, match="prefix")
    _, wildcard = yield subscribe(subscriber, "com.example..light", inbox, match="wildcard")
    assert len({exact.id, prefix.id, wildcard.id}) == 3
    publisher = yield connect(router, transport, serializer)
    publication = yield publish(publisher, "com.example.room.light", "on")
    yield publish(publisher, "com.example.room.light", END)
    yield inbox.wait(lambda: inbox.values.count(END) == 3)
    firsts = [details for value, details in zip(inbox.values, inbox.details) if value == "on"]
    assert sorted(details.subscription.id for details in firsts) == sorted([exact.id, prefix.id, wildcard.id])
    assert {details.publication for details in firsts} == {publication.id}
    assert inbox.values == ["on"] * 3 + [END] * 3
    # Autobahn falls back to the subscribed URI when EVENT has no topic: for the patterns only the
    # router's details.topic gives the published URI
    assert [details.topic for details in firsts] == ["com.example.room.light"] * 3


# publisher exclusion and identification


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_publisher_is_excluded_by_default_and_included_with_exclude_me_false(router, transport, serializer):
    """A subscribed publisher does not get its own event unless it publishes with exclude_me=False; others get both."""
    publisher = yield connect(router, transport, serializer)
    own, _ = yield subscribe(publisher, "com.example.chat")
    other = yield connect(router, transport, serializer)
    others, _ = yield subscribe(other, "com.example.chat")
    yield publish(publisher, "com.example.chat", "excluded")
    yield publish(publisher, "com.example.chat", "included", exclude_me=False)
    yield publish(publisher, "com.example.chat", END, exclude_me=False)
    yield own.until(END)
    yield others.until(END)
    assert own.values == ["included", END]
    assert others.values == ["excluded", "included", END]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_publisher_is_disclosed_when_the_realm_discloses_publishers(disclosing_router, transport, serializer):
    """With the realm option disclose_publisher, every event carries the publisher's session id, authid and authrole."""
    subscriber = yield connect(disclosing_router, transport, serializer)
    inbox, _ = yield subscribe(subscriber, "com.example.news")
    publisher = yield connect(disclosing_router, transport, serializer)
    yield publish(publisher, "com.example.news", END)
    yield inbox.until(END)
    details, = inbox.details
    assert details.publisher == publisher.details.session
    assert details.publisher_authid == publisher.details.authid
    assert details.publisher_authrole == publisher.details.authrole == "anonymous"


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_publisher_is_not_disclosed_by_default(router, transport, serializer):
    """Without disclose_me or the realm option, events carry no publisher identity."""
    subscriber = yield connect(router, transport, serializer)
    inbox, _ = yield subscribe(subscriber, "com.example.news")
    publisher = yield connect(router, transport, serializer)
    yield publish(publisher, "com.example.news", END)
    yield inbox.until(END)
    details, = inbox.details
    assert (details.publisher, details.publisher_authid, details.publisher_authrole) == (None, None, None)


# subscriber black- and whitelisting

#: (case, publish options naming subscribers a/b/c, who receives). Session and authid options list
#: subscriber letters, resolved to that subscriber's session id or authid; authrole options are
#: literal. A receiver must pass every filter given.
FILTER_CASES = [
    ("exclude", {"exclude": "a"}, "bc"),
    ("exclude_two", {"exclude": "ab"}, "c"),
    ("eligible", {"eligible": "a"}, "a"),
    ("eligible_empty", {"eligible": ""}, ""),
    ("exclude_authid", {"exclude_authid": "a"}, "bc"),
    ("eligible_authid", {"eligible_authid": "bc"}, "bc"),
    ("exclude_authrole", {"exclude_authrole": ["anonymous"]}, ""),
    ("exclude_authrole_other", {"exclude_authrole": ["admin"]}, "abc"),
    ("eligible_authrole", {"eligible_authrole": ["anonymous"]}, "abc"),
    ("eligible_authrole_other", {"eligible_authrole": ["admin"]}, ""),
    ("eligible_and_exclude", {"eligible": "ab", "exclude": "b"}, "a"),
    ("eligible_and_eligible_authid", {"eligible": "ab", "eligible_authid": "bc"}, "b"),
    ("eligible_authid_and_exclude_authid", {"eligible_authid": "abc", "exclude_authid": "c"}, "ab"),
    ("eligible_authrole_and_exclude_authid", {"eligible_authrole": ["anonymous"], "exclude_authid": "c"}, "ab"),
    ("eligible_authrole_and_exclude", {"eligible_authrole": ["anonymous"], "exclude": "ac"}, "b"),
    ("exclude_authrole_other_and_eligible_authid", {"exclude_authrole": ["admin"], "eligible_authid": "c"}, "c"),
]


def resolve_filters(options, sessions):
    """
    Publish options with subscriber letters turned into session ids (``exclude``, ``eligible``) or
    authids (``*_authid``).
    """
    resolved = {}
    for key, value in options.items():
        if key in ("exclude", "eligible"):
            resolved[key] = [sessions[letter].details.session for letter in value]
        elif key.endswith("_authid"):
            resolved[key] = [sessions[letter].details.authid for letter in value]
        else:
            resolved[key] = value
    return resolved


@transports
@serializers
@pytest.mark.parametrize("options, receivers", [case[1:] for case in FILTER_CASES],
                         ids=[case[0] for case in FILTER_CASES])
@pytest_twisted.inlineCallbacks
def test_black_and_whitelisting_selects_receivers(router, transport, serializer, options, receivers):
    """A publication with exclude/eligible options reaches exactly the subscribers passing every filter."""
    sessions, inboxes = {}, {}
    for letter in "abc":
        sessions[letter] = yield connect(router, transport, serializer)
        inboxes[letter], _ = yield subscribe(sessions[letter], "com.example.filtered")
    assert len({s.details.authid for s in sessions.values()}) == 3
    publisher = yield connect(router, transport, serializer)
    yield publish(publisher, "com.example.filtered", "filtered", **resolve_filters(options, sessions))
    yield publish(publisher, "com.example.filtered", END)
    for letter, inbox in inboxes.items():
        yield inbox.until(END)
        expected = ["filtered", END] if letter in receivers else [END]
        assert inbox.values == expected, "subscriber {}".format(letter)


# event retention


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_late_subscriber_asking_for_retained_event_gets_the_latest_first(router, transport, serializer):
    """A subscriber asking for get_retained gets the latest retained event first, marked retained, then live ones."""
    publisher = yield connect(router, transport, serializer)
    yield publish(publisher, "com.example.temperature", 20, retain=True)
    yield publish(publisher, "com.example.temperature", 21, retain=True)
    yield publish(publisher, "com.example.temperature", 99)
    late = yield connect(router, transport, serializer)
    retained, _ = yield subscribe(late, "com.example.temperature", get_retained=True)
    bystander = yield connect(router, transport, serializer)
    plain, _ = yield subscribe(bystander, "com.example.temperature")
    yield publish(publisher, "com.example.temperature", 22)
    yield retained.until(22)
    yield plain.until(22)
    assert retained.values == [21, 22]
    assert [bool(details.retained) for details in retained.details] == [True, False]
    assert plain.values == [22]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_retained_event_reaches_pattern_subscriber_with_topic(router, transport, serializer):
    """A prefix subscriber with get_retained gets the retained event of a matching topic with details.topic set."""
    publisher = yield connect(router, transport, serializer)
    yield publish(publisher, "com.example.dc.rack1", "hot", retain=True)
    yield publish(publisher, "com.example.elsewhere", "no", retain=True)
    subscriber = yield connect(router, transport, serializer)
    inbox, _ = yield subscribe(subscriber, "com.example.dc", match="prefix", get_retained=True)
    yield publish(publisher, "com.example.dc.rack2", END)
    yield inbox.until(END)
    assert inbox.values == ["hot", END]
    assert inbox.details[0].retained is True
    assert inbox.details[0].topic == "com.example.dc.rack1"


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_retained_event_is_not_sent_without_get_retained(router, transport, serializer):
    """A subscriber that does not ask for the retained event does not get it."""
    publisher = yield connect(router, transport, serializer)
    yield publish(publisher, "com.example.state", "kept", retain=True)
    subscriber = yield connect(router, transport, serializer)
    inbox, _ = yield subscribe(subscriber, "com.example.state")
    yield publish(publisher, "com.example.state", END)
    yield inbox.until(END)
    assert inbox.values == [END]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_retained_event_with_eligible_filter_is_not_sent_to_non_eligible_subscriber(router, transport, serializer):
    """A retained event published with eligible/eligible_authid goes only to subscribers it admitted."""
    chosen = yield connect(router, transport, serializer)
    outsider = yield connect(router, transport, serializer)
    publisher = yield connect(router, transport, serializer)
    yield publish(publisher, "com.example.secret", "by-session", retain=True, eligible=[chosen.details.session])
    yield publish(publisher, "com.example.secret2", "by-authid", retain=True,
                  eligible_authid=[chosen.details.authid])
    inboxes = {}
    for name, session in (("chosen", chosen), ("outsider", outsider)):
        inboxes[name] = Inbox()
        yield subscribe(session, "com.example.secret", inboxes[name], get_retained=True)
        yield subscribe(session, "com.example.secret2", inboxes[name], get_retained=True)
    yield publish(publisher, "com.example.secret", END)
    yield inboxes["chosen"].until(END)
    yield inboxes["outsider"].until(END)
    assert inboxes["chosen"].values == ["by-session", "by-authid", END]
    assert inboxes["outsider"].values == [END]


# subscription ids and ordering


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_subscription_ids_are_shared_per_topic_and_match_policy(router, transport, serializer):
    """Sessions subscribing to one topic and policy share a subscription id; another topic or policy gets another."""
    first = yield connect(router, transport, serializer)
    second = yield connect(router, transport, serializer)
    a = yield first.subscribe(lambda *args: None, "com.example.shared")
    b = yield second.subscribe(lambda *args: None, "com.example.shared")
    other_topic = yield second.subscribe(lambda *args: None, "com.example.shared2")
    other_policy = yield second.subscribe(lambda *args: None, "com.example.shared",
                                          options=SubscribeOptions(match="prefix"))
    assert a.id == b.id
    assert len({a.id, other_topic.id, other_policy.id}) == 3
    inbox, _ = yield subscribe(first, "com.example.shared")
    publisher = yield connect(router, transport, serializer)
    yield publish(publisher, "com.example.shared", END)
    yield inbox.until(END)
    assert inbox.details[0].subscription.id == a.id


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_events_keep_publish_order_across_topics(router, transport, serializer):
    """Many acknowledged publications to two topics, sent without waiting, arrive in publish order."""
    subscriber = yield connect(router, transport, serializer)
    inbox = Inbox()
    yield subscribe(subscriber, "com.example.order.a", inbox)
    yield subscribe(subscriber, "com.example.order.b", inbox)
    publisher = yield connect(router, transport, serializer)
    count = 200
    shuffle = random.Random(7)
    topics = [shuffle.choice("ab") for _ in range(count)]
    acks = [publisher.publish("com.example.order." + topic, n, options=PublishOptions(acknowledge=True))
            for n, topic in enumerate(topics)]
    yield with_timeout(defer.gatherResults(acks, consumeErrors=True))
    yield inbox.until_count(count)
    assert inbox.values == list(range(count))
    assert [details.subscription.topic[-1] for details in inbox.details] == topics


# event history (wamp.subscription.get_events)


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_event_history_returns_kept_events_of_a_subscription(history_router, transport, serializer):
    """wamp.subscription.get_events lists a topic's events in publish order, leaving out session-filtered ones."""
    subscriber = yield connect(history_router, transport, serializer)
    inbox, subscription = yield subscribe(subscriber, "com.example.log.auth")
    publisher = yield connect(history_router, transport, serializer)
    published = []
    for n in range(3):
        publication = yield publish(publisher, "com.example.log.auth", n, kwargs={"level": "info"})
        published.append(publication.id)
    yield publish(publisher, "com.example.log.auth", "excluding", exclude=[publisher.details.session])
    yield publish(publisher, "com.example.log.auth", "eligible", eligible=[subscriber.details.session])
    yield publish(publisher, "com.example.log.basket", "other topic")
    yield inbox.until("eligible")
    events = yield with_timeout(subscriber.call("wamp.subscription.get_events", subscription.id))
    assert [event["args"] for event in events] == [[0], [1], [2]]
    assert [event["kwargs"] for event in events] == [{"level": "info"}] * 3
    assert [event["publication"] for event in events] == published
    assert {event["subscription"] for event in events} == {subscription.id}
    assert all(isinstance(event["timestamp"], str) for event in events)


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_event_history_honours_limit_and_reverse(history_router, transport, serializer):
    """wamp.subscription.get_events with the keywords limit and reverse gives the newest events, newest first."""
    subscriber = yield connect(history_router, transport, serializer)
    inbox, subscription = yield subscribe(subscriber, "com.example.log.pages")
    publisher = yield connect(history_router, transport, serializer)
    for n in range(4):
        yield publish(publisher, "com.example.log.pages", n)
    yield inbox.until(3)
    oldest = yield with_timeout(subscriber.call("wamp.subscription.get_events", subscription.id, limit=2))
    newest = yield with_timeout(subscriber.call("wamp.subscription.get_events", subscription.id, limit=2,
                                                reverse=True))
    assert [event["args"] for event in oldest] == [[0], [1]]
    assert [event["args"] for event in newest] == [[3], [2]]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_event_history_of_prefix_subscription_covers_every_matching_topic(history_router, transport, serializer):
    """The history of a prefix subscription holds the events of every topic it matches, in publish order."""
    subscriber = yield connect(history_router, transport, serializer)
    inbox, everything = yield subscribe(subscriber, "com.mycompany.log", match="prefix")
    _, basket = yield subscribe(subscriber, "com.mycompany.log.basket")
    publisher = yield connect(history_router, transport, serializer)
    topics = ["auth", "basket", "basket", "basket", "checkout"]
    for n, topic in enumerate(topics):
        yield publish(publisher, "com.mycompany.log." + topic, n)
    yield inbox.until(len(topics) - 1)
    all_events = yield with_timeout(subscriber.call("wamp.subscription.get_events", everything.id))
    basket_events = yield with_timeout(subscriber.call("wamp.subscription.get_events", basket.id))
    assert [event["args"] for event in all_events] == [[n] for n in range(5)]
    assert [event["args"] for event in basket_events] == [[1], [2], [3]]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_event_history_filters_authrole_restricted_events_per_requester(history_router, transport, serializer):
    """An event restricted by authrole is kept in the history and listed only for requesters the restriction admits."""
    subscriber = yield connect(history_router, transport, serializer)
    inbox, subscription = yield subscribe(subscriber, "com.example.audit")
    publisher = yield connect(history_router, transport, serializer)
    yield publish(publisher, "com.example.audit", "for anonymous", eligible_authrole=["anonymous"])
    yield publish(publisher, "com.example.audit", "for admins", eligible_authrole=["admin"])
    yield publish(publisher, "com.example.audit", END)
    yield inbox.until(END)
    events = yield with_timeout(subscriber.call("wamp.subscription.get_events", subscription.id))
    assert [event["args"] for event in events] == [["for anonymous"], [END]]
