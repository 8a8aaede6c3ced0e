"""
The sample components (components/) against a router started by the test, over real sockets: each
connected as a WebSocket client, run inside the router from its configuration, and run on its own
with ``python -m components.<name>``.
"""

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, ComponentConfig, PublishOptions, SubscribeOptions
from twisted.internet import defer, protocol, reactor

from components import calculator, chat, kv, ticker
from components.runner import parse_args
from router.config import ComponentConfig as RouterComponentConfig
from router.config import Config, ListenerConfig
from router.core import RealmOptions, RouterOptions
from router.service import RouterService
from tests.conftest import start_router
from tests.support import TIMEOUT, RunningRouter, client_factory, connect, sleep, with_timeout

REPO_ROOT = Path(__file__).resolve().parents[2]


@defer.inlineCallbacks
def run_component(router: RunningRouter, session_class: type, extra: dict[str, Any] | None = None,
                  transport: str = "websocket", realm: str = "realm1") -> Any:
    """
    Connect a component to ``router`` as a client and wait until its ``onJoin`` has run.
    """
    session = session_class(ComponentConfig(realm=realm, extra=extra or {}))
    ready: defer.Deferred[Any] = defer.Deferred()
    session.on("ready", lambda s: ready.callback(s))
    endpoint, factory = client_factory(router, transport, "json", lambda: session)
    yield with_timeout(endpoint.connect(factory))
    yield with_timeout(ready)
    return session


class Recorder:
    """
    An event handler that records ``(args, kwargs, details)`` and lets a test wait for the n-th event.
    """

    def __init__(self) -> None:
        self.events: list[tuple[tuple[Any, ...], dict[str, Any], Any]] = []
        self._waiters: list[tuple[int, defer.Deferred[Any]]] = []

    def __call__(self, *args: Any, details: Any = None, **kwargs: Any) -> None:
        self.events.append((args, kwargs, details))
        for count, waiter in list(self._waiters):
            if len(self.events) >= count:
                self._waiters.remove((count, waiter))
                waiter.callback(self.events[count - 1])

    def nth(self, count: int) -> "defer.Deferred[Any]":
        """
        Fires with the ``count``-th event (1-based), at once if it has arrived.
        """
        if len(self.events) >= count:
            return defer.succeed(self.events[count - 1])
        waiter: defer.Deferred[Any] = defer.Deferred()
        self._waiters.append((count, waiter))
        return with_timeout(waiter)


@pytest.fixture
def disclosing_router(tmp_path):
    """
    A router whose realm1 discloses callers to callees (what the chat room needs from Python
    clients, which cannot ask for ``disclose_me``).
    """
    running = start_router(tmp_path, RouterOptions(realms={"realm1": RealmOptions(disclose_caller=True)}))
    yield running
    pytest_twisted.blockon(running.service.stopService())


# Ticker


@pytest_twisted.inlineCallbacks
def test_ticker_publishes_counter_and_time(router):
    """The ticker publishes consecutive counters with a UTC ISO 8601 time on its topic."""
    client = yield connect(router)
    ticks = Recorder()
    yield client.subscribe(ticks, ticker.TOPIC, options=SubscribeOptions(details=True))
    yield run_component(router, ticker.Ticker, {"interval": 0.05})
    yield ticks.nth(3)
    counters = [kwargs["counter"] for _, kwargs, _ in ticks.events[:3]]
    assert counters == [counters[0], counters[0] + 1, counters[0] + 2]
    stamp = ticks.events[0][1]["time"]
    assert stamp.endswith("Z")
    assert abs((datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() - reactor.seconds())) < 60


@pytest_twisted.inlineCallbacks
def test_ticker_retains_the_latest_tick_for_late_subscribers(router):
    """A subscriber that asks for retained events gets the latest tick at once, marked retained."""
    source = yield run_component(router, ticker.Ticker, {"interval": 3600})
    assert source.counter == 1
    late = yield connect(router)
    ticks = Recorder()
    yield late.subscribe(ticks, ticker.TOPIC, options=SubscribeOptions(details=True, get_retained=True))
    args, kwargs, details = yield ticks.nth(1)
    assert kwargs["counter"] == 1
    assert details.retained is True


