"""
The meta API with real Autobahn|Python clients over WebSocket, JSON and MessagePack: session events
and procedures, subscription and registration procedures, and testaments.
"""

import pytest
import pytest_twisted
from autobahn.wamp import role
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions
from twisted.internet import defer

from tests.support import Client, connect, sleep, with_timeout

serializers = pytest.mark.parametrize("serializer", ("json", "msgpack"))


class Inbox:
    """
    A subscription handler keeping each event's (args, kwargs), with a wait for the n-th event.
    """

    def __init__(self) -> None:
        self.events: list = []
        self._waiting: list = []

    def __call__(self, *args, **kwargs) -> None:
        self.events.append((args, kwargs))
        for count, d in list(self._waiting):
            if len(self.events) >= count:
                self._waiting.remove((count, d))
                d.callback(None)

    def wait(self, count: int = 1) -> defer.Deferred:
        """
        Fire once ``count`` events have arrived.
        """
        d: defer.Deferred = defer.Deferred()
        if len(self.events) >= count:
            d.callback(None)
        else:
            self._waiting.append((count, d))
        return with_timeout(d)


class NoRevocationClient(Client):
    """
    A client that does not announce ``subscription_revocation``: Autobahn|Python announces it but
    fails its session with a ProtocolError on the ``UNSUBSCRIBED(0)`` that revokes a subscription.
    """

    def __init__(self, config) -> None:
        Client.__init__(self, config)
        subscriber = role.RoleSubscriberFeatures(**dict(vars(role.DEFAULT_CLIENT_ROLES["subscriber"]),
                                                        subscription_revocation=None))
        self._session_roles = dict(role.DEFAULT_CLIENT_ROLES, subscriber=subscriber)


@defer.inlineCallbacks
def listen(session, topic, **options):
    inbox = Inbox()
    yield session.subscribe(inbox, topic, options=SubscribeOptions(**options) if options else None)
    return inbox


def drop(session) -> None:
    """
    Drop a client's TCP connection without GOODBYE.
    """
    session._transport.transport.abortConnection()


@serializers
@pytest_twisted.inlineCallbacks
def test_join_and_leave_events(router, serializer):
    """A subscriber sees on_join with the joining session's details and on_leave with its id, authid and authrole."""
    observer = yield connect(router, "websocket", serializer)
    joins = yield listen(observer, "wamp.session.on_join")
    leaves = yield listen(observer, "wamp.session.on_leave")
    client = yield connect(router, "websocket", serializer)
    yield joins.wait()
    (details,), _ = joins.events[0]
    assert details["session"] == client.details.session
    assert (details["authid"], details["authrole"]) == (client.details.authid, "anonymous")
    assert (details["authmethod"], details["authprovider"]) == ("anonymous", "static")
    yield client.leave()
    yield leaves.wait()
    assert leaves.events == [((client.details.session, client.details.authid, "anonymous"), {})]


@serializers
@pytest_twisted.inlineCallbacks
def test_session_count_list_get(router, serializer):
    """count, list and get describe the sessions of the caller's realm only; an unknown id gets no_such_session."""
    a = yield connect(router, "websocket", serializer)
    b = yield connect(router, "websocket", serializer)
    yield connect(router, "websocket", serializer, realm="realm2")
    assert (yield a.call("wamp.session.count")) == 2
    assert (yield a.call("wamp.session.count", ["admin"])) == 0
    assert sorted((yield a.call("wamp.session.list"))) == sorted([a.details.session, b.details.session])
    details = yield a.call("wamp.session.get", b.details.session)
    assert (details["session"], details["authid"]) == (b.details.session, b.details.authid)
    with pytest.raises(ApplicationError) as raised:
        yield a.call("wamp.session.get", 1)
    assert raised.value.error == "wamp.error.no_such_session"


@serializers
@pytest_twisted.inlineCallbacks
def test_kill(router, serializer):
    """kill closes another session with the given reason (wamp.close.normal by default), and refuses the caller's own."""
    admin = yield connect(router, "websocket", serializer)
    victim = yield connect(router, "websocket", serializer)
    bystander = yield connect(router, "websocket", serializer)
    yield admin.call("wamp.session.kill", victim.details.session, reason="wamp.close.killed", message="out")
    left = yield with_timeout(victim.left)
    assert left.reason == "wamp.close.killed"
    assert left.message == "out"
    yield admin.call("wamp.session.kill", bystander.details.session)
    left = yield with_timeout(bystander.left)
    assert left.reason == "wamp.close.normal"
    assert (yield admin.call("wamp.session.list")) == [admin.details.session]
    with pytest.raises(ApplicationError) as raised:
        yield admin.call("wamp.session.kill", admin.details.session)
    assert raised.value.error == "wamp.error.no_such_session"
    with pytest.raises(ApplicationError) as raised:
        yield admin.call("wamp.session.kill", 1, reason="not a uri")
    assert raised.value.error == "wamp.error.invalid_uri"


