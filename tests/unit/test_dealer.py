"""
The dealer through the session machine: registrations, calls, results, errors and departures.
"""

from autobahn.wamp import role
from autobahn.wamp.message import (
    Call,
    Error,
    Interrupt,
    Invocation,
    Register,
    Registered,
    Result,
    Unregister,
    Unregistered,
    Yield,
)

from router.core import Router
from tests.unit.helpers import ALL_ROLES, joined


def register(machine, procedure, request=1):
    (_, reply), = machine.receive(Register(request, procedure))
    assert isinstance(reply, Registered), reply
    return reply.registration


def invoke(caller, callee, procedure="com.p", request=1, **kwargs):
    (peer, invocation), = caller.receive(Call(request, procedure, **kwargs))
    assert peer is callee.peer and isinstance(invocation, Invocation)
    return invocation


class TestRegistrations:
    def test_register_and_duplicate(self):
        """A second REGISTER of the same procedure is refused with procedure_already_exists."""
        router = Router()
        register(joined(router), "com.p")
        (_, error), = joined(router).receive(Register(1, "com.p"))
        assert error.error == "wamp.error.procedure_already_exists"

    def test_reserved_and_invalid_procedures(self):
        """Registering in wamp.* or with an invalid URI is refused with invalid_uri."""
        machine = joined(Router())
        for uri in ("wamp.session.count", "com..p", "com.p#"):
            (_, error), = machine.receive(Register(1, uri))
            assert error.error == "wamp.error.invalid_uri"

    def test_unregister(self):
        """UNREGISTER frees the procedure; unregistering again gets no_such_registration."""
        router = Router()
        callee, caller = joined(router), joined(router)
        registration = register(callee, "com.p")
        (_, reply), = callee.receive(Unregister(2, registration))
        assert isinstance(reply, Unregistered)
        (_, error), = callee.receive(Unregister(3, registration))
        assert error.error == "wamp.error.no_such_registration"
        (_, error), = caller.receive(Call(1, "com.p"))
        assert error.error == "wamp.error.no_such_procedure"

    def test_registration_ids_are_router_scoped(self):
        """Registrations on different realms never share an id."""
        from router.core import RealmOptions, RouterOptions

        router = Router(RouterOptions(realms={"a": RealmOptions(), "b": RealmOptions()}))
        assert register(joined(router, "a"), "com.p") != register(joined(router, "b"), "com.p")