def test_ticker_refuses_a_bad_interval():
    """An interval that is not a positive number of seconds is refused when the component is made."""
    with pytest.raises(ValueError, match="interval"):
        ticker.Ticker(ComponentConfig(realm="realm1", extra={"interval": "fast"}))
    with pytest.raises(ValueError, match="interval"):
        ticker.Ticker(ComponentConfig(realm="realm1", extra={"interval": 0}))


# Calculator


@pytest_twisted.inlineCallbacks
def test_calculator_adds_and_divides(router):
    """add and divide answer with the sum and the quotient."""
    yield run_component(router, calculator.Calculator)
    client = yield connect(router)
    assert (yield client.call(calculator.ADD, 2, 3)) == 5
    assert (yield client.call(calculator.ADD, 0.5, 0.25)) == 0.75
    assert (yield client.call(calculator.DIVIDE, 7, 2)) == 3.5


@pytest_twisted.inlineCallbacks
def test_calculator_errors_have_uris(router):
    """Dividing by zero is the application error division_by_zero; a non-number is wamp.error.invalid_argument."""
    yield run_component(router, calculator.Calculator)
    client = yield connect(router)
    with pytest.raises(ApplicationError) as raised:
        yield client.call(calculator.DIVIDE, 1, 0)
    assert raised.value.error == "com.example.calculator.error.division_by_zero"
    assert "zero" in raised.value.args[0]
    for procedure, args in ((calculator.ADD, ("x", 1)), (calculator.DIVIDE, (1, True)), (calculator.PRIMES, (1,))):
        with pytest.raises(ApplicationError) as raised:
            yield client.call(procedure, *args)
        assert raised.value.error == "wamp.error.invalid_argument", procedure


@pytest_twisted.inlineCallbacks
def test_calculator_primes_reports_progress(router):
    """primes sends one progressive result per step, counting up, and then the final count."""
    yield run_component(router, calculator.Calculator, {"steps": 5, "step_delay": 0})
    client = yield connect(router)
    progress: list[dict[str, int]] = []
    options = CallOptions(on_progress=progress.append)
    result = yield with_timeout(client.call(calculator.PRIMES, 100_000, options=options))
    assert result == {"limit": 100_000, "count": 9592}
    assert [step["done"] for step in progress] == [1, 2, 3, 4, 5]
    assert all(step["total"] == 5 for step in progress)
    counts = [step["count"] for step in progress]
    assert counts == sorted(counts) and counts[-1] == 9592
    assert progress[-1]["checked"] == 100_000


@pytest_twisted.inlineCallbacks
def test_calculator_primes_without_progress_still_answers(router):
    """A caller that does not ask for progress gets only the result."""
    yield run_component(router, calculator.Calculator, {"steps": 3, "step_delay": 0})
    client = yield connect(router)
    assert (yield with_timeout(client.call(calculator.PRIMES, 1000))) == {"limit": 1000, "count": 168}


@pytest_twisted.inlineCallbacks
def test_calculator_primes_stops_when_canceled(router):
    """Canceling a primes call stops the work: no more progress arrives and the calculator is idle."""
    calc = yield run_component(router, calculator.Calculator, {"steps": 100, "step_delay": 0.05})
    client = yield connect(router)
    progress = Recorder()
    call = client.call(calculator.PRIMES, 1_000_000, options=CallOptions(on_progress=progress))
    yield progress.nth(2)
    assert calc.running == 1
    call.cancel()
    with pytest.raises(defer.CancelledError):
        yield with_timeout(call)
    for _ in range(50):
        if calc.running == 0:
            break
        yield sleep(0.02)
    assert calc.running == 0
    seen = len(progress.events)
    yield sleep(0.3)
    assert len(progress.events) == seen
    assert seen < 100


