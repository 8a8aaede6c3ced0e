"""
Advanced Profile dealer features through wampd with real Autobahn|Python clients over loopback:
pattern-based and shared registrations, progressive call results, call canceling, call timeouts,
caller identification, registration ids and invocation order.

Progressive call invocations and ``disclose_me`` cannot be sent by Autobahn|Python and are not
covered here.

Autobahn details these tests rely on:

- ``Deferred.cancel()`` on the Deferred of ``session.call`` sends ``CANCEL`` without a mode (the
  dealer's default, ``killnowait``) and fails the Deferred locally with ``CancelledError`` at once;
  the router's ``ERROR wamp.error.canceled`` is then swallowed. Other modes are sent here as a raw
  ``CANCEL`` through the session's transport.
- ``INTERRUPT`` makes the callee cancel the Deferred its endpoint returned.
- ``CallOptions(timeout=...)`` is documented in seconds but copied unchanged into
  ``CALL.Options.timeout``, which must be an integer and which the spec defines in milliseconds:
  pass milliseconds.
"""

import pytest
import pytest_twisted
from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, RegisterOptions
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

from router.core import RealmOptions, RouterOptions
from tests.conftest import start_router
from tests.support import Client, connect, sleep, with_timeout

#: WebSocket everywhere, and RawSocket over TCP since it costs no more
transports = pytest.mark.parametrize("transport", ("websocket", "rawsocket-tcp"))
serializers = pytest.mark.parametrize("serializer", ("json", "msgpack"))


class RecordingClient(Client):
    """
    A Client that also keeps every message the router sent it, in arrival order.
    """

    def __init__(self, config) -> None:
        Client.__init__(self, config)
        self.received: list = []

    def onMessage(self, msg) -> None:
        self.received.append(msg)
        Client.onMessage(self, msg)

    def answers(self, request: int) -> list:
        """
        The RESULT and ERROR messages received for the CALL with this request id.
        """
        return [m for m in self.received
                if (isinstance(m, message.Result) or (isinstance(m, message.Error)
                                                     and m.request_type == message.Call.MESSAGE_TYPE))
                and m.request == request]

    def interrupts(self) -> list:
        """
        The INTERRUPT messages received.
        """
        return [m for m in self.received if isinstance(m, message.Interrupt)]


class Held:
    """
    An endpoint that records each invocation and answers only when the test says so: each call
    returns a Deferred whose cancellation (the callee's reaction to INTERRUPT) is recorded.
    """

    def __init__(self, on_cancel=None) -> None:
        #: Deferred per invocation, in arrival order
        self.calls: list[defer.Deferred] = []
        #: the invocations that were interrupted, by index
        self.cancelled: list[int] = []
        self._on_cancel = on_cancel
        self._waiting: list[tuple[int, defer.Deferred]] = []
        self.interrupted = defer.Deferred()

    def __call__(self, *args, **kwargs) -> defer.Deferred:
        index = len(self.calls)

        def canceller(d):
            self.cancelled.append(index)
            if not self.interrupted.called:
                self.interrupted.callback(index)
            if self._on_cancel is not None:
                self._on_cancel(d)

        d = defer.Deferred(canceller)
        self.calls.append(d)
        for count, waiter in list(self._waiting):
            if len(self.calls) >= count:
                self._waiting.remove((count, waiter))
                waiter.callback(None)
        return d

    def invoked(self, count: int = 1) -> defer.Deferred:
        """
        Fire once ``count`` invocations have arrived (bounded).
        """
        waiter: defer.Deferred = defer.Deferred()
        if len(self.calls) >= count:
            waiter.callback(None)
        else:
            self._waiting.append((count, waiter))
        return with_timeout(waiter)


def register(session, endpoint, procedure, **options):
    """
    Register ``endpoint`` with ``CallDetails`` passed as ``details`` and the given options.
    """
    return session.register(endpoint, procedure, options=RegisterOptions(details_arg="details", **options))


def call(session, procedure, *args, **kwargs):
    """
    ``session.call`` bounded by the test timeout.
    """
    return with_timeout(session.call(procedure, *args, **kwargs))


