"""
wampd as a real process: ``wampd`` (``python -m router.cli``) and ``twistd -n wampd`` started as
subprocesses, with real Autobahn clients, signals, configuration errors and listening errors.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer, protocol, reactor
from twisted.python.failure import Failure

from tests.support import TIMEOUT, RunningRouter, connect, with_timeout

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = Path(__file__).resolve().parent / "configs"

#: ``wampd`` without relying on PATH
WAMPD = ["-m", "router.cli"]
#: ``twistd`` without relying on PATH (``python -m twisted`` is the ``twist`` runner, which has no -n/--pidfile)
TWISTD = ["-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile="]
LOOPBACK = "tcp:0:interface=127.0.0.1"

#: upper bound for a router process to exit once told to (the router's shutdown grace is 2 s)
EXIT_TIMEOUT = 10
#: upper bound for a short-lived command (--help, a refused configuration) to finish
COMMAND_TIMEOUT = 20

LISTENING = re.compile(r"wampd listening on 127\.0\.0\.1:(\d+) \(universal /ws\)")
READY = re.compile(r"wampd ready: realms (.*)")


def child_env() -> dict[str, str]:
    """
    The environment for a router process: this checkout first on the path (so ``twistd`` finds the
    plugin under ``twisted/plugins``) and unbuffered output.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Event:
    """
    A one-shot result that any number of callers can wait for, each with its own bounded Deferred.
    """

    def __init__(self) -> None:
        self.fired = False
        self._result: Any = None
        self._waiters: list[defer.Deferred[Any]] = []

    def fire(self, result: Any) -> None:
        if self.fired:
            return
        self.fired, self._result = True, result
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            self._deliver(d)

    def _deliver(self, d: "defer.Deferred[Any]") -> None:
        if isinstance(self._result, Failure):
            d.errback(self._result)
        else:
            d.callback(self._result)

    def wait(self) -> "defer.Deferred[Any]":
        d: defer.Deferred[Any] = defer.Deferred()
        if self.fired:
            self._deliver(d)
        else:
            self._waiters.append(d)
        return d