def test_primes_segments_cover_the_range():
    """segments cut [2, limit] into consecutive ranges; count_primes over them adds up to the known counts."""
    for limit, known in ((2, 1), (10, 4), (100, 25), (10_000, 1229)):
        parts = calculator.segments(limit, 7)
        assert parts[0][0] == 2 and parts[-1][1] == limit + 1
        assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))
        base = calculator.small_primes(int(limit ** 0.5))
        assert sum(calculator.count_primes(low, high, base) for low, high in parts) == known


# Chat


@defer.inlineCallbacks
def chat_client(router: RunningRouter) -> Any:
    """
    A client subscribed to chat messages and presence (retained), as the web client is.
    """
    client = yield connect(router)
    client.messages = Recorder()
    client.presence = Recorder()
    yield client.subscribe(client.messages, chat.MESSAGE, options=SubscribeOptions(details=True))
    yield client.subscribe(client.presence, chat.PRESENCE, options=SubscribeOptions(details=True, get_retained=True))
    return client


def nicks(presence_event: Any) -> list[str]:
    return [member["nick"] for member in presence_event[1]["members"]]


@pytest_twisted.inlineCallbacks
def test_chat_join_presence_and_history_for_late_joiners(disclosing_router):
    """Members appear in the retained presence; a late joiner gets the recent messages with their publication ids."""
    router = disclosing_router
    yield run_component(router, chat.ChatRoom)
    alice = yield chat_client(router)
    joined = yield alice.call(chat.JOIN, "alice")
    assert joined["session"] == alice.details.session
    assert joined["members"] == [{"session": alice.details.session, "nick": "alice"}]
    assert nicks((yield alice.presence.nth(2))) == ["alice"]

    publications = []
    for text in ("hello", "anyone?"):
        pub = yield alice.publish(chat.MESSAGE, nick="alice", text=text,
                                  options=PublishOptions(acknowledge=True, exclude_me=False))
        publications.append(pub.id)
    yield alice.messages.nth(2)
    # the router sent the room these events before any later invocation, so a call sees them
    assert [entry["text"] for entry in (yield alice.call(chat.HISTORY))] == ["hello", "anyone?"]

    bob = yield chat_client(router)
    assert nicks((yield bob.presence.nth(1))) == ["alice"]
    joined = yield bob.call(chat.JOIN, "Bob")
    assert [(m["nick"], m["session"]) for m in joined["members"]] == [("alice", alice.details.session),
                                                                       ("Bob", bob.details.session)]
    assert [(entry["id"], entry["nick"], entry["text"]) for entry in joined["history"]] == [
        (publications[0], "alice", "hello"), (publications[1], "alice", "anyone?")]
    assert all(entry["time"].endswith("Z") for entry in joined["history"])
    assert nicks((yield alice.presence.nth(3))) == ["alice", "Bob"]
    assert (yield bob.call(chat.HISTORY)) == joined["history"]


@pytest_twisted.inlineCallbacks
def test_chat_presence_follows_leave_and_session_end(disclosing_router):
    """A member who calls leave, or whose session ends (wamp.session.on_leave), drops out of the presence."""
    router = disclosing_router
    yield run_component(router, chat.ChatRoom)
    watcher = yield chat_client(router)
    alice = yield connect(router)
    bob = yield connect(router)
    yield alice.call(chat.JOIN, "alice")
    yield bob.call(chat.JOIN, "bob")
    assert nicks((yield watcher.presence.nth(3))) == ["alice", "bob"]
    yield bob.call(chat.LEAVE)
    assert nicks((yield watcher.presence.nth(4))) == ["alice"]
    yield alice.leave()
    assert nicks((yield watcher.presence.nth(5))) == []