def start_call(session, procedure, *args, **kwargs):
    """
    Start a call; return its Deferred and the request id Autobahn gave the CALL (read from the
    session's pending calls, as Autobahn offers no public way).
    """
    d = session.call(procedure, *args, **kwargs)
    return d, max(session._call_reqs)


def send_cancel(session, request: int, mode: str | None = None) -> None:
    """
    Send ``CANCEL`` for a call with a mode, which Autobahn's ``Deferred.cancel()`` never sets.
    """
    session._transport.send(message.Cancel(request, mode=mode))


@defer.inlineCallbacks
def assert_error(d, uri):
    """
    Wait (bounded) for ``d`` to fail with an ``ApplicationError`` of ``uri``; return the error.
    """
    with pytest.raises(ApplicationError) as raised:
        yield with_timeout(d)
    assert raised.value.error == uri
    return raised.value


@pytest.fixture
def disclosing_router(tmp_path):
    """
    A running router whose realm1 discloses every caller to callees.
    """
    options = RouterOptions(realms={"realm1": RealmOptions(disclose_caller=True)})
    running = start_router(tmp_path, router_options=options)
    yield running
    pytest_twisted.blockon(running.service.stopService())


# pattern-based registrations


def called_uri(*args, details=None, **kwargs):
    """
    An endpoint answering with the procedure the caller called.
    """
    return details.procedure


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_prefix_registration_serves_calls_under_the_prefix_with_procedure_detail(router, transport, serializer):
    """A prefix registration serves every procedure starting with the prefix, details.procedure naming it."""
    callee = yield connect(router, transport, serializer)
    yield register(callee, called_uri, "com.myapp.myobject1", match="prefix")
    caller = yield connect(router, transport, serializer)
    for uri in ("com.myapp.myobject1.myprocedure1", "com.myapp.myobject1-mysubobject1",
                "com.myapp.myobject1.mysubobject1.myprocedure1", "com.myapp.myobject1"):
        assert (yield call(caller, uri)) == uri
    for uri in ("com.myapp.myobject2", "com.myapp.myobject"):
        yield assert_error(caller.call(uri), "wamp.error.no_such_procedure")


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_wildcard_registration_matches_whole_components_with_procedure_detail(router, transport, serializer):
    """A wildcard registration serves procedures with any component in the empty position and nothing else."""
    callee = yield connect(router, transport, serializer)
    yield register(callee, called_uri, "com.myapp..myprocedure1", match="wildcard")
    caller = yield connect(router, transport, serializer)
    for uri in ("com.myapp.myobject1.myprocedure1", "com.myapp.myobject2.myprocedure1"):
        assert (yield call(caller, uri)) == uri
    for uri in ("com.myapp.myobject1.myprocedure1.mysubprocedure1", "com.myapp.myobject1.myprocedure2",
                "com.myapp2.myobject1.myprocedure1"):
        yield assert_error(caller.call(uri), "wamp.error.no_such_procedure")


def labelled(label):
    """
    An endpoint answering with its label and the procedure called.
    """
    return lambda *args, details=None, **kwargs: [label, details.procedure]


