"""
Advanced Profile interop with AutobahnJS: tests/js/advanced.js, run under Node, uses progressive call
results, call canceling, pattern-based subscriptions, publisher and caller disclosure and shared
registrations through wampd.

The script runs once per serializer against a router of its own; each test below judges one feature
from the JSON line it prints. Setup (once, and after tests/js/package-lock.json changes):
``npm ci --prefix tests/js``.
"""

import os
from dataclasses import dataclass

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.utils import getProcessOutputAndValue

from tests.conftest import start_router
from tests.integration.test_autobahn_js import (
    JS_DIR,
    _killed,
    node_executable,
    result_line,
)
from tests.support import with_timeout

ADVANCED_SCRIPT = JS_DIR / "advanced.js"

#: advanced.js bounds itself at 15 s (exit 2); this also covers Node start-up and its re-run on Node 20
PROCESS_TIMEOUT = 35

CANCELED = "wamp.error.canceled"


@dataclass
class AdvancedRun:
    """
    How one run of advanced.js ended, and the router's sessions once it had.
    """

    serializer: str
    code: object = None
    stdout: str = ""
    stderr: str = ""
    #: ids of the sessions still on the router after the script exited
    sessions_after: frozenset = frozenset()
    #: why the script could not be run (no node, no node_modules, no exit in time)
    setup_error: str | None = None

    def output(self) -> str:
        return f"advanced.js ({self.serializer}) exited {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    def results(self) -> dict:
        """
        The JSON result object, failing the test with the script's output when there is none.
        """
        if self.setup_error is not None:
            pytest.fail(self.setup_error, pytrace=False)
        try:
            return result_line(self.stdout)
        except (AssertionError, ValueError) as e:
            pytest.fail(f"{e}\n{self.output()}", pytrace=False)

    def scenario(self, name: str) -> dict:
        """
        What the script observed in scenario ``name``; fails the test if the scenario raised.
        """
        observed = self.results().get(name)
        assert observed is not None, f"no result for scenario {name}\n{self.output()}"
        assert "exception" not in observed, "scenario {} raised: {}".format(name, observed["exception"])
        return observed

    def assert_checks(self, *names: str) -> None:
        """
        The script's own checks ``names`` all passed.
        """
        checks = self.results()["checks"]
        failed = [name for name in names if checks.get(name) is not True]
        assert not failed, f"failed checks {failed}\n{self.output()}"


@defer.inlineCallbacks
def run_advanced(router, serializer: str, realm: str = "realm1"):
    """
    Run advanced.js against ``router`` without blocking the reactor; returns (exit code, stdout, stderr),
    the exit code being ``"signal N"`` if the process was killed.
    """
    node = node_executable()
    url = f"ws://127.0.0.1:{router.tcp_port}/ws"
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    ran = getProcessOutputAndValue(node, [str(ADVANCED_SCRIPT), url, realm, serializer], env=env, path=str(JS_DIR))
    ran.addErrback(_killed)
    out, err, code = yield with_timeout(ran, PROCESS_TIMEOUT)
    return code, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture(scope="module", params=["json", "msgpack"])
def advanced(request, tmp_path_factory):
    """
    One run of advanced.js per serializer, against a router started for it. A run that could not
    happen is kept as ``setup_error`` so that every test fails with it (rather than erroring).
    """
    running = start_router(tmp_path_factory.mktemp("advanced-" + request.param))
    try:
        code, stdout, stderr = pytest_twisted.blockon(run_advanced(running, request.param))
        return AdvancedRun(request.param, code, stdout, stderr, frozenset(running.service.router.sessions))
    except pytest.fail.Exception as e:
        return AdvancedRun(request.param, setup_error=str(e))
    except (defer.TimeoutError, defer.CancelledError):
        return AdvancedRun(request.param, setup_error=f"advanced.js did not exit within {PROCESS_TIMEOUT} s")
    finally:
        pytest_twisted.blockon(running.service.stopService())


def test_all_checks_pass_and_sessions_leave(advanced):
    """advanced.js exits 0 with every check passed, on the asked serializer, and its sessions leave the router cleanly."""
    results = advanced.results()
    assert advanced.code == 0, advanced.output()
    assert results["serializer"] == advanced.serializer
    assert results["protocol"] == f"wamp.2.{advanced.serializer}"
    assert all(results["checks"].values()), results["checks"]
    assert results["left"] == [{"reason": "closed", "session_reason": "wamp.close.goodbye_and_out"}] * 3
    ids = results["session_ids"] + [results["cancel_interrupt"]["callee_id"]]
    assert not set(ids) & advanced.sessions_after, "sessions still listed after GOODBYE"