class RouterProcess(protocol.ProcessProtocol):
    """
    A router process: collects its output, notices the listening and ready lines, and its end.
    """

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.output = ""
        self._partial = ""
        self.port: int | None = None
        #: fires with the TCP port once the listener and "ready" lines were logged
        self._ready = _Event()
        #: fires with (exit code, signal) once the process has ended and its pipes are closed
        self._ended = _Event()

    # ProcessProtocol

    def outReceived(self, data: bytes) -> None:
        self._feed(data)

    def errReceived(self, data: bytes) -> None:
        self._feed(data)

    def processEnded(self, reason: Failure) -> None:
        self._ended.fire((reason.value.exitCode, reason.value.signal))
        self._ready.fire(Failure(AssertionError("router process ended before it was ready:\n" + self.describe())))

    # helpers

    def _feed(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        self.output += text
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            listening = LISTENING.search(line)
            if listening and self.port is None:
                self.port = int(listening.group(1))
            if READY.search(line) and self.port is not None:
                self._ready.fire(self.port)

    def describe(self) -> str:
        return "command: {}\noutput:\n{}".format(" ".join(self.args), self.output)

    def _bounded(self, event: _Event, what: str, seconds: float) -> "defer.Deferred[Any]":
        def timed_out(failure: Failure) -> Failure:
            failure.trap(defer.TimeoutError)
            return Failure(AssertionError("no {} within {} s\n{}".format(what, seconds, self.describe())))

        return event.wait().addTimeout(seconds, reactor).addErrback(timed_out)

    def ready(self, seconds: float = TIMEOUT) -> "defer.Deferred[int]":
        """
        Wait (bounded) for the ready line; fires with the listening port.
        """
        return self._bounded(self._ready, "'wampd ready' line", seconds)

    def ended(self, seconds: float = EXIT_TIMEOUT) -> "defer.Deferred[tuple[int | None, int | None]]":
        """
        Wait (bounded) for the process to end; fires with (exit code, terminating signal).
        """
        return self._bounded(self._ended, "process exit", seconds)

    @property
    def running(self) -> bool:
        return not self._ended.fired

    def signal(self, name: str) -> None:
        self.transport.signalProcess(name)


@pytest.fixture
def spawn(tmp_path):
    """
    Start router processes (arguments after the Python interpreter) in ``tmp_path``; any still
    running at the end of the test are killed.
    """
    started: list[RouterProcess] = []

    def start(args: list[str]) -> RouterProcess:
        proc = RouterProcess(args)
        reactor.spawnProcess(proc, sys.executable, [sys.executable, *args], env=child_env(), path=str(tmp_path))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.running:
            try:
                proc.signal("KILL")
            except Exception:
                pass
            pytest_twisted.blockon(proc.ended())


def run_command(args: list[str], cwd: Path, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
    """
    Run a short-lived command (arguments after the Python interpreter) to completion; returns the
    exit code and stdout + stderr. Fails the test if it does not finish within ``timeout``.
    """
    try:
        done = subprocess.run([sys.executable, *args], cwd=str(cwd), env=child_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        output = "".join(part.decode("utf-8", "replace") if isinstance(part, bytes) else part or ""
                         for part in (e.stdout, e.stderr))
        pytest.fail("still running after {} s (killed): {}\noutput:\n{}".format(timeout, " ".join(args), output))
    return done.returncode, done.stdout + done.stderr


def running_router(port: int) -> RunningRouter:
    """
    Where a router process listens, for :func:`tests.support.connect` (TCP only).
    """
    return RunningRouter(service=None, tcp_port=port, unix_path="")


@defer.inlineCallbacks
def call_round_trip(port: int) -> Any:
    """
    A WebSocket callee and a RawSocket caller on the router at ``port``; checks one call and
    returns both sessions.
    """
    running = running_router(port)
    callee = yield connect(running, "websocket", "json")
    caller = yield connect(running, "rawsocket-tcp", "msgpack")
    yield with_timeout(callee.register(lambda a, b: a + b, "com.example.add"))
    result = yield with_timeout(caller.call("com.example.add", 2, 3))
    assert result == 5
    return [callee, caller]


@defer.inlineCallbacks
def assert_said_system_shutdown(clients: list[Any], proc: RouterProcess) -> Any:
    """
    Every client is told GOODBYE with wamp.close.system_shutdown (not just disconnected).
    """
    for client in clients:
        details = yield with_timeout(client.left)
        assert details is not None, "disconnected without GOODBYE\n" + proc.describe()
        assert details.reason == "wamp.close.system_shutdown", proc.describe()


# Running and stopping


@pytest.mark.parametrize("signame", ["TERM", "INT"])
@pytest_twisted.inlineCallbacks
def test_wampd_serves_clients_and_stops_cleanly_on_signal(spawn, signame):
    """wampd serves a real call round trip, and on SIGTERM or SIGINT says GOODBYE system_shutdown to clients and exits 0."""
    proc = spawn(WAMPD + ["--listen", LOOPBACK])
    port = yield proc.ready()
    assert port > 0
    clients = yield call_round_trip(port)
    proc.signal(signame)
    yield assert_said_system_shutdown(clients, proc)
    status = yield proc.ended()
    assert status == (0, None), proc.describe()
    assert "wampd stopped" in proc.output


@pytest_twisted.inlineCallbacks
def test_twistd_wampd_serves_clients_and_stops_cleanly_on_sigterm(spawn):
    """twistd -n wampd serves a real publish round trip and on SIGTERM says GOODBYE system_shutdown and exits 0."""
    proc = spawn(TWISTD + ["wampd", "--listen", LOOPBACK])
    port = yield proc.ready()
    running = running_router(port)
    subscriber = yield connect(running, "websocket", "cbor")
    publisher = yield connect(running, "rawsocket-tcp", "json")
    received: defer.Deferred[Any] = defer.Deferred()
    yield with_timeout(subscriber.subscribe(lambda *args: received.callback(args), "com.example.topic"))
    yield with_timeout(publisher.publish("com.example.topic", "hello", options=PublishOptions(acknowledge=True)))
    assert (yield with_timeout(received)) == ("hello",)
    proc.signal("TERM")
    yield assert_said_system_shutdown([subscriber, publisher], proc)
    status = yield proc.ended()
    # twistd re-raises the stopping signal after shutdown unless the service reports success, as
    # wampd's does after a graceful stop (router.tap.TwistdRouterService)
    assert status == (0, None), proc.describe()
    assert "wampd stopped" in proc.output
    assert "Server Shut Down." in proc.output


def test_wampd_console_script_is_installed(tmp_path):
    """The installed `wampd` console script exists on PATH and runs (prints its help, exit 0)."""
    script = shutil.which("wampd")
    assert script is not None, "the wampd console script is not on PATH"
    done = subprocess.run([script, "--help"], cwd=str(tmp_path), env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--listen" in done.stdout


def test_wampd_help(tmp_path):
    """wampd --help exits 0 and documents --listen and --config."""
    code, output = run_command(WAMPD + ["--help"], tmp_path)
    assert code == 0, output
    assert "--listen" in output
    assert "--config" in output


# Configuration


@pytest.mark.parametrize("filename", ["app.yaml", "app.json"])
@pytest_twisted.inlineCallbacks
def test_config_file_realms_are_served(spawn, filename):
    """With a config file serving realm "app" only, a client joins "app" and is refused on realm1 with no_such_realm."""
    proc = spawn(WAMPD + ["--config", str(CONFIGS / filename)])
    port = yield proc.ready()
    assert READY.search(proc.output).group(1).strip() == "app"
    running = running_router(port)
    client = yield connect(running, realm="app")
    assert client.details.realm == "app"
    with pytest.raises(RuntimeError, match=r"wamp\.error\.no_such_realm"):
        yield connect(running, realm="realm1")
    proc.signal("TERM")
    status = yield proc.ended()
    assert status == (0, None), proc.describe()


CONFIG_ERRORS = [
    pytest.param(["--config", str(CONFIGS / "bogus_type.yaml")], ["bogus_type.yaml", "listeners[0].type"],
                 id="bad-listener-type"),
    pytest.param(["--config", str(CONFIGS / "unknown_key.yaml")], ["unknown_key.yaml", "relams", "unknown key"],
                 id="unknown-top-level-key"),
    pytest.param(["--config", str(CONFIGS / "malformed.yaml")], ["malformed.yaml", "not valid YAML"],
                 id="malformed-yaml"),
    pytest.param(["--config", str(CONFIGS / "malformed.json")], ["malformed.json", "not valid JSON"],
                 id="malformed-json"),
    pytest.param(["--config", str(CONFIGS / "does-not-exist.yaml")], ["does-not-exist.yaml", "cannot read"],
                 id="missing-file"),
    pytest.param(["--listen", "nonsense:1"], ["--listen", "listeners[0].endpoint", "nonsense"],
                 id="invalid-endpoint"),
    pytest.param(["--loglevel", "loud"], ["--loglevel", "debug, info"], id="invalid-loglevel"),
]


@pytest.mark.parametrize("args, expected", CONFIG_ERRORS)
def test_wampd_refuses_invalid_configuration(tmp_path, args, expected):
    """wampd refuses an invalid configuration before listening, exiting non-zero with a message naming the file/flag and key path."""
    code, output = run_command(WAMPD + args, tmp_path)
    assert code != 0, output
    for text in expected:
        assert text in output
    assert "wampd listening" not in output


def test_twistd_wampd_refuses_invalid_configuration(tmp_path):
    """twistd wampd refuses a config with a bad listener type, exiting non-zero and naming the file and key path."""
    code, output = run_command(TWISTD + ["wampd", "--config", str(CONFIGS / "bogus_type.yaml")], tmp_path)
    assert code != 0, output
    assert "bogus_type.yaml" in output
    assert "listeners[0].type" in output
    assert "wampd listening" not in output


# Listening errors


@pytest.fixture
def busy_port():
    """
    A loopback TCP port this test process is listening on.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize("runner", [pytest.param(WAMPD, id="wampd"), pytest.param(TWISTD + ["wampd"], id="twistd")])
def test_port_in_use_stops_startup(tmp_path, busy_port, runner):
    """A listener on a port already in use stops startup: the process exits non-zero with a "cannot listen" message."""
    code, output = run_command(runner + ["--listen", "tcp:{}:interface=127.0.0.1".format(busy_port)], tmp_path,
                               timeout=EXIT_TIMEOUT)
    assert code != 0, output
    assert "wampd cannot listen" in output
    assert "{}".format(busy_port) in output
    assert "Address already in use" in output
    assert "wampd ready" not in output
