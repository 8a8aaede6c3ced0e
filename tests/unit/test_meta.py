"""
The meta API through the session machine: session, subscription and registration meta events and
procedures, and testaments.
"""

import itertools
from datetime import datetime

import pytest
from autobahn.wamp import role
from autobahn.wamp.message import (
    Call,
    Error,
    Event,
    Goodbye,
    Publish,
    Register,
    Registered,
    Result,
    Subscribe,
    Subscribed,
    Unregister,
    Unregistered,
    Unsubscribe,
    Unsubscribed,
)
from twisted.internet.task import Clock

from router.authorizer import Permission
from router.broker import HistoryRule
from router.core import RealmOptions, Router, RouterOptions
from router.session import SessionMachine
from tests.unit.helpers import ALL_ROLES, hello, joined

_requests = itertools.count(1000)

REVOCABLE_ROLES = dict(
    ALL_ROLES,
    subscriber=role.RoleSubscriberFeatures(subscription_revocation=True),
    callee=role.RoleCalleeFeatures(registration_revocation=True),
)


def call(machine, procedure, *args, **kwargs):
    """
    Call a meta procedure; returns the RESULT or ERROR answering it and every delivery.
    """
    request = next(_requests)
    out = machine.receive(Call(request, procedure, args=list(args) or None, kwargs=kwargs or None))
    replies = [msg for peer, msg in out
               if peer is machine.peer and isinstance(msg, (Result, Error)) and msg.request == request]
    assert len(replies) == 1, out
    return replies[0], out


def result(machine, procedure, *args, **kwargs):
    """
    The single positional result of a meta call that must succeed (``None`` for no value).
    """
    reply, _ = call(machine, procedure, *args, **kwargs)
    assert isinstance(reply, Result), (reply.error, reply.args)
    assert reply.kwargs is None
    return reply.args[0] if reply.args else None


def error(machine, procedure, *args, **kwargs):
    """
    The error URI of a meta call that must fail.
    """
    reply, _ = call(machine, procedure, *args, **kwargs)
    assert isinstance(reply, Error), reply
    return reply.error


def subscribe(machine, topic, match=None):
    (_, reply), *_ = machine.receive(Subscribe(next(_requests), topic, match=match))
    assert isinstance(reply, Subscribed), reply
    return reply.subscription


def register(machine, procedure, match=None):
    (_, reply), *_ = machine.receive(Register(next(_requests), procedure, match=match))
    assert isinstance(reply, Registered), reply
    return reply.registration


def events_to(deliveries, peer, subscription):
    """
    The args of each EVENT of ``subscription`` that ``peer`` receives.
    """
    return [msg.args for p, msg in deliveries
            if p is peer and isinstance(msg, Event) and msg.subscription == subscription]


def goodbyes_to(deliveries, peer):
    return [msg for p, msg in deliveries if p is peer and isinstance(msg, Goodbye)]


def join(router, roles=None):
    """
    A session machine joining realm1, and the deliveries its HELLO caused.
    """
    machine = SessionMachine(router, link=object())
    out = machine.receive(hello(roles=roles or ALL_ROLES))
    return machine, out


class TestProvides:
    def test_meta_procedures_only(self):
        """The meta API answers the wamp.session/subscription/registration procedures and nothing else."""
        meta = Router().realms["realm1"].meta
        for procedure in ("wamp.session.count", "wamp.session.add_testament", "wamp.subscription.get_events",
                          "wamp.registration.match", "wamp.registration.remove_callee"):
            assert meta.provides(procedure), procedure
        for procedure in ("com.example.count", "wamp.session.on_join", "wamp.reflection.topic.list"):
            assert not meta.provides(procedure), procedure


