"""
Dynamic authorization: an authorizer procedure decides a role's actions (in memory).
"""

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions

from router.auth.anonymous import AnonymousMethod
from router.authorizer import ALLOW_ALL, DynamicRole
from router.core import RealmOptions, RouterOptions
from router.testing import MemoryRouter


def make_router():
    """
    A realm where role "trusted" may do everything and role "user" is decided by com.example.authorize.
    """
    roles = {"trusted": (ALLOW_ALL,), "user": DynamicRole("com.example.authorize", "realm1")}
    router = MemoryRouter(RouterOptions(realms={"realm1": RealmOptions(roles=roles)}))
    questions = []

    def authorize(session, uri, action, options):
        questions.append((session["authrole"], uri, action))
        if uri.startswith("com.open."):
            return {"allow": True, "cache": True, "disclose": action == "call"}
        return action == "subscribe"

    backend = router.join(methods={"anonymous": AnonymousMethod("trusted")})
    backend.register(authorize, "com.example.authorize")
    backend.register(lambda details=None: details.caller if details else None, "com.open.whoami",
                     options=__import__("autobahn.wamp.types", fromlist=["x"]).RegisterOptions(details_arg="details"))
    user = router.join(methods={"anonymous": AnonymousMethod("user")})
    return router, user, questions


def failure(d):
    errors = []
    d.addErrback(lambda f: errors.append(f.value))
    return errors[0] if errors else None


def test_authorizer_decides_each_action():
    """The authorizer's answer allows or denies each action; denied ones get not_authorized."""
    router, user, questions = make_router()
    assert user.subscribe(lambda: None, "com.closed.news").result.id > 0
    error = failure(user.call("com.closed.proc"))
    assert isinstance(error, ApplicationError) and error.error == "wamp.error.not_authorized"
    error = failure(user.publish("com.closed.t", options=PublishOptions(acknowledge=True)))
    assert error.error == "wamp.error.not_authorized"
    assert ("user", "com.closed.proc", "call") in questions


def test_cached_answer_and_disclosure():
    """An answer with cache is asked once per session and URI; disclose reveals the caller."""
    router, user, questions = make_router()
    first = user.call("com.open.whoami").result
    second = user.call("com.open.whoami").result
    assert first == second == user._session_id
    assert questions.count(("user", "com.open.whoami", "call")) == 1


def test_order_is_kept_while_asking():
    """Messages sent while an authorization is pending are processed after it, in order."""
    router, user, questions = make_router()
    results = []
    for _ in range(3):
        user.call("com.open.whoami").addCallback(results.append)
    assert results == [user._session_id] * 3


def test_missing_authorizer_denies():
    """Without the authorizer procedure every decided action is denied."""
    roles = {"user": DynamicRole("com.example.nobody", "realm1")}
    router = MemoryRouter(RouterOptions(realms={"realm1": RealmOptions(roles=roles)}))
    user = router.join(methods={"anonymous": AnonymousMethod("user")})
    assert failure(user.subscribe(lambda: None, "com.t")).error == "wamp.error.not_authorized"
