"""
router.testing: the in-memory router users test their components against.
"""

import pytest
from autobahn.wamp.exception import ApplicationError

from router.testing import MemoryRouter


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_rpc_and_pubsub_in_memory(serializer):
    """Autobahn sessions joined in memory call each other and receive events synchronously."""
    router = MemoryRouter()
    callee = router.join(serializer=serializer)
    caller = router.join(serializer=serializer)
    assert callee.is_attached() and caller.is_attached()
    callee.register(lambda a, b: a * b, "com.mul")
    assert caller.call("com.mul", 6, 7).result == 42
    events = []
    callee.subscribe(lambda *args: events.append(args), "com.t")
    caller.publish("com.t", "x")
    assert events == [("x",)]


def test_errors_and_leaving():
    """An unknown procedure fails with no_such_procedure; a session that leaves is removed from the router."""
    router = MemoryRouter()
    session = router.join()
    failures = []
    session.call("com.none").addErrback(lambda f: failures.append(f.value))
    assert isinstance(failures[0], ApplicationError)
    assert failures[0].error == "wamp.error.no_such_procedure"
    session.leave()
    assert router.router.sessions == {}


def test_dropped_connection_cancels_calls():
    """Closing a callee's connection fails its pending calls with wamp.error.canceled."""
    from twisted.internet import defer

    router = MemoryRouter()
    callee_session = router.join()
    callee_session.register(lambda: defer.Deferred(), "com.hang")
    caller = router.join()
    failures = []
    caller.call("com.hang").addErrback(lambda f: failures.append(f.value.error))
    callee_session._transport.close()
    assert failures == ["wamp.error.canceled"]