class TestSessionEvents:
    def test_on_join_carries_the_session_details(self):
        """A subscriber of wamp.session.on_join gets the joining session's id, authid, authrole, authmethod and authprovider."""
        router = Router()
        observer = joined(router)
        sub = subscribe(observer, "wamp.session.on_join")
        machine, out = join(router)
        (details,), = events_to(out, observer.peer, sub)
        peer = machine.peer
        assert details["session"] == peer.session_id
        assert (details["authid"], details["authrole"]) == (peer.authid, "anonymous")
        assert (details["authmethod"], details["authprovider"]) == ("anonymous", "static")
        assert isinstance(details["transport"], dict)

    def test_on_leave_after_goodbye(self):
        """A session ending with GOODBYE fires wamp.session.on_leave with its id, authid and authrole."""
        router = Router()
        observer, leaver = joined(router), joined(router)
        sub = subscribe(observer, "wamp.session.on_leave")
        peer = leaver.peer
        out = leaver.receive(Goodbye())
        assert events_to(out, observer.peer, sub) == [[peer.session_id, peer.authid, peer.authrole]]

    def test_on_leave_after_transport_lost(self):
        """A session whose transport goes away fires wamp.session.on_leave."""
        router = Router()
        observer, leaver = joined(router), joined(router)
        sub = subscribe(observer, "wamp.session.on_leave")
        session_id = leaver.peer.session_id
        out = leaver.transport_lost()
        assert [args[0] for args in events_to(out, observer.peer, sub)] == [session_id]

    def test_own_on_leave_not_sent_to_the_leaver(self):
        """A session subscribed to wamp.session.on_leave does not get the event of its own departure."""
        router = Router()
        leaver = joined(router)
        subscribe(leaver, "wamp.session.on_leave")
        peer = leaver.peer
        out = leaver.receive(Goodbye())
        assert [msg for p, msg in out if p is peer and isinstance(msg, Event)] == []


