"""
Driving the sans-IO core directly: session machines fed with Autobahn message objects.
"""

from autobahn.wamp import role
from autobahn.wamp.message import Hello

from router.core import Router
from router.session import SessionMachine

ALL_ROLES = {
    "publisher": role.RolePublisherFeatures(),
    "subscriber": role.RoleSubscriberFeatures(),
    "caller": role.RoleCallerFeatures(),
    "callee": role.RoleCalleeFeatures(),
}


def hello(realm: str = "realm1", **kwargs) -> Hello:
    """
    A HELLO announcing all four client roles.
    """
    return Hello(realm, kwargs.pop("roles", ALL_ROLES), **kwargs)


def joined(router: Router, realm: str = "realm1", roles=None) -> SessionMachine:
    """
    A session machine that has sent HELLO and got WELCOME.
    """
    machine = SessionMachine(router, link=object())
    out = machine.receive(hello(realm, roles=roles or ALL_ROLES))
    assert type(out[0][1]).__name__ == "RouterWelcome", out
    return machine


def messages_to(deliveries, machine: SessionMachine):
    """
    The messages in ``deliveries`` addressed to the session on ``machine``.
    """
    return [msg for peer, msg in deliveries if peer is machine.peer]


def decoded(raw) -> object:
    """
    A message decoded from its JSON form, as a transport would hand it to the router (raw options
    kept).
    """
    import json

    from autobahn.wamp.serializer import JsonSerializer

    from router.codec import decode

    (msg,) = decode(JsonSerializer(), json.dumps(raw).encode(), False)
    return msg


def joined_with_features(router: Router, realm: str = "realm1", **features) -> SessionMachine:
    """
    A joined session whose HELLO announces ``features`` (as written on the wire) for every role.
    """
    roles = {name: {"features": dict(features)} for name in ("publisher", "subscriber", "caller", "callee")}
    machine = SessionMachine(router, link=object())
    out = machine.receive(decoded([1, realm, {"roles": roles}]))
    assert type(out[0][1]).__name__ == "RouterWelcome", out
    return machine
