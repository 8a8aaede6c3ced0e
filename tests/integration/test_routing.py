"""
Pub/sub and RPC through wampd with real Autobahn|Python clients, over every transport and serializer.
"""

import pytest
import pytest_twisted
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer

from tests.support import SERIALIZER_NAMES, TRANSPORTS, connect, sleep, with_timeout

matrix = pytest.mark.parametrize("transport", TRANSPORTS)
serializers = pytest.mark.parametrize("serializer", SERIALIZER_NAMES)


def collector():
    """
    A handler recording each event's (args, kwargs), and a Deferred firing on the first event.
    """
    events = []
    first = defer.Deferred()

    def on_event(*args, **kwargs):
        events.append((args, kwargs))
        if not first.called:
            first.callback(None)

    return events, first, on_event


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_join_and_leave(router, transport, serializer):
    """A client joins realm1 anonymously, is listed by the router while joined and gone after GOODBYE."""
    client = yield connect(router, transport, serializer)
    details = client.details
    assert details.realm == "realm1"
    assert details.authrole == "anonymous"
    assert details.authmethod == "anonymous"
    assert details.session in router.service.router.sessions
    yield client.leave()
    left = yield with_timeout(client.left)
    assert left.reason == "wamp.close.goodbye_and_out"
    assert details.session not in router.service.router.sessions


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_publish_reaches_every_subscriber_but_not_publisher(router, transport, serializer):
    """An acknowledged publication reaches every subscriber once, with args and kwargs, and not the publisher."""
    subscribers = []
    for _ in range(3):
        client = yield connect(router, transport, serializer)
        events, first, handler = collector()
        yield client.subscribe(handler, "com.example.topic")
        subscribers.append((events, first))
    publisher = yield connect(router, transport, serializer)
    own_events, _, own_handler = collector()
    yield publisher.subscribe(own_handler, "com.example.topic")
    publication = yield publisher.publish("com.example.topic", 1, "two", three=3,
                                          options=PublishOptions(acknowledge=True))
    assert publication.id > 0
    for events, first in subscribers:
        yield with_timeout(first)
    for events, _ in subscribers:
        assert events == [((1, "two"), {"three": 3})]
    yield sleep(0.2)
    assert own_events == []


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_publisher_receives_own_event_when_exclude_me_is_false(router, transport, serializer):
    """With exclude_me=False the publisher gets its own event."""
    client = yield connect(router, transport, serializer)
    events, first, handler = collector()
    yield client.subscribe(handler, "com.example.self")
    yield client.publish("com.example.self", "hi", options=PublishOptions(exclude_me=False, acknowledge=True))
    yield with_timeout(first)
    assert events == [(("hi",), {})]


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_call_with_args_and_kwargs(router, transport, serializer):
    """A CALL reaches the callee with args and kwargs and its result comes back to the caller."""
    callee = yield connect(router, transport, serializer)
    yield callee.register(lambda a, b, scale=1: (a + b) * scale, "com.example.add")
    caller = yield connect(router, transport, serializer)
    result = yield caller.call("com.example.add", 2, 3, scale=10)
    assert result == 50


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_callee_application_error_is_relayed(router, transport, serializer):
    """A callee's ApplicationError reaches the caller with its URI, args and kwargs."""
    callee = yield connect(router, transport, serializer)

    def fail():
        raise ApplicationError("com.example.error.out_of_stock", "widget", remaining=0)

    yield callee.register(fail, "com.example.buy")
    caller = yield connect(router, transport, serializer)
    with pytest.raises(ApplicationError) as raised:
        yield caller.call("com.example.buy")
    assert raised.value.error == "com.example.error.out_of_stock"
    assert raised.value.args == ("widget",)
    assert raised.value.kwargs == {"remaining": 0}


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_call_without_callee_fails_with_no_such_procedure(router, transport, serializer):
    """Calling a procedure nobody registered fails with wamp.error.no_such_procedure."""
    caller = yield connect(router, transport, serializer)
    with pytest.raises(ApplicationError) as raised:
        yield caller.call("com.example.nobody")
    assert raised.value.error == "wamp.error.no_such_procedure"


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_callee_leaving_mid_call_cancels_the_call(router, transport, serializer):
    """When the callee leaves while serving a call, the caller gets wamp.error.canceled."""
    callee = yield connect(router, transport, serializer)
    invoked = defer.Deferred()

    def slow():
        invoked.callback(None)
        return defer.Deferred()  # never answers

    yield callee.register(slow, "com.example.slow")
    caller = yield connect(router, transport, serializer)
    call = caller.call("com.example.slow")
    yield with_timeout(invoked)
    yield callee.leave()
    with pytest.raises(ApplicationError) as raised:
        yield with_timeout(call)
    assert raised.value.error == "wamp.error.canceled"


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_caller_leaving_mid_call_drops_the_late_result(router, transport, serializer):
    """A result for a caller that left is dropped; the callee's session keeps working."""
    callee = yield connect(router, transport, serializer)
    invoked = defer.Deferred()
    answer = defer.Deferred()

    def slow():
        invoked.callback(None)
        return answer

    yield callee.register(slow, "com.example.slow")
    yield callee.register(lambda: "pong", "com.example.ping")
    caller = yield connect(router, transport, serializer)
    call = caller.call("com.example.slow")
    call.addErrback(lambda f: None)  # the caller is gone; its call never completes
    yield with_timeout(invoked)
    yield caller.leave()
    yield with_timeout(caller.left)
    answer.callback("too late")
    other = yield connect(router, transport, serializer)
    assert (yield other.call("com.example.ping")) == "pong"
    assert callee.is_attached()


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_goodbye_is_answered_and_frees_registrations(router, transport, serializer):
    """GOODBYE is answered with goodbye_and_out and the session's registrations are freed."""
    callee = yield connect(router, transport, serializer)
    yield callee.register(lambda: 1, "com.example.once")
    yield callee.leave()
    details = yield with_timeout(callee.left)
    assert details.reason == "wamp.close.goodbye_and_out"
    successor = yield connect(router, transport, serializer)
    registration = yield successor.register(lambda: 2, "com.example.once")
    assert registration.id > 0