class TestSessionProcedures:
    def test_count_and_list_with_role_filter(self):
        """count and list cover every session of the realm, or those whose authrole is in filter_authroles."""
        router = Router()
        a, b, c = joined(router), joined(router), joined(router)
        joined(Router())  # another router's session is not counted
        c.peer.authrole = "admin"
        ids = {m.peer.session_id for m in (a, b, c)}
        assert result(a, "wamp.session.count") == 3
        assert set(result(a, "wamp.session.list")) == ids
        assert result(a, "wamp.session.count", ["admin"]) == 1
        assert result(a, "wamp.session.list", ["admin", "nobody"]) == [c.peer.session_id]
        assert result(a, "wamp.session.list", []) == []

    def test_get(self):
        """get returns a session's details, and no_such_session for an unknown id."""
        router = Router()
        a, b = joined(router), joined(router)
        details = result(a, "wamp.session.get", b.peer.session_id)
        assert details == b.peer.details()
        assert error(a, "wamp.session.get", 1) == "wamp.error.no_such_session"

    def test_kill_closes_with_close_normal_by_default(self):
        """kill sends the target GOODBYE wamp.close.normal (the spec's default), removes it from the realm and returns no value."""
        router = Router()
        killer, victim = joined(router), joined(router)
        peer = victim.peer
        reply, out = call(killer, "wamp.session.kill", peer.session_id)
        assert isinstance(reply, Result) and not reply.args
        (goodbye,), = [goodbyes_to(out, peer)]
        assert goodbye.reason == "wamp.close.normal"
        assert goodbye.message is None
        assert peer.session_id not in router.realms["realm1"].peers
        assert result(killer, "wamp.session.count") == 1

    def test_kill_with_reason_and_message(self):
        """kill's reason and message keyword arguments go into the target's GOODBYE."""
        router = Router()
        killer, victim = joined(router), joined(router)
        peer = victim.peer
        _, out = call(killer, "wamp.session.kill", peer.session_id, reason="wamp.close.killed", message="bye")
        (goodbye,) = goodbyes_to(out, peer)
        assert (goodbye.reason, goodbye.message) == ("wamp.close.killed", "bye")

    def test_kill_fires_on_leave(self):
        """A killed session fires wamp.session.on_leave to the other sessions."""
        router = Router()
        killer, victim = joined(router), joined(router)
        sub = subscribe(killer, "wamp.session.on_leave")
        session_id = victim.peer.session_id
        _, out = call(killer, "wamp.session.kill", session_id)
        assert [args[0] for args in events_to(out, killer.peer, sub)] == [session_id]

    def test_kill_refuses_self_and_unknown_sessions(self):
        """kill answers no_such_session for the caller's own session and for an unknown one."""
        router = Router()
        killer = joined(router)
        assert error(killer, "wamp.session.kill", killer.peer.session_id) == "wamp.error.no_such_session"
        assert error(killer, "wamp.session.kill", 12345) == "wamp.error.no_such_session"
        assert killer.peer.session_id in router.realms["realm1"].peers

    @pytest.mark.parametrize("procedure, args", [
        ("wamp.session.kill", "victim"),
        ("wamp.session.kill_by_authid", "authid"),
        ("wamp.session.kill_by_authrole", "authrole"),
        ("wamp.session.kill_all", None),
    ])
    @pytest.mark.parametrize("reason", ["not a uri", "", "com..x", 42])
    def test_kills_refuse_an_invalid_reason(self, procedure, args, reason):
        """Every kill procedure answers invalid_uri for a reason that is not a valid URI and kills nobody."""
        router = Router()
        killer, victim = joined(router), joined(router)
        positional = {"victim": [victim.peer.session_id], "authid": [victim.peer.authid],
                      "authrole": ["anonymous"], None: []}[args]
        assert error(killer, procedure, *positional, reason=reason) == "wamp.error.invalid_uri"
        assert victim.peer is not None and victim.peer.session_id in router.realms["realm1"].peers

    def test_kill_by_authid_spares_the_caller(self):
        """kill_by_authid closes every other session with that authid and returns how many it closed."""
        router = Router()
        caller, twin1, twin2, other = (joined(router) for _ in range(4))
        for machine in (caller, twin1, twin2):
            machine.peer.authid = "alice"
        twins = (twin1.peer, twin2.peer)
        reply, out = call(caller, "wamp.session.kill_by_authid", "alice", reason="wamp.close.killed")
        assert reply.args == [2]
        assert all(goodbyes_to(out, twin)[0].reason == "wamp.close.killed" for twin in twins)
        assert set(router.realms["realm1"].peers) == {caller.peer.session_id, other.peer.session_id}
        assert result(caller, "wamp.session.kill_by_authid", "nobody") == 0

    def test_kill_by_authrole_spares_the_caller(self):
        """kill_by_authrole closes every other session with that authrole and returns how many it closed."""
        router = Router()
        caller, guest1, guest2, admin = (joined(router) for _ in range(4))
        admin.peer.authrole = "admin"
        assert result(caller, "wamp.session.kill_by_authrole", "anonymous") == 2
        assert set(router.realms["realm1"].peers) == {caller.peer.session_id, admin.peer.session_id}

    def test_kill_all_spares_the_caller_and_stays_quiet(self):
        """kill_all closes every other session and returns the count, without on_leave or testament events (spec)."""
        router = Router()
        caller, a, b = joined(router), joined(router), joined(router)
        subscribe(caller, "wamp.session.on_leave")
        subscribe(caller, "com.example.will")
        assert result(a, "wamp.session.add_testament", "com.example.will", ["a"], {}) is None
        peers = (a.peer, b.peer)
        reply, out = call(caller, "wamp.session.kill_all", message="maintenance")
        assert reply.args == [2]
        assert all(goodbyes_to(out, peer)[0].message == "maintenance" for peer in peers)
        assert [msg for p, msg in out if p is caller.peer and isinstance(msg, Event)] == []
        assert list(router.realms["realm1"].peers) == [caller.peer.session_id]

    def test_kill_all_alone_kills_nobody(self):
        """kill_all by the only session of the realm returns 0."""
        router = Router()
        caller = joined(router)
        assert result(caller, "wamp.session.kill_all") == 0
        assert caller.peer.session_id in router.realms["realm1"].peers


