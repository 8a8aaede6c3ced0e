"""
Components the router runs itself: the ``ApplicationSession`` classes its configuration lists, each
joined to its realm over an in-process connection (no socket) to the service's session factory.

:class:`ComponentHost` starts them with the service and, at shutdown, has them leave before the
router says goodbye to the other sessions::

    host = ComponentHost(config.components, sessions, reactor)
    host.start()
    ...
    yield host.stop()          # then sessions.shutdown(...)

Each runs over a :class:`~router.transport.local.LocalConnection` delivering on later reactor turns,
so a component never runs inside the router's own call stack.
"""

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from autobahn.wamp import types as wamp_types
from twisted.internet import defer
from twisted.logger import Logger

from router import uris
from router.transport.handler import SessionFactory
from router.transport.local import LocalConnection, ReactorQueue

if TYPE_CHECKING:
    from router.config import ComponentConfig

#: the serializer of in-process connections (binary, and it carries bytes values as they are)
LOCAL_SERIALIZER = "msgpack"


def load_class(classname: str) -> type:
    """
    The class a dotted import path names, e.g. ``components.ticker.Ticker``.

    :raises ValueError: saying why it cannot be loaded.
    """
    module_name, _, attribute = classname.rpartition(".")
    if not module_name:
        raise ValueError("{!r} is not a dotted import path".format(classname))
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError("cannot import {}: {}".format(module_name, e)) from e
    found = getattr(module, attribute, None)
    if not isinstance(found, type):
        raise ValueError("{} has no class {}".format(module_name, attribute))
    return found


@dataclass
class RunningComponent:
    """
    A component the router started: its configuration, session and connection.
    """

    config: "ComponentConfig"
    session: Any
    connection: LocalConnection
    #: fires once the session has joined and run its ``onJoin`` (or failed to join)
    ready: "defer.Deferred[None]"


class ComponentHost:
    """
    Runs configured components in-process, each on its own :class:`LocalConnection`.

    :param components: What to run.
    :param sessions: The session factory of the router they join.
    :param reactor: For the in-process deliveries and the shutdown grace period.
    """

    log = Logger()

    def __init__(self, components: "tuple[ComponentConfig, ...]", sessions: SessionFactory, reactor: Any) -> None:
        self._components = components
        self._sessions = sessions
        self._reactor = reactor
        #: one delivery queue for every component connection, so their messages keep one order
        self._queue = ReactorQueue(reactor)
        #: the components started, in configuration order (those that failed to start are left out)
        self.running: list[RunningComponent] = []
        self._stopping = False

    def start(self) -> None:
        """
        Start every component; one that cannot be loaded or created is logged and skipped.
        """
        for config in self._components:
            try:
                session_class = load_class(config.classname)
                session = session_class(wamp_types.ComponentConfig(realm=config.realm, extra=dict(config.extra)))
            except Exception:
                self.log.failure("Component {classname} could not be started", classname=config.classname)
                continue
            self.running.append(self._connect(config, session))

    def _connect(self, config: "ComponentConfig", session: Any) -> RunningComponent:
        ready: defer.Deferred[None] = defer.Deferred()

        def joined(session: Any, *args: Any) -> None:
            self.log.info("Component {classname} ready on realm {realm}", classname=config.classname,
                          realm=config.realm)
            if not ready.called:
                ready.callback(None)

        def left(session: Any, details: Any) -> None:
            level = self.log.info if self._stopping else self.log.warn
            level("Component {classname} left realm {realm}: {reason} {message}", classname=config.classname,
                  realm=config.realm, reason=details.reason, message=details.message or "")
            if not ready.called:
                ready.callback(None)

        def closed(result: None) -> None:
            if not ready.called:
                ready.callback(None)
            return result

        session.on("ready", joined)
        session.on("leave", left)
        connection = LocalConnection(session, self._sessions, self._queue, "component:" + config.classname,
                                     LOCAL_SERIALIZER)
        connection.closed.addCallback(closed)
        return RunningComponent(config, session, connection, ready)

    def ready(self) -> "defer.Deferred[None]":
        """
        Fires when every started component has joined and run its ``onJoin`` (or given up).
        """
        return defer.gatherResults([running.ready for running in self.running]).addCallback(lambda _: None)

    def stop(self, grace: float = 2.0) -> "defer.Deferred[None]":
        """
        Have every component leave with ``wamp.close.system_shutdown``; fires when all their
        connections are closed, closing those still open after ``grace`` seconds.
        """
        self._stopping = True
        running, self.running = self.running, []
        for component in running:
            if not component.connection.open:
                continue
            if component.session.is_attached():
                component.session.leave(uris.CLOSE_SYSTEM_SHUTDOWN, "the router is shutting down")
            else:
                # not joined (yet): there is no session to leave, only the connection
                component.connection.client.close()
        done = defer.gatherResults([component.connection.closed for component in running])
        timer = self._reactor.callLater(grace, self._abandon, running)
        done.addBoth(lambda result: timer.active() and timer.cancel())
        return done.addCallback(lambda _: None)

    def _abandon(self, running: list[RunningComponent]) -> None:
        for component in running:
            if component.connection.open:
                self.log.warn("Component {classname} did not leave in time", classname=component.config.classname)
                component.connection.client.abort()
