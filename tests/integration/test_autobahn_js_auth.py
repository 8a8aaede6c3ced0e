"""
Authentication interop with AutobahnJS (JSON): tests/js/auth.js, run under Node, logs in to wampd
with ticket, WAMP-CRA (plain and salted) and cryptosign, and is refused a wrong ticket; each over
ws:// and over wss://, Node verifying the router's development certificate through
NODE_EXTRA_CA_CERTS (and refusing it without).

The router and its principals are the ones of tests/integration/test_auth.py.
Setup (once, and after tests/js/package-lock.json changes): ``npm ci --prefix tests/js``.
"""

import os

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.utils import getProcessOutputAndValue

from tests.integration.test_auth import (
    ADMIN,
    AUTHENTICATION_FAILED,
    CRYPTOSIGN_SEED,
    NOT_AUTHORIZED,
    Inbox,
    auth_router,  # noqa: F401 (the fixture)
    login,
    serves_tls,
)
from tests.integration.test_autobahn_js import (
    JS_DIR,
    PROCESS_TIMEOUT,
    _killed,
    node_executable,
    result_line,
)
from tests.support import with_timeout

AUTH_SCRIPT = JS_DIR / "auth.js"


#: the TLS variant of the auth router only
tls_only = pytest.mark.parametrize("auth_router", ["tls"], indirect=True)


def script_url(router) -> str:
    """
    The URL auth.js opens: ``wss://`` when the router serves TLS (its certificate names 127.0.0.1,
    which Node checks against the address), else ``ws://``.
    """
    return "{}://127.0.0.1:{}/ws".format("wss" if serves_tls(router) else "ws", router.tcp_port)


@defer.inlineCallbacks
def run_auth(router, scenario: str, trust_certificate: bool = True):
    """
    Run auth.js for ``scenario`` against ``router`` without blocking the reactor; returns its result
    object, failing the test if the script did not run to its end. Over TLS, Node trusts the
    router's certificate through NODE_EXTRA_CA_CERTS unless ``trust_certificate`` is false.
    """
    node = node_executable()
    if not (JS_DIR / "node_modules" / "tweetnacl" / "package.json").is_file():
        pytest.fail("{} is missing tweetnacl (an autobahn dependency): npm ci --prefix tests/js".format(
            JS_DIR / "node_modules"), pytrace=False)
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    if serves_tls(router) and trust_certificate:
        env["NODE_EXTRA_CA_CERTS"] = router.cert_file
    ran = getProcessOutputAndValue(node, [str(AUTH_SCRIPT), script_url(router), "realm1", scenario,
                                          CRYPTOSIGN_SEED.hex()], env=env, path=str(JS_DIR))
    ran.addErrback(_killed)
    out, err, code = yield with_timeout(ran, PROCESS_TIMEOUT)
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    assert code == 0, f"auth.js exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    results = result_line(stdout)
    assert results["scenario"] == scenario
    assert results["url"] == script_url(router)
    return results


@defer.inlineCallbacks
def watch_joins(router):
    """
    An admin session (Autobahn|Python) subscribed to wamp.session.on_join; returns the Inbox of the
    joined sessions' details.
    """
    admin = yield login(router, ADMIN)
    joins = Inbox()
    yield with_timeout(admin.subscribe(joins, "wamp.session.on_join"))
    return joins


@defer.inlineCallbacks
def assert_router_saw(router, joins, authid: str) -> None:
    """
    The router announced the script's session for ``authid``, on a secure transport exactly over TLS.
    """
    yield with_timeout(joins.first)
    seen = [details for (details,) in joins.events if details["authid"] == authid]
    assert len(seen) == 1, joins.events
    assert seen[0]["transport"]["is_secure"] is serves_tls(router), seen[0]["transport"]


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
    joins = yield watch_joins(auth_router)
    results = yield run_auth(auth_router, "ticket")
    assert_joined(results, "joe", "user", "ticket")
    assert results["probe"] == {"error": NOT_AUTHORIZED}
    yield assert_router_saw(auth_router, joins, "joe")


@pytest_twisted.inlineCallbacks
def test_js_wampcra(auth_router):  # noqa: F811
    """AutobahnJS joins with WAMP-CRA signed by autobahn.auth_cra.sign with the plain secret."""
    joins = yield watch_joins(auth_router)
    results = yield run_auth(auth_router, "wampcra")
    assert_joined(results, "peter", "user", "wampcra")
    assert "salt" not in results["challenges"][0]["extra_keys"]
    yield assert_router_saw(auth_router, joins, "peter")


@pytest_twisted.inlineCallbacks
def test_js_wampcra_salted(auth_router):  # noqa: F811
    """AutobahnJS joins with WAMP-CRA over the key autobahn.auth_cra.derive_key derives from the challenge's salt."""
    joins = yield watch_joins(auth_router)
    results = yield run_auth(auth_router, "wampcra-salted")
    assert_joined(results, "salty", "admin", "wampcra")
    assert {"salt", "iterations", "keylen"} <= set(results["challenges"][0]["extra_keys"])
    assert results["probe"] == {"result": 2}  # the script's session and the watching admin
    yield assert_router_saw(auth_router, joins, "salty")


@pytest_twisted.inlineCallbacks
def test_js_cryptosign(auth_router):  # noqa: F811
    """AutobahnJS joins with cryptosign, signing the challenge with autobahn.auth_cryptosign and tweetnacl."""
    joins = yield watch_joins(auth_router)
    results = yield run_auth(auth_router, "cryptosign")
    assert_joined(results, "alice", "user", "cryptosign")
    yield assert_router_saw(auth_router, joins, "alice")


@pytest_twisted.inlineCallbacks
def test_js_wrong_ticket(auth_router):  # noqa: F811
    """AutobahnJS offering a wrong ticket is refused and reports the close reason authentication_failed."""
    results = yield run_auth(auth_router, "wrong-ticket")
    assert results["joined"] is False
    assert [c["method"] for c in results["challenges"]] == ["ticket"]
    assert results["close"]["session_reason"] == AUTHENTICATION_FAILED
    assert not auth_router.service.router.sessions


@tls_only
@pytest_twisted.inlineCallbacks
def test_js_wss_needs_a_trusted_certificate(auth_router):  # noqa: F811
    """Without NODE_EXTRA_CA_CERTS, Node refuses the router's self-signed certificate: no challenge, no session."""
    results = yield run_auth(auth_router, "ticket", trust_certificate=False)
    assert results["joined"] is False
    assert results["websocket_error"], results
    assert results["challenges"] == []
    assert results["close"]["session_reason"] is None, results["close"]
    assert not auth_router.service.sessions.live
    assert not auth_router.service.router.sessions