@matrix
@serializers
@pytest_twisted.inlineCallbacks
def test_subscribing_twice_returns_the_same_subscription(router, transport, serializer):
    """A repeated SUBSCRIBE to one topic returns the same subscription id."""
    client = yield connect(router, transport, serializer)
    first = yield client.subscribe(lambda: None, "com.example.twice")
    second = yield client.subscribe(lambda: None, "com.example.twice")
    assert first.id == second.id


@serializers
@pytest_twisted.inlineCallbacks
def test_result_larger_than_caller_accepts_fails_with_payload_size_exceeded(router, serializer):
    """A RawSocket caller that announced a 1 KiB limit gets ERROR payload_size_exceeded for a larger result."""
    from autobahn.twisted.rawsocket import WampRawSocketClientFactory
    from autobahn.wamp.types import ComponentConfig
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    from router.transport.serializers import SERIALIZERS
    from tests.support import Client

    callee = yield connect(router, "websocket", serializer)
    yield callee.register(lambda: "x" * 4000, "com.example.big")
    yield callee.register(lambda: "small", "com.example.small")
    caller = Client(ComponentConfig(realm="realm1"))
    factory = WampRawSocketClientFactory(lambda: caller, serializer=SERIALIZERS[serializer]())
    build = factory.buildProtocol

    def small_limit(addr):
        protocol = build(addr)
        protocol._max_message_size = 1024  # room for WELCOME, not for the big result
        return protocol

    factory.buildProtocol = small_limit
    yield with_timeout(TCP4ClientEndpoint(reactor, "127.0.0.1", router.tcp_port).connect(factory))
    yield with_timeout(caller.joined)
    from autobahn.exception import PayloadExceededError

    # Autobahn maps the error URI wamp.error.payload_size_exceeded to PayloadExceededError
    with pytest.raises(PayloadExceededError, match="larger than this session accepts"):
        yield with_timeout(caller.call("com.example.big"))
    assert (yield caller.call("com.example.small")) == "small"