@pytest_twisted.inlineCallbacks
def test_chat_refuses_bad_and_taken_nicks(disclosing_router):
    """A blank or long nick is invalid_nick; another member's nick (any case) is nick_taken; renaming oneself works."""
    router = disclosing_router
    yield run_component(router, chat.ChatRoom)
    alice = yield connect(router)
    bob = yield connect(router)
    yield alice.call(chat.JOIN, "alice")
    for nick, error in (("  ", chat.INVALID_NICK), ("x" * 33, chat.INVALID_NICK), (7, chat.INVALID_NICK),
                        ("ALICE", chat.NICK_TAKEN)):
        with pytest.raises(ApplicationError) as raised:
            yield bob.call(chat.JOIN, nick)
        assert raised.value.error == error, nick
    renamed = yield alice.call(chat.JOIN, "Alice")
    assert renamed["members"] == [{"session": alice.details.session, "nick": "Alice"}]


@pytest_twisted.inlineCallbacks
def test_chat_needs_the_caller_disclosed(router):
    """On a realm that does not disclose callers, a join without disclose_me is refused with caller_not_disclosed."""
    yield run_component(router, chat.ChatRoom)
    client = yield connect(router)
    with pytest.raises(ApplicationError) as raised:
        yield client.call(chat.JOIN, "alice")
    assert raised.value.error == chat.CALLER_NOT_DISCLOSED


@pytest_twisted.inlineCallbacks
def test_chat_keeps_only_recent_history_and_ignores_bad_messages(disclosing_router):
    """The room keeps the last `history` valid messages; messages without a nick or text are not kept."""
    router = disclosing_router
    room = yield run_component(router, chat.ChatRoom, {"history": 3})
    client = yield chat_client(router)
    options = PublishOptions(acknowledge=True, exclude_me=False)
    for i in range(5):
        yield client.publish(chat.MESSAGE, nick="n", text=str(i), options=options)
    yield client.publish(chat.MESSAGE, text="no nick", options=options)
    yield client.publish(chat.MESSAGE, "positional", options=options)
    history = yield client.call(chat.HISTORY)
    assert [entry["text"] for entry in history] == ["2", "3", "4"]
    assert len(room.history) == 3


# Key-value store


@pytest_twisted.inlineCallbacks
def test_kv_get_set_delete_with_change_events(router):
    """set, get, items and delete work by RPC, and every change is announced on on_change."""
    yield run_component(router, kv.KeyValueStore)
    client = yield connect(router)
    changes = Recorder()
    yield client.subscribe(changes, kv.ON_CHANGE, options=SubscribeOptions(details=True))
    yield client.call(kv.SET, "color", "blue")
    yield client.call(kv.SET, "size", {"w": 2, "h": 3})
    assert (yield client.call(kv.GET, "color")) == "blue"
    assert (yield client.call(kv.ITEMS)) == {"color": "blue", "size": {"w": 2, "h": 3}}
    assert (yield client.call(kv.DELETE, "color")) is True
    assert (yield client.call(kv.DELETE, "color")) is False
    yield changes.nth(3)
    assert [kwargs for _, kwargs, _ in changes.events] == [{"key": "color", "value": "blue"},
                                                           {"key": "size", "value": {"w": 2, "h": 3}},
                                                           {"key": "color", "deleted": True}]
    yield sleep(0.1)
    assert len(changes.events) == 3, "deleting a missing key announced a change"


@pytest_twisted.inlineCallbacks
def test_kv_errors_have_uris(router):
    """A missing key is no_such_key, a bad key invalid_key, and a new key beyond max_keys full."""
    yield run_component(router, kv.KeyValueStore, {"max_keys": 1})
    client = yield connect(router)
    yield client.call(kv.SET, "a", 1)
    for procedure, args, error in ((kv.GET, ("nope",), kv.NO_SUCH_KEY), (kv.SET, ("", 1), kv.INVALID_KEY),
                                   (kv.SET, ("k" * 201, 1), kv.INVALID_KEY), (kv.DELETE, (5,), kv.INVALID_KEY),
                                   (kv.SET, ("b", 2), kv.FULL)):
        with pytest.raises(ApplicationError) as raised:
            yield client.call(procedure, *args)
        assert raised.value.error == error, (procedure, args)
    yield client.call(kv.SET, "a", 2)
    assert (yield client.call(kv.GET, "a")) == 2