def test_progressive_call_results(advanced):
    """With receive_progress the caller gets three progress values in order, then the result; without, only the result."""
    observed = advanced.scenario("progressive_results")
    assert observed["order"] == [{"progress": 1}, {"progress": 2}, {"progress": 3}, {"final": "final"}]
    assert observed["callee_could_progress"] == [True, False]
    assert observed["unasked"] == [{"final": "final"}]
    advanced.assert_checks("progress_in_order", "progress_only_when_asked")


def test_cancel_with_callee_without_call_canceling(advanced):
    """A canceled call to an AutobahnJS callee (no call_canceling) is answered wamp.error.canceled; its late result is dropped."""
    observed = advanced.scenario("cancel_js_callee")
    kill, killnowait = observed["modes"]["kill"], observed["modes"]["killnowait"]
    assert kill["settled"]["error"] == CANCELED
    assert kill["router_errors"] == [CANCELED]
    assert killnowait["router_errors"] == [CANCELED]
    assert observed["interrupts_to_callee"] == 0
    assert kill["stray_results"] == killnowait["stray_results"] == 0
    assert kill["echo"] == {"result": "kill"} and killnowait["echo"] == {"result": "killnowait"}
    advanced.assert_checks("js_callee_kill_gets_canceled", "js_callee_killnowait_gets_canceled",
                           "js_callee_not_interrupted", "js_callee_late_answer_dropped")


def test_cancel_interrupts_callee_with_call_canceling(advanced):
    """kill interrupts the callee and relays its ERROR; killnowait interrupts it and answers wamp.error.canceled at once."""
    observed = advanced.scenario("cancel_interrupt")
    kill, killnowait = observed["modes"]["kill"], observed["modes"]["killnowait"]
    assert kill["interrupt_options"]["mode"] == "kill"
    assert kill["settled"] == {"error": CANCELED, "args": ["interrupted", "kill"], "kwargs": {}}
    assert kill["router_errors"] == [{"error": CANCELED, "args": ["interrupted", "kill"]}]
    assert killnowait["interrupt_options"]["mode"] == "killnowait"
    assert len(killnowait["router_errors"]) == 1, "the callee's late ERROR reached the caller"
    assert killnowait["router_errors"][0]["error"] == CANCELED
    assert killnowait["router_errors"][0]["args"] != ["interrupted", "killnowait"]
    assert observed["callee_attached"] is True
    advanced.assert_checks("kill_interrupts_callee", "kill_relays_callee_error", "killnowait_interrupts_callee",
                           "killnowait_answers_at_once", "interrupted_callee_stays")


def test_pattern_subscriptions(advanced):
    """Prefix and wildcard subscriptions get only matching publications, with details.topic the topic published to."""
    observed = advanced.scenario("patterns")
    assert observed["prefix"] == [{"args": ["p"], "topic": "com.adv.prefix.one.two"}]
    assert observed["wildcard"] == [{"args": ["w"], "topic": "com.adv.x.wild"}]
    advanced.assert_checks("prefix_event_topic", "wildcard_event_topic")


def test_disclose_me(advanced):
    """disclose_me, and only disclose_me, gives subscribers details.publisher and callees details.caller: the sender's id."""
    observed = advanced.scenario("disclose")
    sender = advanced.results()["session_ids"][0]
    assert observed["events"] == [{"args": ["shown"], "publisher": sender}, {"args": ["hidden"], "publisher": None}]
    assert observed["calls"] == {"shown": {"result": sender}, "hidden": {"result": None}}
    advanced.assert_checks("publisher_disclosed", "caller_disclosed")


def test_shared_registration_roundrobin(advanced):
    """Two AutobahnJS callees share one roundrobin registration and successive calls alternate between them."""
    observed = advanced.scenario("roundrobin")
    registration_b, registration_c = observed["registrations"]
    assert registration_b == registration_c
    served = observed["served"]
    assert sorted(set(served)) == ["B", "C"], served
    assert all(served[i] != served[i - 1] for i in range(1, len(served))), served
    advanced.assert_checks("shared_registration", "roundrobin_alternates")