@serializers
@pytest_twisted.inlineCallbacks
def test_kill_by_authid_and_kill_all(router, serializer):
    """kill_by_authid and kill_all close the other sessions and return how many they closed."""
    admin = yield connect(router, "websocket", serializer)
    victim = yield connect(router, "websocket", serializer)
    others = []
    for _ in range(2):
        others.append((yield connect(router, "websocket", serializer)))
    assert (yield admin.call("wamp.session.kill_by_authid", victim.details.authid, reason="wamp.close.killed")) == 1
    assert (yield with_timeout(victim.left)).reason == "wamp.close.killed"
    assert (yield admin.call("wamp.session.kill_all")) == 2
    for other in others:
        yield with_timeout(other.left)
    assert (yield admin.call("wamp.session.count")) == 1


@serializers
@pytest_twisted.inlineCallbacks
def test_subscription_procedures(router, serializer):
    """list, lookup, match, get, list_subscribers and count_subscribers describe the subscriptions of a topic."""
    a = yield connect(router, "websocket", serializer)
    b = yield connect(router, "websocket", serializer)
    exact = yield a.subscribe(lambda *args: None, "com.example.meta.topic")
    yield b.subscribe(lambda *args: None, "com.example.meta.topic")
    prefix = yield b.subscribe(lambda *args: None, "com.example.meta", options=SubscribeOptions(match="prefix"))
    lists = yield a.call("wamp.subscription.list")
    assert (lists["exact"], lists["prefix"], lists["wildcard"]) == ([exact.id], [prefix.id], [])
    assert (yield a.call("wamp.subscription.lookup", "com.example.meta.topic")) == exact.id
    assert (yield a.call("wamp.subscription.lookup", "com.example.meta", {"match": "prefix"})) == prefix.id
    assert (yield a.call("wamp.subscription.lookup", "com.example.none")) is None
    assert sorted((yield a.call("wamp.subscription.match", "com.example.meta.topic"))) == sorted([exact.id, prefix.id])
    assert (yield a.call("wamp.subscription.match", "org.example")) is None
    details = yield a.call("wamp.subscription.get", exact.id)
    assert (details["id"], details["uri"], details["match"]) == (exact.id, "com.example.meta.topic", "exact")
    assert isinstance(details["created"], str)
    subscribers = yield a.call("wamp.subscription.list_subscribers", exact.id)
    assert subscribers == [a.details.session, b.details.session]
    assert (yield a.call("wamp.subscription.count_subscribers", exact.id)) == 2
    with pytest.raises(ApplicationError) as raised:
        yield a.call("wamp.subscription.get", 999999)
    assert raised.value.error == "wamp.error.no_such_subscription"


@serializers
@pytest_twisted.inlineCallbacks
def test_remove_subscriber(router, serializer):
    """remove_subscriber takes a session off a subscription: it is no longer listed and gets no more events."""
    admin = yield connect(router, "websocket", serializer)
    subscriber = yield connect(router, "websocket", serializer, session_class=NoRevocationClient)
    unsubscribes = yield listen(admin, "wamp.subscription.on_unsubscribe")
    inbox = Inbox()
    subscription = yield subscriber.subscribe(inbox, "com.example.meta.removed")
    yield admin.subscribe(lambda *args: None, "com.example.meta.removed")
    yield admin.call("wamp.subscription.remove_subscriber", subscription.id, subscriber.details.session)
    yield unsubscribes.wait()
    assert unsubscribes.events == [((subscriber.details.session, subscription.id), {})]
    assert (yield admin.call("wamp.subscription.list_subscribers", subscription.id)) == [admin.details.session]
    yield admin.publish("com.example.meta.removed", "x", options=PublishOptions(acknowledge=True))
    yield sleep(0.2)
    assert inbox.events == []
    assert subscriber.is_attached()