@pytest.mark.parametrize("procedure, args, kwargs", [
    ("wamp.session.count", ["anonymous"], {}),
    ("wamp.session.list", [[1]], {}),
    ("wamp.session.count", [["a"]], {"filter_authroles": ["x"]}),
    ("wamp.session.get", [], {"session": 1}),
    ("wamp.session.get", [], {}),
    ("wamp.session.get", ["1"], {}),
    ("wamp.session.get", [True], {}),
    ("wamp.session.get", [2**53 + 1], {}),
    ("wamp.session.get", [1, 2], {}),
    ("wamp.session.kill", [1], {"bogus": 1}),
    ("wamp.session.kill", [1], {"message": 5}),
    ("wamp.session.kill_by_authid", [1], {}),
    ("wamp.session.kill_by_authrole", [], {}),
    ("wamp.session.kill_all", ["wamp.close.killed"], {}),
    ("wamp.session.add_testament", ["com.t", []], {}),
    ("wamp.session.add_testament", ["com.t", {}, {}], {}),
    ("wamp.session.add_testament", ["com.t", [], []], {}),
    ("wamp.session.add_testament", ["com.t", [], {}], {"scope": "forever"}),
    ("wamp.session.add_testament", ["com.t", [], {}], {"publish_options": []}),
    ("wamp.session.add_testament", ["com.t", [], {}], {"publish_options": {"exclude": ["x"]}}),
    ("wamp.session.add_testament", ["com.t", [], {}], {"publish_options": {"eligible_authrole": "admin"}}),
    ("wamp.session.flush_testaments", [], {"scope": 1}),
    ("wamp.session.flush_testaments", ["destroyed"], {}),
    ("wamp.subscription.list", [1], {}),
    ("wamp.subscription.lookup", [], {}),
    ("wamp.subscription.lookup", [1], {}),
    ("wamp.subscription.lookup", ["com.t", {"match": "fuzzy"}], {}),
    ("wamp.subscription.lookup", ["com.t", "prefix"], {}),
    ("wamp.subscription.match", [None], {}),
    ("wamp.subscription.get", [-1], {}),
    ("wamp.subscription.list_subscribers", [1.5], {}),
    ("wamp.subscription.count_subscribers", [], {}),
    ("wamp.subscription.remove_subscriber", [1], {}),
    ("wamp.subscription.remove_subscriber", [1, "x"], {}),
    ("wamp.subscription.get_events", [1, -5], {}),
    ("wamp.subscription.get_events", [1], {"reverse": "yes"}),
    ("wamp.subscription.get_events", [1], {"from_time": 1700000000}),
    ("wamp.registration.list", [], {"match": "exact"}),
    ("wamp.registration.lookup", ["com.p", {"match": None}], {}),
    ("wamp.registration.match", [], {}),
    ("wamp.registration.get", ["1"], {}),
    ("wamp.registration.list_callees", [None], {}),
    ("wamp.registration.count_callees", [[1]], {}),
    ("wamp.registration.remove_callee", [1, None], {}),
])
def test_malformed_meta_calls_get_invalid_argument(procedure, args, kwargs):
    """A meta call with missing, surplus, unknown or ill-typed arguments gets ERROR invalid_argument and changes nothing."""
    router = Router()
    machine, _ = joined(router), joined(router)
    assert error(machine, procedure, *args, **kwargs) == "wamp.error.invalid_argument"
    assert len(router.realms["realm1"].peers) == 2