@defer.inlineCallbacks
def register_labelled(callee, registrations):
    """
    Register one labelled endpoint per ``(label, uri, match)``; return label -> Registration.
    """
    registered = {}
    for label, uri, match in registrations:
        registered[label] = yield register(callee, labelled(label), uri, match=match)
    return registered


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_exact_beats_longest_prefix_which_beats_wildcard(router, transport, serializer):
    """A call goes to the exact registration if any, else the longest matching prefix, else a wildcard."""
    callee = yield connect(router, transport, serializer)
    registered = yield register_labelled(callee, [
        ("exact", "a1.b2.c3.d4.e55", "exact"),
        ("short prefix", "a1.b2.c3", "prefix"),
        ("long prefix", "a1.b2.c3.d4", "prefix"),
        ("wildcard", "a1.b2..d4.e5", "wildcard"),
    ])
    caller = yield connect(router, transport, serializer)
    expected = [
        ("a1.b2.c3.d4.e55", "exact"),
        ("a1.b2.c3.d98.e74", "short prefix"),
        ("a1.b2.c3.d4.e325", "long prefix"),
        ("a1.b2.c3.d4.e5", "long prefix"),  # the wildcard matches too, but a prefix match wins
        ("a1.b2.c55.d4.e5", "wildcard"),
    ]
    for uri, label in expected:
        assert (yield call(caller, uri)) == [label, uri], uri
    yield registered["exact"].unregister()
    assert (yield call(caller, "a1.b2.c3.d4.e55")) == ["long prefix", "a1.b2.c3.d4.e55"]
    yield assert_error(caller.call("a2.b2.c2.d2.e2"), "wamp.error.no_such_procedure")


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_wildcard_with_longest_leading_portions_wins(router, transport, serializer):
    """Among wildcard registrations, the longest portion before each wildcard wins (the spec's examples)."""
    callee = yield connect(router, transport, serializer)
    yield register_labelled(callee, [
        ("4", "a1.b2..d4.e5", "wildcard"),
        ("5", "a1.b2.c3..e5", "wildcard"),
        ("6", "a1.b2..d4.e5..g7", "wildcard"),
        ("7", "a1.b2..d4..f6.g7", "wildcard"),
    ])
    caller = yield connect(router, transport, serializer)
    for uri, label in [("a1.b2.c55.d4.e5", "4"), ("a1.b2.c3.d4.e5", "5"), ("a1.b2.c88.d4.e5.f6.g7", "6")]:
        assert (yield call(caller, uri)) == [label, uri], uri
    yield assert_error(caller.call("a2.b2.c2.d2.e2"), "wamp.error.no_such_procedure")


# shared registrations


@defer.inlineCallbacks
def shared_callees(router, transport, serializer, names, invoke, procedure="com.example.shared"):
    """
    Connect one callee per name, each registering ``procedure`` with policy ``invoke`` and answering
    with its name; return name -> session.
    """
    callees = {}
    for name in names:
        callees[name] = yield connect(router, transport, serializer)
        yield callees[name].register(lambda name=name: name, procedure, options=RegisterOptions(invoke=invoke))
    return callees


@defer.inlineCallbacks
def picks(caller, count, procedure="com.example.shared"):
    """
    The callee names answering ``count`` calls made one after another.
    """
    names = []
    for _ in range(count):
        names.append((yield call(caller, procedure)))
    return names


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_roundrobin_cycles_callees_across_leave_and_join(router, transport, serializer):
    """roundrobin invokes callees in registration order, then keeps cycling over those left plus a newcomer."""
    callees = yield shared_callees(router, transport, serializer, "ABC", "roundrobin")
    caller = yield connect(router, transport, serializer)
    assert (yield picks(caller, 6)) == list("ABCABC")
    yield callees["B"].leave()
    yield with_timeout(callees["B"].left)
    yield shared_callees(router, transport, serializer, "D", "roundrobin")
    after = yield picks(caller, 6)
    cycle = "".join(after[:3])
    assert cycle in ("ACD", "CDA", "DAC"), after
    assert after[3:] == after[:3]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_random_spreads_calls_over_callees(router, transport, serializer):
    """random invokes only registered callees and, over 60 calls, more than one of them."""
    yield shared_callees(router, transport, serializer, "ABC", "random")
    caller = yield connect(router, transport, serializer)
    chosen = yield picks(caller, 60)
    assert set(chosen) <= set("ABC")
    assert len(set(chosen)) > 1


@transports
@serializers
@pytest.mark.parametrize("invoke, serving, standby", [("first", "A", "B"), ("last", "C", "B")])
@pytest_twisted.inlineCallbacks
def test_first_and_last_call_one_callee_and_fail_over(router, transport, serializer, invoke, serving, standby):
    """first invokes the earliest registered callee and last the latest; when it leaves its neighbour takes over."""
    callees = yield shared_callees(router, transport, serializer, "ABC", invoke)
    caller = yield connect(router, transport, serializer)
    assert (yield picks(caller, 4)) == [serving] * 4
    yield callees[serving].leave()
    yield with_timeout(callees[serving].left)
    assert (yield picks(caller, 2)) == [standby] * 2