class TestCalls:
    def test_call_yield_result(self):
        """CALL becomes INVOCATION with the callee's own request id, and YIELD becomes RESULT for the caller's request."""
        router = Router()
        callee, caller = joined(router), joined(router)
        registration = register(callee, "com.p")
        invocation = invoke(caller, callee, request=7, args=[1], kwargs={"a": 2})
        assert invocation.registration == registration
        assert invocation.request == 1
        assert (invocation.args, invocation.kwargs) == ([1], {"a": 2})
        (peer, result), = callee.receive(Yield(invocation.request, args=[3], kwargs={"b": 4}))
        assert peer is caller.peer and isinstance(result, Result)
        assert (result.request, result.args, result.kwargs) == (7, [3], {"b": 4})

    def test_invocation_ids_count_per_callee(self):
        """Invocation request ids are sequential per callee session."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        assert [invoke(caller, callee, request=i).request for i in range(1, 6)] == [1, 2, 3, 4, 5]

    def test_callee_error_relayed(self):
        """A callee's ERROR reaches the caller as ERROR for its CALL with URI, args and kwargs."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        invocation = invoke(caller, callee, request=9)
        (peer, error), = callee.receive(Error(68, invocation.request, "com.error.x", args=["a"], kwargs={"k": 1}))
        assert peer is caller.peer
        assert (error.request_type, error.request, error.error) == (48, 9, "com.error.x")
        assert (error.args, error.kwargs) == (["a"], {"k": 1})

    def test_no_such_procedure(self):
        """A CALL to an unregistered procedure gets no_such_procedure."""
        (_, error), = joined(Router()).receive(Call(3, "com.none"))
        assert (error.request, error.error) == (3, "wamp.error.no_such_procedure")

    def test_callee_leaving_cancels_pending_calls(self):
        """When a callee leaves, each caller with a pending call gets ERROR canceled."""
        router = Router()
        callee, caller_a, caller_b = joined(router), joined(router), joined(router)
        register(callee, "com.p")
        invoke(caller_a, callee, request=1)
        invoke(caller_b, callee, request=2)
        out = callee.transport_lost()
        errors = {peer: msg for peer, msg in out}
        assert errors[caller_a.peer].error == "wamp.error.canceled"
        assert errors[caller_b.peer].request == 2

    def test_caller_leaving_drops_late_yield(self):
        """A YIELD for a caller that left is dropped without a protocol violation."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        invocation = invoke(caller, callee)
        assert caller.transport_lost() == []  # callee did not announce call_canceling
        assert callee.receive(Yield(invocation.request, args=[1])) == []
        assert callee.peer is not None and not callee.close_transport

    def test_caller_leaving_interrupts_canceling_callee(self):
        """A callee that announced call_canceling gets INTERRUPT killnowait when its caller leaves."""
        router = Router()
        roles = dict(ALL_ROLES, callee=role.RoleCalleeFeatures(call_canceling=True))
        callee, caller = joined(router, roles=roles), joined(router)
        register(callee, "com.p")
        invocation = invoke(caller, callee)
        (peer, interrupt), = caller.transport_lost()
        assert peer is callee.peer and isinstance(interrupt, Interrupt)
        assert (interrupt.request, interrupt.mode) == (invocation.request, "killnowait")

    def test_progressive_results_only_when_callee_announced(self):
        """Progressive YIELDs become progressive RESULTs when caller asked and callee announced; the final YIELD ends the call."""
        router = Router()
        roles = dict(ALL_ROLES, callee=role.RoleCalleeFeatures(progressive_call_results=True))
        callee, caller = joined(router, roles=roles), joined(router)
        register(callee, "com.p")
        invocation = invoke(caller, callee, receive_progress=True)
        assert invocation.receive_progress is True
        (_, progress), = callee.receive(Yield(invocation.request, args=[1], progress=True))
        assert progress.progress is True
        (_, final), = callee.receive(Yield(invocation.request, args=[2]))
        assert not final.progress
        assert callee.receive(Yield(invocation.request, args=[3])) == []

    def test_yield_for_unsent_invocation_is_a_violation(self):
        """A YIELD for an invocation id the router never sent ends the callee's session with protocol_violation."""
        callee = joined(Router())
        (_, abort), = callee.receive(Yield(5))
        assert abort.reason == "wamp.error.protocol_violation"

    def test_invocations_keep_call_order(self):
        """Invocations reach the callee in the caller's call order."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        order = [invoke(caller, callee, request=i, args=[i]).args[0] for i in range(1, 21)]
        assert order == list(range(1, 21))


class TestUndeliverable:
    def test_final_result_too_large_becomes_error(self):
        """A final RESULT the caller's transport cannot take is replaced by ERROR payload_size_exceeded."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        invocation = invoke(caller, callee, request=4)
        (_, result), = callee.receive(Yield(invocation.request, args=["x" * 10]))
        (peer, error), = caller.undeliverable(result)
        assert peer is caller.peer
        assert (error.request_type, error.request, error.error) == (48, 4, "wamp.error.payload_size_exceeded")

    def test_invocation_too_large_fails_the_call(self):
        """An INVOCATION the callee's transport cannot take ends the call with ERROR payload_size_exceeded."""
        router = Router()
        callee, caller = joined(router), joined(router)
        register(callee, "com.p")
        invocation = invoke(caller, callee, request=6)
        (peer, error), = callee.undeliverable(invocation)
        assert peer is caller.peer
        assert (error.request, error.error) == (6, "wamp.error.payload_size_exceeded")
        assert callee.receive(Yield(invocation.request)) == []  # the late answer is dropped

    def test_oversized_event_has_nobody_to_tell(self):
        """An EVENT too large for a subscriber produces no other message."""
        from autobahn.wamp.message import Event

        assert joined(Router()).undeliverable(Event(1, 2)) == []