class TestSubscriptionEvents:
    TOPICS = ("wamp.subscription.on_create", "wamp.subscription.on_subscribe",
              "wamp.subscription.on_unsubscribe", "wamp.subscription.on_delete")

    def observer(self, router):
        """
        A session subscribed to the four subscription meta events, and a function naming the meta
        events it receives in ``deliveries`` with their args.
        """
        machine = joined(router)
        subs = {subscribe(machine, topic): topic for topic in self.TOPICS}

        def seen(deliveries):
            return [(subs[msg.subscription], msg.args) for peer, msg in deliveries
                    if peer is machine.peer and isinstance(msg, Event) and msg.subscription in subs]

        return machine, seen

    def test_lifecycle_in_order(self):
        """on_create precedes on_subscribe, later subscribers fire only on_subscribe, and on_delete follows the last on_unsubscribe."""
        router = Router()
        _, seen = self.observer(router)
        first, second = joined(router), joined(router)
        a, b = first.peer.session_id, second.peer.session_id
        out = first.receive(Subscribe(1, "com.t"))
        sub = out[0][1].subscription
        (create, create_args), subscribe_event = seen(out)
        assert create == "wamp.subscription.on_create"
        assert create_args[0] == a
        details = create_args[1]
        assert (details["id"], details["uri"], details["match"]) == (sub, "com.t", "exact")
        datetime.fromisoformat(details["created"].replace("Z", "+00:00"))
        assert subscribe_event == ("wamp.subscription.on_subscribe", [a, sub])
        assert seen(second.receive(Subscribe(2, "com.t"))) == [("wamp.subscription.on_subscribe", [b, sub])]
        assert seen(first.receive(Unsubscribe(3, sub))) == [("wamp.subscription.on_unsubscribe", [a, sub])]
        assert seen(second.receive(Goodbye())) == [("wamp.subscription.on_unsubscribe", [b, sub]),
                                                   ("wamp.subscription.on_delete", [b, sub])]

    def test_events_follow_the_reply(self):
        """The subscriber gets SUBSCRIBED before any meta event its subscription caused."""
        router = Router()
        machine = joined(router)
        out = machine.receive(Subscribe(1, "wamp.subscription.on_create"))
        assert isinstance(out[0][1], Subscribed)
        assert [type(msg) for _, msg in out] == [Subscribed, Event]


class TestSubscriptionProcedures:
    def test_list_by_match_policy(self):
        """list returns the subscription ids grouped under exact, prefix and wildcard."""
        router = Router()
        machine = joined(router)
        exact = subscribe(machine, "com.t")
        prefix = subscribe(machine, "com.", match="prefix")
        wildcard = subscribe(machine, "com..t", match="wildcard")
        lists = result(machine, "wamp.subscription.list")
        assert lists == {"exact": [exact], "prefix": [prefix], "wildcard": [wildcard]}

    def test_lookup_and_match(self):
        """lookup finds the subscription of one URI and policy (or null); match lists every subscription a topic reaches (or null)."""
        router = Router()
        machine = joined(router)
        exact = subscribe(machine, "com.a.t")
        prefix = subscribe(machine, "com.a", match="prefix")
        assert result(machine, "wamp.subscription.lookup", "com.a.t") == exact
        assert result(machine, "wamp.subscription.lookup", "com.a", {"match": "prefix"}) == prefix
        assert result(machine, "wamp.subscription.lookup", "com.a", {}) is None
        assert sorted(result(machine, "wamp.subscription.match", "com.a.t")) == sorted([exact, prefix])
        assert result(machine, "wamp.subscription.match", "org.other") is None

    def test_get_and_subscribers(self):
        """get, list_subscribers and count_subscribers describe a subscription; an unknown id gets no_such_subscription."""
        router = Router()
        a, b = joined(router), joined(router)
        sub = subscribe(a, "com.t")
        subscribe(b, "com.t")
        details = result(a, "wamp.subscription.get", sub)
        assert (details["id"], details["uri"], details["match"]) == (sub, "com.t", "exact")
        assert result(a, "wamp.subscription.list_subscribers", sub) == [a.peer.session_id, b.peer.session_id]
        assert result(a, "wamp.subscription.count_subscribers", sub) == 2
        for procedure in ("get", "list_subscribers", "count_subscribers", "get_events"):
            assert error(a, "wamp.subscription." + procedure, 999999) == "wamp.error.no_such_subscription"

    def test_remove_subscriber(self):
        """remove_subscriber takes a session off a subscription, revoking it with the reason, and fires on_unsubscribe."""
        router = Router()
        admin = joined(router)
        subscriber, _ = join(router, REVOCABLE_ROLES)
        peer = subscriber.peer
        sub = subscribe(subscriber, "com.t")
        subscribe(admin, "com.t")
        meta_sub = subscribe(admin, "wamp.subscription.on_unsubscribe")
        reply, out = call(admin, "wamp.subscription.remove_subscriber", sub, peer.session_id, reason="com.example.gone")
        assert isinstance(reply, Result) and not reply.args
        (revocation,) = [msg for p, msg in out if p is peer]
        assert isinstance(revocation, Unsubscribed)
        assert (revocation.request, revocation.subscription, revocation.reason) == (0, sub, "com.example.gone")
        assert events_to(out, admin.peer, meta_sub) == [[peer.session_id, sub]]
        assert result(admin, "wamp.subscription.list_subscribers", sub) == [admin.peer.session_id]

    def test_remove_subscriber_refusals(self):
        """remove_subscriber answers no_such_subscription, no_such_session or invalid_uri and changes nothing."""
        router = Router()
        admin, subscriber, bystander = joined(router), joined(router), joined(router)
        sub = subscribe(subscriber, "com.t")
        sid = subscriber.peer.session_id
        remove = "wamp.subscription.remove_subscriber"
        assert error(admin, remove, 999999, sid) == "wamp.error.no_such_subscription"
        assert error(admin, remove, sub, 12345) == "wamp.error.no_such_session"
        assert error(admin, remove, sub, bystander.peer.session_id) == "wamp.error.no_such_subscription"
        assert error(admin, remove, sub, sid, reason="no uri") == "wamp.error.invalid_uri"
        assert result(admin, "wamp.subscription.list_subscribers", sub) == [sid]

    def test_get_events(self):
        """get_events returns the kept history of a subscription's topics, cut by limit, reverse and time bounds."""
        clock = Clock()
        options = RouterOptions(realms={"realm1": RealmOptions(history=(HistoryRule("com.h", limit=10),))})
        router = Router(options, clock=clock)
        publisher, reader = joined(router), joined(router)
        for i in range(3):
            clock.advance(10)
            publisher.receive(Publish(i + 1, "com.h", args=[i]))
        sub = subscribe(reader, "com.h")
        events = result(reader, "wamp.subscription.get_events", sub)
        assert [e["args"] for e in events] == [[0], [1], [2]]
        assert all(e["subscription"] == sub and e["topic"] == "com.h" for e in events)
        assert [e["args"] for e in result(reader, "wamp.subscription.get_events", sub, 2, reverse=True)] == [[2], [1]]
        by_name = result(reader, "wamp.subscription.get_events", subscription_id=sub, limit=1)
        assert [e["args"] for e in by_name] == [[0]]
        after = events[0]["timestamp"]
        assert [e["args"] for e in result(reader, "wamp.subscription.get_events", sub, after_time=after)] == [[1], [2]]
        bad_time = error(reader, "wamp.subscription.get_events", sub, before_time="yesterday")
        assert bad_time == "wamp.error.invalid_argument"