@transports
@serializers
@pytest.mark.parametrize("invoke", [None, "single"])
@pytest_twisted.inlineCallbacks
def test_single_registration_refuses_a_second_callee(router, transport, serializer, invoke):
    """A procedure registered with policy single (the default) refuses a second callee: procedure_already_exists."""
    first = yield connect(router, transport, serializer)
    yield first.register(lambda: "first", "com.example.only", options=RegisterOptions(invoke=invoke))
    second = yield connect(router, transport, serializer)
    yield assert_error(second.register(lambda: "second", "com.example.only", options=RegisterOptions(invoke=invoke)),
                       "wamp.error.procedure_already_exists")
    assert (yield call(second, "com.example.only")) == "first"


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_registration_with_another_policy_is_refused(router, transport, serializer):
    """A registration with another policy than the first fails: procedure_exists_invocation_policy_conflict."""
    yield shared_callees(router, transport, serializer, "A", "roundrobin")
    other = yield connect(router, transport, serializer)
    yield assert_error(other.register(lambda: "B", "com.example.shared", options=RegisterOptions(invoke="random")),
                       "wamp.error.procedure_exists_invocation_policy_conflict")
    assert (yield picks(other, 2)) == ["A", "A"]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_registration_ids_are_shared_by_callees_of_one_procedure(router, transport, serializer):
    """Callees of one procedure share the registration id invocations carry; another URI or policy gets another."""
    ids = []
    for _ in range(2):
        callee = yield connect(router, transport, serializer)
        registration = yield register(callee, lambda details=None: details.registration.id, "com.example.pool",
                                      invoke="roundrobin")
        ids.append(registration.id)
    other_uri = yield callee.register(lambda: None, "com.example.pool2")
    other_policy = yield callee.register(lambda: None, "com.example.pool", options=RegisterOptions(match="prefix"))
    assert ids[0] == ids[1]
    assert len({ids[0], other_uri.id, other_policy.id}) == 3
    caller = yield connect(router, transport, serializer)
    assert (yield picks(caller, 2, "com.example.pool")) == ids


# progressive call results


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_progressive_results_arrive_in_order_before_the_final_result(router, transport, serializer):
    """Each progressive result reaches on_progress as soon as it is sent, in order, before the final result."""
    count = 5
    seen = [defer.Deferred() for _ in range(count)]

    @defer.inlineCallbacks
    def stream(details=None):
        assert details.progress is not None
        for n in range(count):
            details.progress(n, square=n * n)
            # the next value only once the caller has this one: progress is relayed, not buffered
            yield with_timeout(seen[n])
        return "done"

    callee = yield connect(router, transport, serializer)
    yield register(callee, stream, "com.example.stream")
    caller = yield connect(router, transport, serializer)
    progress = []

    def on_progress(n, square):
        progress.append((n, square))
        seen[n].callback(None)

    result = yield call(caller, "com.example.stream", options=CallOptions(on_progress=on_progress))
    assert result == "done"
    assert progress == [(n, n * n) for n in range(count)]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_caller_not_asking_for_progress_gets_only_the_final_result(router, transport, serializer):
    """A call without receive_progress reaches the callee without a progress channel and gets just the final result."""
    offered = []

    def stream(details=None):
        offered.append(details.progress)
        if details.progress is not None:
            details.progress("unasked")
        return "done"

    callee = yield connect(router, transport, serializer)
    yield register(callee, stream, "com.example.stream")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    assert (yield call(caller, "com.example.stream")) == "done"
    assert offered == [None]
    assert [bool(m.progress) for m in caller.received if isinstance(m, message.Result)] == [False]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_progressive_results_then_error(router, transport, serializer):
    """A callee can fail after progressive results: the caller gets the results, then the error."""
    def stream(details=None):
        details.progress(1)
        details.progress(2)
        raise ApplicationError("com.example.error.broken_stream", "after two")

    callee = yield connect(router, transport, serializer)
    yield register(callee, stream, "com.example.stream")
    caller = yield connect(router, transport, serializer)
    progress = []
    error = yield assert_error(caller.call("com.example.stream", options=CallOptions(on_progress=progress.append)),
                               "com.example.error.broken_stream")
    assert error.args == ("after two",)
    assert progress == [1, 2]


