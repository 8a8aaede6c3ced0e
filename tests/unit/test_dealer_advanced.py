"""
Advanced Profile dealer features, driven without sockets: shared and pattern registrations,
cancel, timeouts, progressive calls, caller disclosure and revocation.
"""

import pytest
from autobahn.wamp import role
from autobahn.wamp.message import Call, Cancel, Error, Interrupt, Invocation, Register, Unregistered, Yield
from twisted.internet.task import Clock

from router.core import RealmOptions, Router, RouterOptions
from tests.unit.helpers import ALL_ROLES, decoded, joined, joined_with_features

CANCELING = dict(ALL_ROLES, callee=role.RoleCalleeFeatures(call_canceling=True, progressive_call_results=True,
                                                           registration_revocation=True))


def clocked_router(**realm_options):
    """
    A router on a task.Clock whose timer deliveries are collected in ``router.emitted``.
    """
    router = Router(RouterOptions(realms={"realm1": RealmOptions(**realm_options)}), clock=Clock())
    router.emitted = []
    router.emit = router.emitted.extend
    return router


def register(machine, procedure, request=1, **options):
    (_, reply), = machine.receive(Register(request, procedure, **options))
    return reply


def call(caller, request=1, procedure="com.p", **options):
    return caller.receive(Call(request, procedure, **options))


class TestSharedRegistration:
    def test_roundrobin_cycles_callees_in_registration_order(self):
        """roundrobin invokes callees in turn, in the order they registered."""
        router = Router()
        callees = [joined(router) for _ in range(3)]
        for callee in callees:
            register(callee, "com.p", invoke="roundrobin")
        caller = joined(router)
        order = [call(caller, i)[0][0] for i in range(1, 7)]
        assert order == [c.peer for c in callees] * 2

    def test_roundrobin_survives_callees_leaving_and_joining(self):
        """When a callee leaves, roundrobin keeps cycling over the callees that remain, including newcomers."""
        router = Router()
        a, b, c = (joined(router) for _ in range(3))
        for callee in (a, b, c):
            register(callee, "com.p", invoke="roundrobin")
        caller = joined(router)
        call(caller, 1)
        b.transport_lost()
        d = joined(router)
        register(d, "com.p", invoke="roundrobin")
        targets = [call(caller, i)[0][0] for i in range(2, 8)]
        assert set(targets) == {a.peer, c.peer, d.peer}
        assert b.peer not in targets

    @pytest.mark.parametrize("policy, index", [("first", 0), ("last", -1)])
    def test_first_and_last(self, policy, index):
        """first always invokes the earliest registered callee, last the latest."""
        router = Router()
        callees = [joined(router) for _ in range(3)]
        for callee in callees:
            register(callee, "com.p", invoke=policy)
        caller = joined(router)
        assert {call(caller, i)[0][0] for i in range(1, 5)} == {callees[index].peer}

    def test_random_picks_among_callees(self):
        """random invokes only registered callees and, over many calls, more than one of them."""
        router = Router()
        callees = [joined(router) for _ in range(3)]
        for callee in callees:
            register(callee, "com.p", invoke="random")
        caller = joined(router)
        picked = {call(caller, i)[0][0] for i in range(1, 61)}
        assert picked <= {c.peer for c in callees} and len(picked) > 1

    def test_single_refuses_second_callee(self):
        """With the default policy single, a second callee is refused with procedure_already_exists."""
        router = Router()
        register(joined(router), "com.p")
        assert register(joined(router), "com.p", invoke="roundrobin").error == "wamp.error.procedure_already_exists"

    def test_different_policy_refused(self):
        """A registration asking another policy than the existing one is refused with the conflict error."""
        router = Router()
        register(joined(router), "com.p", invoke="roundrobin")
        error = register(joined(router), "com.p", invoke="random")
        assert error.error == "wamp.error.procedure_exists_invocation_policy_conflict"