class TestRegistrationMeta:
    TOPICS = ("wamp.registration.on_create", "wamp.registration.on_register",
              "wamp.registration.on_unregister", "wamp.registration.on_delete")

    def test_lifecycle_in_order(self):
        """REGISTER fires on_create with the details then on_register; UNREGISTER fires on_unregister then on_delete."""
        router = Router()
        observer, callee = joined(router), joined(router)
        subs = {subscribe(observer, topic): topic for topic in self.TOPICS}
        sid = callee.peer.session_id

        def seen(deliveries):
            return [(subs[msg.subscription], msg.args) for peer, msg in deliveries
                    if peer is observer.peer and isinstance(msg, Event)]

        out = callee.receive(Register(1, "com.p"))
        reg = out[0][1].registration
        (create, (create_sid, details)), register_event = seen(out)
        assert (create, create_sid) == ("wamp.registration.on_create", sid)
        assert (details["id"], details["uri"], details["match"], details["invoke"]) == (reg, "com.p", "exact", "single")
        assert isinstance(details["created"], str)
        assert register_event == ("wamp.registration.on_register", [sid, reg])
        assert seen(callee.receive(Unregister(2, reg))) == [("wamp.registration.on_unregister", [sid, reg]),
                                                           ("wamp.registration.on_delete", [sid, reg])]

    def test_list_lookup_match_get(self):
        """list groups registration ids by policy, lookup finds one URI and policy, match the one a call would use, get the details."""
        router = Router()
        callee, caller = joined(router), joined(router)
        exact = register(callee, "com.a.p")
        prefix = register(callee, "com.a", match="prefix")
        assert result(caller, "wamp.registration.list") == {"exact": [exact], "prefix": [prefix], "wildcard": []}
        assert result(caller, "wamp.registration.lookup", "com.a.p") == exact
        assert result(caller, "wamp.registration.lookup", "com.a", {"match": "prefix"}) == prefix
        assert result(caller, "wamp.registration.lookup", "com.a") is None
        assert result(caller, "wamp.registration.match", "com.a.p") == exact
        assert result(caller, "wamp.registration.match", "com.a.other") == prefix
        assert result(caller, "wamp.registration.match", "org.x") is None
        details = result(caller, "wamp.registration.get", prefix)
        assert (details["id"], details["uri"], details["match"]) == (prefix, "com.a", "prefix")

    def test_callees(self):
        """list_callees and count_callees name the sessions serving a registration; an unknown id gets no_such_registration."""
        router = Router()
        callee, caller = joined(router), joined(router)
        reg = register(callee, "com.p")
        assert result(caller, "wamp.registration.list_callees", reg) == [callee.peer.session_id]
        assert result(caller, "wamp.registration.count_callees", reg) == 1
        for procedure in ("get", "list_callees", "count_callees"):
            assert error(caller, "wamp.registration." + procedure, 999999) == "wamp.error.no_such_registration"

    def test_remove_callee(self):
        """remove_callee takes a callee off a registration, revoking it with the reason, and deletes the emptied registration."""
        router = Router()
        admin = joined(router)
        callee, _ = join(router, REVOCABLE_ROLES)
        peer = callee.peer
        reg = register(callee, "com.p")
        meta_sub = subscribe(admin, "wamp.registration.on_delete")
        reply, out = call(admin, "wamp.registration.remove_callee", reg, peer.session_id, reason="com.example.gone")
        assert isinstance(reply, Result) and not reply.args
        (revocation,) = [msg for p, msg in out if p is peer]
        assert isinstance(revocation, Unregistered)
        assert (revocation.request, revocation.registration, revocation.reason) == (0, reg, "com.example.gone")
        assert events_to(out, admin.peer, meta_sub) == [[peer.session_id, reg]]
        assert error(admin, "wamp.registration.get", reg) == "wamp.error.no_such_registration"
        again = error(admin, "wamp.registration.remove_callee", reg, peer.session_id)
        assert again == "wamp.error.no_such_registration"

    def test_remove_callee_refusals(self):
        """remove_callee answers no_such_session or no_such_registration for a session that is not the callee."""
        router = Router()
        admin, callee = joined(router), joined(router)
        reg = register(callee, "com.p")
        assert error(admin, "wamp.registration.remove_callee", reg, 12345) == "wamp.error.no_such_session"
        not_callee = error(admin, "wamp.registration.remove_callee", reg, admin.peer.session_id)
        assert not_callee == "wamp.error.no_such_registration"
        assert result(admin, "wamp.registration.count_callees", reg) == 1