# call canceling


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_cancelling_the_call_deferred_cancels_caller_and_interrupts_callee(router, transport, serializer):
    """Deferred.cancel() on a call gets ERROR canceled from the router and interrupts the callee's invocation."""
    endpoint = Held()
    callee = yield connect(router, transport, serializer)
    yield callee.register(endpoint, "com.example.slow")
    yield callee.register(lambda: "pong", "com.example.ping")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    d, request = start_call(caller, "com.example.slow")
    yield endpoint.invoked()
    d.cancel()
    with pytest.raises(defer.CancelledError):
        yield d
    yield with_timeout(endpoint.interrupted)
    assert endpoint.cancelled == [0]
    assert (yield call(caller, "com.example.ping")) == "pong"
    answers = caller.answers(request)
    assert [(type(m), m.error) for m in answers] == [(message.Error, "wamp.error.canceled")]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_cancel_mode_skip_answers_caller_and_leaves_callee_alone(router, transport, serializer):
    """CANCEL mode skip fails the call with canceled at once, sends no INTERRUPT and drops the callee's late answer."""
    endpoint = Held()
    callee = yield connect(router, transport, serializer, session_class=RecordingClient)
    yield callee.register(endpoint, "com.example.slow")
    yield callee.register(lambda: "pong", "com.example.ping")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    d, request = start_call(caller, "com.example.slow")
    yield endpoint.invoked()
    send_cancel(caller, request, "skip")
    yield assert_error(d, "wamp.error.canceled")
    endpoint.calls[0].callback("too late")
    # the ping's INVOCATION follows any INTERRUPT, its RESULT any stray answer to the canceled call
    assert (yield call(caller, "com.example.ping")) == "pong"
    assert callee.interrupts() == []
    assert endpoint.cancelled == []
    assert len(caller.answers(request)) == 1


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_cancel_mode_kill_waits_for_the_callee_answer(router, transport, serializer):
    """CANCEL mode kill interrupts the callee and relays the callee's answer to the interrupt as the call's outcome."""
    endpoint = Held(on_cancel=lambda d: d.callback("stopped early"))
    callee = yield connect(router, transport, serializer)
    yield callee.register(endpoint, "com.example.slow")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    d, request = start_call(caller, "com.example.slow")
    yield endpoint.invoked()
    send_cancel(caller, request, "kill")
    assert (yield with_timeout(d)) == "stopped early"
    assert endpoint.cancelled == [0]
    assert [type(m) for m in caller.answers(request)] == [message.Result]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_cancel_mode_killnowait_answers_caller_and_interrupts_callee(router, transport, serializer):
    """CANCEL mode killnowait fails the call with canceled at once, interrupts the callee and drops its answer."""
    endpoint = Held(on_cancel=lambda d: d.callback("dropped"))
    callee = yield connect(router, transport, serializer)
    yield callee.register(endpoint, "com.example.slow")
    yield callee.register(lambda: "pong", "com.example.ping")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    d, request = start_call(caller, "com.example.slow")
    yield endpoint.invoked()
    send_cancel(caller, request, "killnowait")
    yield assert_error(d, "wamp.error.canceled")
    yield with_timeout(endpoint.interrupted)
    assert (yield call(caller, "com.example.ping")) == "pong"
    assert len(caller.answers(request)) == 1


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_cancel_of_an_answered_call_is_harmless(router, transport, serializer):
    """A CANCEL for a call already answered gets no reply, interrupts nobody and leaves both sessions working."""
    callee = yield connect(router, transport, serializer, session_class=RecordingClient)
    yield callee.register(lambda: "quick", "com.example.quick")
    yield callee.register(lambda: "pong", "com.example.ping")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    d, request = start_call(caller, "com.example.quick")
    assert (yield with_timeout(d)) == "quick"
    d.cancel()  # a fired Deferred: Autobahn sends nothing
    send_cancel(caller, request)
    # a reply to the CANCEL would precede the ping's RESULT, an INTERRUPT its INVOCATION
    assert (yield call(caller, "com.example.ping")) == "pong"
    assert [type(m) for m in caller.answers(request)] == [message.Result]
    assert callee.interrupts() == []
    assert caller.is_attached() and callee.is_attached()