# Inside the router


def service_with_components(components: tuple[RouterComponentConfig, ...]) -> RouterService:
    service = RouterService(Config(
        router=RouterOptions(realms={"realm1": RealmOptions()}),
        listeners=(ListenerConfig("tcp:0:interface=127.0.0.1"),),
        components=components,
    ))
    service.startService()
    return service


SAMPLES = (
    RouterComponentConfig("components.ticker.Ticker", "realm1", {"interval": 0.05}),
    RouterComponentConfig("components.calculator.Calculator", "realm1", {"step_delay": 0}),
    RouterComponentConfig("components.chat.ChatRoom", "realm1"),
    RouterComponentConfig("components.kv.KeyValueStore", "realm1"),
)


@pytest_twisted.inlineCallbacks
def test_router_runs_configured_components_in_process(tmp_path):
    """Components listed in the configuration join their realm in-process and serve clients on the listeners."""
    service = service_with_components(SAMPLES)
    try:
        yield with_timeout(service.ready)
        yield with_timeout(service.components.ready())
        running = RunningRouter(service, service.ports[0].getHost().port, "")
        client = yield connect(running)
        assert (yield client.call(calculator.ADD, 20, 22)) == 42
        assert (yield client.call(calculator.PRIMES, 1000)) == {"limit": 1000, "count": 168}
        yield client.call(kv.SET, "k", "v")
        assert (yield client.call(kv.ITEMS)) == {"k": "v"}
        assert (yield client.call(chat.HISTORY)) == []
        ticks = Recorder()
        yield client.subscribe(ticks, ticker.TOPIC, options=SubscribeOptions(details=True, get_retained=True))
        yield ticks.nth(2)
        sessions = yield client.call("wamp.session.list")
        peers = []
        for session_id in sessions:
            info = yield client.call("wamp.session.get", session_id)
            peers.append(info["transport"].get("peer"))
        assert sorted(p for p in peers if p.startswith("component:")) == sorted(
            "component:" + c.classname for c in SAMPLES)
    finally:
        yield service.stopService()


@pytest_twisted.inlineCallbacks
def test_components_leave_before_clients_are_told_goodbye(tmp_path):
    """At shutdown every component leaves (wamp.session.on_leave) before clients get GOODBYE system_shutdown."""
    service = service_with_components(SAMPLES)
    yield with_timeout(service.ready)
    yield with_timeout(service.components.ready())
    component_sessions = {running.session.session_id for running in service.components.running}
    assert len(component_sessions) == 4
    client = yield connect(RunningRouter(service, service.ports[0].getHost().port, ""))
    order: list[Any] = []
    yield client.subscribe(lambda session, *rest: order.append(session), "wamp.session.on_leave")
    client.left.addCallback(lambda details: order.append(details.reason))
    yield with_timeout(service.stopService())
    yield with_timeout(client.left)
    assert set(order[:4]) == component_sessions
    assert order[4:] == ["wamp.close.system_shutdown"]
    assert service.router.sessions == {}


@pytest_twisted.inlineCallbacks
def test_a_broken_component_is_skipped(tmp_path):
    """A component that cannot be imported or made is logged and skipped; the others run."""
    service = service_with_components((
        RouterComponentConfig("components.nothere.Missing", "realm1"),
        RouterComponentConfig("components.ticker.Ticker", "realm1", {"interval": -1}),
        RouterComponentConfig("components.kv.KeyValueStore", "realm1"),
    ))
    try:
        yield with_timeout(service.ready)
        yield with_timeout(service.components.ready())
        assert [r.config.classname for r in service.components.running] == ["components.kv.KeyValueStore"]
        client = yield connect(RunningRouter(service, service.ports[0].getHost().port, ""))
        assert (yield client.call(kv.ITEMS)) == {}
    finally:
        yield service.stopService()


