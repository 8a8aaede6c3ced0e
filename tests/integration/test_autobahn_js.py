"""
Interop with AutobahnJS: tests/js/interop.js, run under Node, does pub/sub and RPC through wampd.

Setup (once, and after tests/js/package-lock.json changes): ``npm ci --prefix tests/js``.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.utils import getProcessOutputAndValue

from tests.support import with_timeout

JS_DIR = Path(__file__).resolve().parent.parent / "js"
INTEROP_SCRIPT = JS_DIR / "interop.js"
SETUP_HINT = "run the setup first: npm ci --prefix tests/js"

#: interop.js bounds itself at 10 s (exit 2); this also covers Node start-up and its re-run on Node 20
PROCESS_TIMEOUT = 30


def node_executable() -> str:
    """
    The absolute path of ``node``, failing the test (never skipping it) when the setup is missing.
    """
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js (>= 20.10), then {}".format(SETUP_HINT), pytrace=False)
    if not (JS_DIR / "node_modules" / "autobahn" / "package.json").is_file():
        pytest.fail("{} is missing autobahn: {}".format(JS_DIR / "node_modules", SETUP_HINT), pytrace=False)
    return node


@defer.inlineCallbacks
def run_interop(router, serializer: str, realm: str = "realm1"):
    """
    Run interop.js against ``router`` without blocking the reactor; returns (exit code, stdout, stderr),
    the exit code being ``"signal N"`` if the process was killed.
    """
    node = node_executable()
    url = "ws://127.0.0.1:{}/ws".format(router.tcp_port)
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    ran = getProcessOutputAndValue(node, [str(INTEROP_SCRIPT), url, realm, serializer], env=env, path=str(JS_DIR))
    ran.addErrback(_killed)
    out, err, code = yield with_timeout(ran, PROCESS_TIMEOUT)
    return code, out.decode(errors="replace"), err.decode(errors="replace")


def _killed(failure):
    """
    getProcessOutputAndValue fails with the bare tuple (stdout, stderr, signal) when a signal ends the process.
    """
    if isinstance(failure.value, tuple):
        out, err, signal = failure.value
        return out, err, "signal {}".format(signal)
    return failure


def result_line(stdout: str) -> dict:
    """
    The JSON result object interop.js prints as its last stdout line.
    """
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines, "interop.js printed nothing on stdout"
    return json.loads(lines[-1])


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
@pytest_twisted.inlineCallbacks
def test_autobahn_js_rpc_and_pubsub(router, serializer):
    """Two AutobahnJS sessions call, get errors, publish and receive events through wampd, then leave cleanly."""
    code, stdout, stderr = yield run_interop(router, serializer)
    assert code == 0, "interop.js exited {}\nstdout:\n{}\nstderr:\n{}".format(code, stdout, stderr)
    results = result_line(stdout)

    assert results["serializer"] == serializer
    assert results["protocol"] == "wamp.2.{}".format(serializer)
    assert results["add2"] == {"result": 5}
    assert results["fail"] == {"error": "com.interop.error.failed", "args": ["x"], "kwargs": {"code": 7}}
    assert results["missing"]["error"] == "wamp.error.no_such_procedure"
    assert results["publication"]["acknowledged"] is True
    assert results["publication"]["id"] > 0
    assert results["events"] == [{"args": [1, 2], "kwargs": {"k": "v"}}]
    assert results["left"] == [{"reason": "closed", "session_reason": "wamp.close.goodbye_and_out"}] * 2
    assert all(results["checks"].values()), results["checks"]

    session_ids = results["session_ids"]
    assert len(set(session_ids)) == 2
    assert all(isinstance(sid, int) and 0 < sid <= 2 ** 53 for sid in session_ids)
    assert not set(session_ids) & set(router.service.router.sessions), "sessions still listed after GOODBYE"


@pytest_twisted.inlineCallbacks
def test_autobahn_js_reports_refused_join(router):
    """interop.js exits 1 with the router's reason on stderr when its realm does not exist."""
    code, stdout, stderr = yield run_interop(router, "json", realm="nosuchrealm")
    assert code == 1, "interop.js exited {}\nstdout:\n{}\nstderr:\n{}".format(code, stdout, stderr)
    assert "wamp.error.no_such_realm" in stderr
    assert stdout.strip() == ""