@serializers
@pytest_twisted.inlineCallbacks
def test_registration_procedures(router, serializer):
    """list, lookup, match, get, list_callees and count_callees describe the registrations of a procedure."""
    callee = yield connect(router, "websocket", serializer)
    caller = yield connect(router, "websocket", serializer)
    exact = yield callee.register(lambda: None, "com.example.meta.proc")
    lists = yield caller.call("wamp.registration.list")
    assert (lists["exact"], lists["prefix"], lists["wildcard"]) == ([exact.id], [], [])
    assert (yield caller.call("wamp.registration.lookup", "com.example.meta.proc")) == exact.id
    assert (yield caller.call("wamp.registration.lookup", "com.example.meta.proc", {"match": "prefix"})) is None
    assert (yield caller.call("wamp.registration.match", "com.example.meta.proc")) == exact.id
    assert (yield caller.call("wamp.registration.match", "com.example.other")) is None
    details = yield caller.call("wamp.registration.get", exact.id)
    assert (details["id"], details["uri"], details["match"]) == (exact.id, "com.example.meta.proc", "exact")
    assert details["invoke"] == "single"
    assert (yield caller.call("wamp.registration.list_callees", exact.id)) == [callee.details.session]
    assert (yield caller.call("wamp.registration.count_callees", exact.id)) == 1
    with pytest.raises(ApplicationError) as raised:
        yield caller.call("wamp.registration.get", 999999)
    assert raised.value.error == "wamp.error.no_such_registration"


@serializers
@pytest_twisted.inlineCallbacks
def test_remove_callee(router, serializer):
    """remove_callee takes the callee off its registration: the registration goes and calls fail with no_such_procedure."""
    callee = yield connect(router, "websocket", serializer)
    admin = yield connect(router, "websocket", serializer)
    deletes = yield listen(admin, "wamp.registration.on_delete")
    registration = yield callee.register(lambda: "ok", "com.example.meta.removed")
    assert (yield admin.call("com.example.meta.removed")) == "ok"
    yield admin.call("wamp.registration.remove_callee", registration.id, callee.details.session,
                     reason="com.example.gone")
    yield deletes.wait()
    assert deletes.events == [((callee.details.session, registration.id), {})]
    with pytest.raises(ApplicationError) as raised:
        yield admin.call("com.example.meta.removed")
    assert raised.value.error == "wamp.error.no_such_procedure"
    assert callee.is_attached()


@serializers
@pytest_twisted.inlineCallbacks
def test_testament_on_dropped_connection(router, serializer):
    """A client whose TCP connection drops without GOODBYE has its testament published, detached scope first."""
    listener = yield connect(router, "websocket", serializer)
    inbox = yield listen(listener, "com.example.will")
    client = yield connect(router, "websocket", serializer)
    yield client.call("wamp.session.add_testament", "com.example.will", ["destroyed"], {"who": "client"})
    yield client.call("wamp.session.add_testament", "com.example.will", ["detached"], {}, scope="detached")
    drop(client)
    yield inbox.wait(2)
    assert inbox.events == [(("detached",), {}), (("destroyed",), {"who": "client"})]


@serializers
@pytest_twisted.inlineCallbacks
def test_testament_on_goodbye(router, serializer):
    """A client leaving with GOODBYE has its testament published to the others, not to itself."""
    listener = yield connect(router, "websocket", serializer)
    inbox = yield listen(listener, "com.example.will")
    client = yield connect(router, "websocket", serializer)
    own = yield listen(client, "com.example.will")
    yield client.call("wamp.session.add_testament", "com.example.will", ["bye"], {})
    yield client.leave()
    yield inbox.wait()
    assert inbox.events == [(("bye",), {})]
    assert own.events == []


@serializers
@pytest_twisted.inlineCallbacks
def test_flushed_testament_is_not_published(router, serializer):
    """flush_testaments removes a client's testaments: nothing is published when its connection drops."""
    listener = yield connect(router, "websocket", serializer)
    inbox = yield listen(listener, "com.example.will")
    leaves = yield listen(listener, "wamp.session.on_leave")
    client = yield connect(router, "websocket", serializer)
    yield client.call("wamp.session.add_testament", "com.example.will", ["bye"], {})
    assert (yield client.call("wamp.session.flush_testaments")) is None
    drop(client)
    yield leaves.wait()
    yield sleep(0.2)
    assert inbox.events == []


@serializers
@pytest_twisted.inlineCallbacks
def test_malformed_meta_calls(router, serializer):
    """A meta call with wrong arguments fails with invalid_argument (invalid_uri for a bad testament topic)."""
    client = yield connect(router, "websocket", serializer)
    for procedure, args, kwargs, uri in (
        ("wamp.session.get", ("one",), {}, "wamp.error.invalid_argument"),
        ("wamp.subscription.list", (1,), {}, "wamp.error.invalid_argument"),
        ("wamp.session.add_testament", ("com.example.will", "x", {}), {}, "wamp.error.invalid_argument"),
        ("wamp.session.add_testament", ("com..will", [], {}), {}, "wamp.error.invalid_uri"),
        ("wamp.session.flush_testaments", (), {"scope": "never"}, "wamp.error.invalid_argument"),
    ):
        with pytest.raises(ApplicationError) as raised:
            yield client.call(procedure, *args, **kwargs)
        assert raised.value.error == uri, procedure
    assert client.is_attached()
