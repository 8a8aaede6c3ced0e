"""
Authentication interop with AutobahnJS (JSON): tests/js/auth.js, run under Node, logs in to wampd
with ticket, WAMP-CRA (plain and salted) and cryptosign, and is refused a wrong ticket.

The router and its principals are the ones of tests/integration/test_auth.py.
Setup (once, and after tests/js/package-lock.json changes): ``npm ci --prefix tests/js``.
"""

import os

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.utils import getProcessOutputAndValue

from tests.integration.test_auth import (
    AUTHENTICATION_FAILED,
    CRYPTOSIGN_SEED,
    NOT_AUTHORIZED,
    auth_router,  # noqa: F401 (the fixture)
)
from tests.integration.test_autobahn_js import JS_DIR, PROCESS_TIMEOUT, _killed, node_executable, result_line
from tests.support import with_timeout

AUTH_SCRIPT = JS_DIR / "auth.js"


@defer.inlineCallbacks
def run_auth(router, scenario: str):
    """
    Run auth.js for ``scenario`` against ``router`` without blocking the reactor; returns its result
    object, failing the test if the script did not run to its end.
    """
    node = node_executable()
    if not (JS_DIR / "node_modules" / "tweetnacl" / "package.json").is_file():
        pytest.fail("{} is missing tweetnacl (an autobahn dependency): npm ci --prefix tests/js".format(
            JS_DIR / "node_modules"), pytrace=False)
    url = "ws://127.0.0.1:{}/ws".format(router.tcp_port)
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    ran = getProcessOutputAndValue(node, [str(AUTH_SCRIPT), url, "realm1", scenario, CRYPTOSIGN_SEED.hex()],
                                   env=env, path=str(JS_DIR))
    ran.addErrback(_killed)
    out, err, code = yield with_timeout(ran, PROCESS_TIMEOUT)
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    assert code == 0, "auth.js exited {}\nstdout:\n{}\nstderr:\n{}".format(code, stdout, stderr)
    results = result_line(stdout)
    assert results["scenario"] == scenario
    return results


def assert_joined(results, authid: str, authrole: str, authmethod: str) -> None:
    """
    The script joined with these details and left with GOODBYE.
    """
    assert results["joined"] is True, results
    assert results["details"] == {"authid": authid, "authrole": authrole, "authmethod": authmethod,
                                  "authprovider": "static"}
    assert [c["method"] for c in results["challenges"]] == [authmethod]
    assert results["close"]["session_reason"] == "wamp.close.goodbye_and_out"


@pytest_twisted.inlineCallbacks
def test_js_ticket(auth_router):  # noqa: F811
    """AutobahnJS joins with the right ticket as the principal's role, whose permissions then apply to its calls."""
    results = yield run_auth(auth_router, "ticket")
    assert_joined(results, "joe", "user", "ticket")
    assert results["probe"] == {"error": NOT_AUTHORIZED}


@pytest_twisted.inlineCallbacks
def test_js_wampcra(auth_router):  # noqa: F811
    """AutobahnJS joins with WAMP-CRA signed by autobahn.auth_cra.sign with the plain secret."""
    results = yield run_auth(auth_router, "wampcra")
    assert_joined(results, "peter", "user", "wampcra")
    assert "salt" not in results["challenges"][0]["extra_keys"]


@pytest_twisted.inlineCallbacks
def test_js_wampcra_salted(auth_router):  # noqa: F811
    """AutobahnJS joins with WAMP-CRA over the key autobahn.auth_cra.derive_key derives from the challenge's salt."""
    results = yield run_auth(auth_router, "wampcra-salted")
    assert_joined(results, "salty", "admin", "wampcra")
    assert {"salt", "iterations", "keylen"} <= set(results["challenges"][0]["extra_keys"])
    assert results["probe"] == {"result": 1}


@pytest_twisted.inlineCallbacks
def test_js_cryptosign(auth_router):  # noqa: F811
    """AutobahnJS joins with cryptosign, signing the challenge with autobahn.auth_cryptosign and tweetnacl."""
    results = yield run_auth(auth_router, "cryptosign")
    assert_joined(results, "alice", "user", "cryptosign")


@pytest_twisted.inlineCallbacks
def test_js_wrong_ticket(auth_router):  # noqa: F811
    """AutobahnJS offering a wrong ticket is refused and reports the close reason authentication_failed."""
    results = yield run_auth(auth_router, "wrong-ticket")
    assert results["joined"] is False
    assert [c["method"] for c in results["challenges"]] == ["ticket"]
    assert results["close"]["session_reason"] == AUTHENTICATION_FAILED
    assert not auth_router.service.router.sessions