class TestTestaments:
    def setup_method(self):
        self.router = Router()
        self.listener = joined(self.router)
        self.sub = subscribe(self.listener, "com.will")
        self.testator = joined(self.router)

    def heard(self, deliveries):
        return events_to(deliveries, self.listener.peer, self.sub)

    def test_published_on_goodbye_but_not_to_the_testator(self):
        """A testament is published when its session says GOODBYE, with its args and kwargs, to everyone but that session."""
        subscribe(self.testator, "com.will")
        assert result(self.testator, "wamp.session.add_testament", "com.will", ["bye"], {"k": 1}) is None
        peer = self.testator.peer
        out = self.testator.receive(Goodbye())
        events = [msg for p, msg in out if p is self.listener.peer and isinstance(msg, Event)]
        assert [(e.args, e.kwargs) for e in events] == [(["bye"], {"k": 1})]
        assert [msg for p, msg in out if p is peer and isinstance(msg, Event)] == []

    def test_published_when_the_transport_is_lost(self):
        """A testament is published when its session's transport goes away."""
        result(self.testator, "wamp.session.add_testament", "com.will", ["lost"], {})
        assert self.heard(self.testator.transport_lost()) == [["lost"]]

    def test_published_once(self):
        """A testament is published once, and a later session of the same transport has none."""
        result(self.testator, "wamp.session.add_testament", "com.will", ["once"], {})
        assert self.heard(self.testator.receive(Goodbye())) == [["once"]]
        self.testator.receive(hello())
        assert self.heard(self.testator.receive(Goodbye())) == []

    def test_forgotten_when_the_session_leaves(self):
        """The meta API keeps no testaments of a session that left, published or killed quietly."""
        for machine in (self.testator, self.listener):
            result(machine, "wamp.session.add_testament", "com.will", ["x"], {}, scope="detached")
        self.testator.receive(Goodbye())
        call(joined(self.router), "wamp.session.kill_all")
        assert self.router.realms["realm1"].meta._testaments == {}

    def test_detached_before_destroyed_in_order_added(self):
        """Testaments go out detached scope first, then destroyed, each scope in the order it was filled."""
        for name, scope in (("d1", "destroyed"), ("x1", "detached"), ("d2", "destroyed"), ("x2", "detached")):
            result(self.testator, "wamp.session.add_testament", "com.will", [name], {}, scope=scope)
        assert self.heard(self.testator.receive(Goodbye())) == [["x1"], ["x2"], ["d1"], ["d2"]]

    def test_flush_removes_one_scope(self):
        """flush_testaments removes the testaments of one scope (destroyed by default) and returns no value."""
        result(self.testator, "wamp.session.add_testament", "com.will", ["destroyed"], {})
        result(self.testator, "wamp.session.add_testament", "com.will", ["detached"], {}, scope="detached")
        assert result(self.testator, "wamp.session.flush_testaments") is None
        assert self.heard(self.testator.receive(Goodbye())) == [["detached"]]

    def test_flush_detached(self):
        """flush_testaments with scope detached leaves the destroyed testaments."""
        result(self.testator, "wamp.session.add_testament", "com.will", ["destroyed"], {})
        result(self.testator, "wamp.session.add_testament", "com.will", ["detached"], {}, scope="detached")
        result(self.testator, "wamp.session.flush_testaments", scope="detached")
        assert self.heard(self.testator.receive(Goodbye())) == [["destroyed"]]

    def test_killed_session_publishes_its_testament(self):
        """A session closed by wamp.session.kill publishes its testaments."""
        result(self.testator, "wamp.session.add_testament", "com.will", ["killed"], {})
        _, out = call(self.listener, "wamp.session.kill", self.testator.peer.session_id)
        assert self.heard(out) == [["killed"]]

    def test_publish_options_filter_receivers(self):
        """A testament's exclude and eligible_authrole publish options restrict who receives it."""
        other = joined(self.router)
        other_sub = subscribe(other, "com.will")
        other.peer.authrole = "admin"
        result(self.testator, "wamp.session.add_testament", "com.will", ["admins"], {},
               publish_options={"eligible_authrole": ["admin"], "acknowledge": True})
        result(self.testator, "wamp.session.add_testament", "com.will", ["not other"], {},
               publish_options={"exclude": [other.peer.session_id]})
        out = self.testator.receive(Goodbye())
        assert events_to(out, other.peer, other_sub) == [["admins"]]
        assert self.heard(out) == [["not other"]]

    def test_only_where_the_session_may_publish(self):
        """add_testament answers not_authorized for a topic the caller's role may not publish on."""
        permissions = (Permission("wamp.session.add_testament", call=True), Permission("com.ok", publish=True))
        router = Router(RouterOptions(realms={"realm1": RealmOptions(roles={"anonymous": permissions})}))
        machine = joined(router)
        assert result(machine, "wamp.session.add_testament", "com.ok", [], {}) is None
        assert error(machine, "wamp.session.add_testament", "com.other", [], {}) == "wamp.error.not_authorized"

    @pytest.mark.parametrize("topic", ["com..will", "", "com.will#", "wamp.session.on_leave", 5])
    def test_invalid_topic(self, topic):
        """add_testament answers invalid_uri for an invalid topic or one in the reserved wamp. namespace."""
        assert error(self.testator, "wamp.session.add_testament", topic, [], {}) == "wamp.error.invalid_uri"
        assert self.heard(self.testator.receive(Goodbye())) == []