# call timeouts


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_call_timeout_fails_call_and_interrupts_callee(router, transport, serializer):
    """A call unanswered within its timeout (ms) fails with wamp.error.timeout and interrupts the callee."""
    endpoint = Held()
    callee = yield connect(router, transport, serializer)
    yield callee.register(endpoint, "com.example.slow")
    caller = yield connect(router, transport, serializer)
    started = reactor.seconds()
    yield assert_error(caller.call("com.example.slow", options=CallOptions(timeout=200)), "wamp.error.timeout")
    elapsed = reactor.seconds() - started
    assert 0.15 <= elapsed < 5, elapsed
    yield with_timeout(endpoint.interrupted)
    assert endpoint.cancelled == [0]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_answer_before_timeout_wins_and_nothing_follows(router, transport, serializer):
    """An answer before the timeout reaches the caller, and no error or interrupt follows when the timeout runs out."""
    callee = yield connect(router, transport, serializer, session_class=RecordingClient)
    yield callee.register(lambda: deferLater(reactor, 0.05, lambda: "in time"), "com.example.prompt")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    started = reactor.seconds()
    d, request = start_call(caller, "com.example.prompt", options=CallOptions(timeout=400))
    assert (yield with_timeout(d)) == "in time"
    yield sleep(started + 0.5 - reactor.seconds())  # until past the 400 ms timeout
    assert [type(m) for m in caller.answers(request)] == [message.Result]
    assert callee.interrupts() == []
    assert caller.is_attached() and callee.is_attached()


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_timeout_racing_the_answer_ends_each_call_exactly_once(router, transport, serializer):
    """When answers and timeouts coincide, each call ends with exactly one RESULT or timeout ERROR and nothing more."""
    callee = yield connect(router, transport, serializer)
    yield callee.register(lambda n: deferLater(reactor, 0.1, lambda: n), "com.example.racy")
    yield callee.register(lambda: "pong", "com.example.ping")
    caller = yield connect(router, transport, serializer, session_class=RecordingClient)
    started = [start_call(caller, "com.example.racy", n, options=CallOptions(timeout=100)) for n in range(10)]
    outcomes = yield with_timeout(defer.DeferredList([d for d, _ in started], consumeErrors=True))
    for n, (ok, value) in enumerate(outcomes):
        if ok:
            assert value == n
        else:
            assert value.check(ApplicationError) and value.value.error == "wamp.error.timeout"
    yield sleep(0.2)
    for _, request in started:
        assert len(caller.answers(request)) == 1
    assert (yield call(caller, "com.example.ping")) == "pong"
    assert callee.is_attached()


# caller identification


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_caller_is_disclosed_when_the_realm_discloses_callers(disclosing_router, transport, serializer):
    """With the realm option disclose_caller, invocations carry the caller's session id, authid and authrole."""
    callee = yield connect(disclosing_router, transport, serializer)
    yield register(callee, lambda details=None: [details.caller, details.caller_authid, details.caller_authrole],
                   "com.example.whoami")
    caller = yield connect(disclosing_router, transport, serializer)
    assert (yield call(caller, "com.example.whoami")) == [caller.details.session, caller.details.authid, "anonymous"]


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_caller_is_not_disclosed_by_default(router, transport, serializer):
    """Without disclose_me or the realm option, invocations carry no caller identity."""
    callee = yield connect(router, transport, serializer)
    yield register(callee, lambda details=None: [details.caller, details.caller_authid, details.caller_authrole],
                   "com.example.whoami")
    caller = yield connect(router, transport, serializer)
    assert (yield call(caller, "com.example.whoami")) == [None, None, None]


# ordering


@transports
@serializers
@pytest_twisted.inlineCallbacks
def test_invocations_keep_call_order_and_results_find_their_calls(router, transport, serializer):
    """Calls sent without waiting reach the callee in call order; answered in reverse, each gets its own result."""
    count = 100
    endpoint = Held()
    callee = yield connect(router, transport, serializer)
    arrived = []

    def serve(n):
        arrived.append(n)
        return endpoint(n)

    yield callee.register(serve, "com.example.ordered")
    caller = yield connect(router, transport, serializer)
    calls = [caller.call("com.example.ordered", n) for n in range(count)]
    yield endpoint.invoked(count)
    assert arrived == list(range(count))
    for n in reversed(range(count)):
        endpoint.calls[n].callback(n * 10)
    results = yield with_timeout(defer.gatherResults(calls, consumeErrors=True))
    assert results == [n * 10 for n in range(count)]