class TestPatternRegistration:
    def test_precedence_and_procedure_detail(self):
        """Exact beats prefix beats wildcard, and INVOCATION.procedure carries the called URI for patterns."""
        router = Router()
        exact, prefix, wildcard = joined(router), joined(router), joined(router)
        register(wildcard, "com..get", match="wildcard")
        register(prefix, "com.users", match="prefix")
        register(exact, "com.users.get")
        caller = joined(router)
        (peer, invocation), = call(caller, 1, "com.users.get")
        assert peer is exact.peer and invocation.procedure is None
        (peer, invocation), = call(caller, 2, "com.users.list")
        assert peer is prefix.peer and invocation.procedure == "com.users.list"
        (peer, invocation), = call(caller, 3, "com.items.get")
        assert peer is wildcard.peer and invocation.procedure == "com.items.get"


class TestCancel:
    def setup_router(self, callee_roles=CANCELING):
        router = clocked_router()
        callee, caller = joined(router, roles=callee_roles), joined(router)
        register(callee, "com.p")
        (_, invocation), = call(caller, 5)
        return router, callee, caller, invocation

    def test_skip_answers_caller_and_drops_late_result(self):
        """skip: ERROR canceled to the caller at once, no INTERRUPT, and the callee's late YIELD is dropped."""
        router, callee, caller, invocation = self.setup_router()
        (peer, error), = caller.receive(Cancel(5, mode="skip"))
        assert peer is caller.peer and (error.request, error.error) == (5, "wamp.error.canceled")
        assert callee.receive(Yield(invocation.request)) == []

    def test_kill_interrupts_and_waits_for_callee(self):
        """kill: INTERRUPT to the callee, and the callee's ERROR is what the caller gets."""
        router, callee, caller, invocation = self.setup_router()
        (peer, interrupt), = caller.receive(Cancel(5, mode="kill"))
        assert peer is callee.peer and isinstance(interrupt, Interrupt)
        assert (interrupt.request, interrupt.mode) == (invocation.request, "kill")
        (peer, error), = callee.receive(Error(68, invocation.request, "wamp.error.canceled"))
        assert peer is caller.peer and error.error == "wamp.error.canceled"

    def test_killnowait_answers_and_interrupts(self):
        """killnowait: ERROR canceled to the caller and INTERRUPT to the callee at once; the late answer is dropped."""
        router, callee, caller, invocation = self.setup_router()
        out = caller.receive(Cancel(5, mode="killnowait"))
        kinds = {peer: msg for peer, msg in out}
        assert kinds[caller.peer].error == "wamp.error.canceled"
        assert kinds[callee.peer].mode == "killnowait"
        assert callee.receive(Error(68, invocation.request, "wamp.error.canceled")) == []

    def test_callee_without_canceling_gets_skip(self):
        """A callee that did not announce call_canceling never gets INTERRUPT: kill becomes skip."""
        router, callee, caller, invocation = self.setup_router(ALL_ROLES)
        (peer, error), = caller.receive(Cancel(5, mode="kill"))
        assert peer is caller.peer and error.error == "wamp.error.canceled"

    def test_cancel_after_answer_does_nothing(self):
        """Canceling a call that was already answered produces nothing."""
        router, callee, caller, invocation = self.setup_router()
        callee.receive(Yield(invocation.request, args=[1]))
        assert caller.receive(Cancel(5, mode="killnowait")) == []


class TestTimeout:
    def test_dealer_timer_fails_call_and_interrupts(self):
        """When CALL.timeout passes, the caller gets ERROR timeout and a canceling callee INTERRUPT."""
        router = clocked_router()
        callee, caller = joined(router, roles=CANCELING), joined(router)
        register(callee, "com.p")
        (_, invocation), = call(caller, 3, timeout=1500)
        assert invocation.timeout is None
        router.clock.advance(1.4)
        assert router.emitted == []
        router.clock.advance(0.2)
        kinds = {peer: msg for peer, msg in router.emitted}
        assert (kinds[caller.peer].request, kinds[caller.peer].error) == (3, "wamp.error.timeout")
        assert kinds[callee.peer].request == invocation.request and kinds[callee.peer].reason == "wamp.error.timeout"
        assert callee.receive(Yield(invocation.request)) == []

    def test_yield_before_timeout_cancels_timer(self):
        """A YIELD that wins the race against the timeout ends the call; the timer then does nothing."""
        router = clocked_router()
        callee, caller = joined(router, roles=CANCELING), joined(router)
        register(callee, "com.p")
        (_, invocation), = call(caller, 3, timeout=1000)
        (peer, result), = callee.receive(Yield(invocation.request, args=["ok"]))
        assert result.args == ["ok"]
        router.clock.advance(5)
        assert router.emitted == []
        assert router.clock.getDelayedCalls() == []

    def test_forward_timeout(self):
        """A forward_timeout registration gets the timeout in INVOCATION and the dealer runs no timer."""
        router = clocked_router()
        callee, caller = joined(router), joined(router)
        callee.receive(decoded([64, 2, {"forward_timeout": True}, "com.q"]))
        (_, invocation), = call(caller, 4, "com.q", timeout=2000)
        assert invocation.timeout == 2000
        assert router.clock.getDelayedCalls() == []