# On their own


class ComponentProcess(protocol.ProcessProtocol):
    """
    ``python -m components.<name>`` as a child process, its output kept for failure messages.
    """

    def __init__(self) -> None:
        self.output = b""
        self.ended: defer.Deferred[Any] = defer.Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(reason.value)


@pytest.fixture
def spawn_component():
    """
    Starts ``python -m MODULE ARGS...``; every process still running at the end is interrupted.
    """
    started: list[tuple[Any, ComponentProcess]] = []

    def spawn(module: str, *args: str) -> ComponentProcess:
        proc = ComponentProcess()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH")))),
                   PYTHONUNBUFFERED="1")
        transport = reactor.spawnProcess(proc, sys.executable, [sys.executable, "-m", module, *args], env=env,
                                         path=str(REPO_ROOT))
        started.append((transport, proc))
        return proc

    yield spawn
    for transport, proc in started:
        if not proc.ended.called:
            transport.signalProcess("INT")
            pytest_twisted.blockon(with_timeout(proc.ended))


@defer.inlineCallbacks
def eventually(action: Any, seconds: float = TIMEOUT) -> Any:
    """
    Retry ``action()`` (a Deferred-returning call) until it succeeds, for up to ``seconds``.
    """
    deadline = reactor.seconds() + seconds
    while True:
        try:
            result = yield action()
            return result
        except ApplicationError:
            if reactor.seconds() > deadline:
                raise
            yield sleep(0.1)


#: a call each standalone component answers once it has joined (the ticker is checked by its events)
STANDALONE_CHECKS = {
    "components.calculator": lambda client: client.call(calculator.ADD, 1, 2),
    "components.chat": lambda client: client.call(chat.HISTORY),
    "components.kv": lambda client: client.call(kv.ITEMS),
}


@pytest.mark.parametrize("module", ["components.ticker", *STANDALONE_CHECKS])
@pytest.mark.parametrize("scheme", ["ws", "rs"])
@pytest_twisted.inlineCallbacks
def test_component_runs_on_its_own(router, spawn_component, module, scheme):
    """python -m components.<name> --url ... --realm realm1 joins the router (WebSocket or RawSocket) and serves."""
    url = ("ws://127.0.0.1:{}/ws" if scheme == "ws" else "rs://127.0.0.1:{}").format(router.tcp_port)
    extra = '{"interval": 0.05}' if module == "components.ticker" else "{}"
    proc = spawn_component(module, "--url", url, "--realm", "realm1", "--extra", extra)
    client = yield connect(router)
    if module == "components.ticker":
        ticks = Recorder()
        yield client.subscribe(ticks, ticker.TOPIC, options=SubscribeOptions(details=True))
        try:
            (_, kwargs, _) = yield ticks.nth(1)
        except defer.TimeoutError:
            pytest.fail("no tick; the component said:\n" + proc.output.decode(errors="replace"))
        assert kwargs["counter"] >= 1
    else:
        yield eventually(lambda: STANDALONE_CHECKS[module](client))
    assert len(router.service.router.sessions) == 2
    proc.transport.signalProcess("INT")
    yield with_timeout(proc.ended)


def test_runner_command_line():
    """The runner takes --url, --realm and --extra (a JSON object), with defaults for the local wampd."""
    args = parse_args(kv.KeyValueStore, [])
    assert (args.url, args.realm, args.extra) == ("ws://127.0.0.1:8080/ws", "realm1", {})
    args = parse_args(kv.KeyValueStore, ["--url", "rs://h:1", "--realm", "r", "--extra", '{"max_keys": 3}'])
    assert (args.url, args.realm, args.extra) == ("rs://h:1", "r", {"max_keys": 3})
    with pytest.raises(SystemExit):
        parse_args(kv.KeyValueStore, ["--extra", "[1]"])
