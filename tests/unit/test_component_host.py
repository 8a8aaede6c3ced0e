"""
router.components: components joined to the router over in-process connections, on a task.Clock
(no sockets, no reactor).
"""

import pytest
from autobahn.twisted.wamp import ApplicationSession
from twisted.internet.task import Clock

from router.components import ComponentHost, load_class
from router.config import ComponentConfig
from router.core import Router, RouterOptions
from router.transport.handler import SessionFactory


class Echo(ApplicationSession):
    """
    Registers ``com.test.echo`` and records what it is told.
    """

    def onJoin(self, details):
        self.register(lambda *args: args, "com.test.echo")


class Stubborn(Echo):
    """
    Never disconnects when its session ends.
    """

    def onLeave(self, details):
        pass


class Clumsy(Echo):
    """
    Fails on every message after joining.
    """

    def onJoin(self, details):
        self.broken = True

    def onMessage(self, msg):
        if getattr(self, "broken", False):
            raise RuntimeError("clumsy")
        Echo.onMessage(self, msg)


def host_for(*classnames, realm="realm1"):
    clock = Clock()
    router = Router(RouterOptions(), clock=clock)
    sessions = SessionFactory(router, clock)
    host = ComponentHost(tuple(ComponentConfig(name, realm) for name in classnames), sessions, clock)
    return clock, router, sessions, host


def turns(clock, count=20):
    """
    Let queued in-process deliveries run.
    """
    for _ in range(count):
        clock.advance(0)


def test_components_join_on_later_turns():
    """start() makes each component and connects it; it joins on later reactor turns, not inside start()."""
    clock, router, sessions, host = host_for(__name__ + ".Echo", __name__ + ".Echo")
    host.start()
    ready = host.ready()
    assert router.sessions == {}
    turns(clock)
    assert ready.called
    assert len(router.sessions) == 2
    assert all(running.session.is_attached() for running in host.running)
    assert {running.connection.server.transport_details.peer for running in host.running} == {
        "component:" + __name__ + ".Echo"}


def test_stop_leaves_then_closes():
    """stop() has every component say GOODBYE and fires once their connections are closed."""
    clock, router, sessions, host = host_for(__name__ + ".Echo")
    host.start()
    turns(clock)
    (component,) = host.running
    stopped = host.stop()
    assert not stopped.called
    turns(clock)
    assert stopped.called
    assert router.sessions == {}
    assert not component.session.is_attached()
    assert not component.connection.open
    assert sessions.live == set()


def test_stop_closes_a_component_that_does_not_leave_after_the_grace():
    """A component that never disconnects after its GOODBYE is closed once the grace period has passed."""
    clock, router, sessions, host = host_for(__name__ + ".Stubborn")
    host.start()
    turns(clock)
    (component,) = host.running
    stopped = host.stop(grace=2.0)
    turns(clock)
    assert not stopped.called
    assert component.connection.open
    clock.advance(2.0)
    assert stopped.called
    assert not component.connection.open
    assert sessions.live == set()


def test_a_component_that_fails_loses_its_connection_only():
    """An exception in a component's message handling drops its connection; the router and others carry on."""
    clock, router, sessions, host = host_for(__name__ + ".Clumsy", __name__ + ".Echo")
    host.start()
    turns(clock)
    clumsy, echo = host.running
    clumsy.session.publish("com.test.topic")
    clumsy.session.subscribe(lambda: None, "com.test.topic")
    turns(clock)
    assert not clumsy.connection.open
    assert echo.connection.open and echo.session.is_attached()
    assert list(router.sessions) == [echo.session.session_id]


def test_unknown_classes_are_skipped():
    """A component whose class cannot be loaded is left out; the others start."""
    clock, router, sessions, host = host_for("nosuchmodule.Thing", __name__ + ".Nothing", __name__ + ".Echo")
    host.start()
    turns(clock)
    assert [running.config.classname for running in host.running] == [__name__ + ".Echo"]
    assert len(router.sessions) == 1


def test_unknown_realm_ends_the_component_session():
    """A component refused by the router (no such realm) is closed; ready() still fires."""
    clock, router, sessions, host = host_for(__name__ + ".Echo", realm="nosuchrealm")
    host.start()
    ready = host.ready()
    turns(clock)
    assert ready.called
    (component,) = host.running
    assert not component.connection.open
    assert router.sessions == {}


def test_load_class():
    """load_class imports a dotted path and refuses what is not a class."""
    assert load_class("router.components.ComponentHost") is ComponentHost
    refused = (("nodots", "dotted"), ("nosuchmodule.X", "cannot import"), ("router.components.nothing", "no class"),
               ("router.components.LOCAL_SERIALIZER", "no class"))
    for name, problem in refused:
        with pytest.raises(ValueError, match=problem):
            load_class(name)