class TestProgressive:
    def test_progressive_invocations_chunks_reach_one_invocation(self):
        """CALLs with progress share one INVOCATION request id at one callee; the last chunk has no progress."""
        router = Router()
        callee, caller = joined_with_features(router, progressive_call_invocations=True), joined(router)
        register(callee, "com.p")
        chunks = [[48, 9, {"progress": True}, "com.p", [1]], [48, 9, {"progress": True}, "com.p", [2]],
                  [48, 9, {}, "com.p", [3]]]
        invocations = []
        for chunk in chunks:
            (peer, invocation), = caller.receive(decoded(chunk))
            assert peer is callee.peer
            invocations.append(invocation.marshal())
        assert {raw[1] for raw in invocations} == {1}
        assert [raw[3].get("progress") for raw in invocations] == [True, True, None]
        assert [raw[4] for raw in invocations] == [[1], [2], [3]]
        msg = decoded([48, 9, {"progress": True}, "com.p", [4]])
        (_, abort), = caller.receive(msg)  # a chunk after the final one while the call is pending
        assert abort.reason == "wamp.error.protocol_violation"

    def test_progressive_call_refused_by_callee_without_feature(self):
        """A progressive call to a callee that did not announce the feature gets feature_not_supported."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        msg = decoded([48, 9, {"progress": True}, "com.p", [1]])
        (_, error), = caller.receive(msg)
        assert error.error == "wamp.error.feature_not_supported"


class TestDisclosure:
    def test_disclose_me_sets_caller_details(self):
        """CALL.disclose_me puts caller, caller_authid and caller_authrole into INVOCATION."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        msg = decoded([48, 1, {"disclose_me": True}, "com.p"])
        (_, invocation), = caller.receive(msg)
        assert (invocation.caller, invocation.caller_authid, invocation.caller_authrole) == (
            caller.peer.session_id, caller.peer.authid, "anonymous")
        (_, plain), = call(caller, 2)
        assert plain.caller is None

    def test_realm_discloses_every_caller(self):
        """A realm with disclose_caller discloses callers that did not ask."""
        router = Router(RouterOptions(realms={"realm1": RealmOptions(disclose_caller=True)}))
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        (_, invocation), = call(caller, 1)
        assert invocation.caller == caller.peer.session_id


class TestRevocation:
    def test_remove_callee_revokes(self):
        """Removing a callee that announced registration_revocation sends UNREGISTERED(0, {registration, reason})."""
        router = Router()
        callee = joined(router, roles=CANCELING)
        registration = register(callee, "com.p").registration
        dealer = router.realms["realm1"].dealer
        (peer, revoked), = dealer.remove_callee(callee.peer, registration, "wamp.close.killed")
        assert isinstance(revoked, Unregistered)
        assert revoked.marshal() == [67, 0, {"registration": registration, "reason": "wamp.close.killed"}]
        assert dealer.registration(registration) is None


def test_invocation_class_only_for_chunks():
    """Ordinary calls produce plain INVOCATION messages."""
    router = Router()
    callee, caller = joined(router), joined(router)
    register(callee, "com.p")
    (_, invocation), = call(caller, 1)
    assert type(invocation) is Invocation
