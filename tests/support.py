"""
Helpers for integration tests: a router on loopback and real Autobahn|Python clients.
"""

from dataclasses import dataclass
from typing import Any

from autobahn.twisted.rawsocket import WampRawSocketClientFactory
from autobahn.twisted.wamp import ApplicationSession
from autobahn.twisted.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, UNIXClientEndpoint, wrapClientTLS
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS
from twisted.internet.task import deferLater

from router.service import RouterService
from router.transport.serializers import SERIALIZERS

#: transport kinds every integration test runs over
TRANSPORTS = ("websocket", "rawsocket-tcp", "rawsocket-unix")
#: serializer names every integration test runs with
SERIALIZER_NAMES = tuple(SERIALIZERS)

#: upper bound for any single wait in a test, in seconds
TIMEOUT = 10

#: the host name TLS clients verify the router's certificate for (they connect to 127.0.0.1)
TLS_HOSTNAME = "localhost"


@dataclass
class RunningRouter:
    """
    A router started by a test: its service and where it listens.
    """

    service: RouterService
    tcp_port: int
    unix_path: str
    #: the certificate (PEM) clients trust when the router serves TLS; ``None`` for plain listeners
    trust_root: bytes | None = None


class Client(ApplicationSession):
    """
    An Autobahn session that records its lifecycle as Deferreds and lists.
    """

    def __init__(self, config: ComponentConfig) -> None:
        ApplicationSession.__init__(self, config)
        self.joined: defer.Deferred[Any] = defer.Deferred()
        self.left: defer.Deferred[Any] = defer.Deferred()
        self.disconnected: defer.Deferred[None] = defer.Deferred()
        #: the SessionDetails of the join
        self.details: Any = None

    def onJoin(self, details: Any) -> None:
        self.details = details
        self.joined.callback(details)

    def onLeave(self, details: Any) -> None:
        if not self.joined.called:
            self.joined.errback(RuntimeError("session refused: {} {}".format(details.reason, details.message)))
        if not self.left.called:
            self.left.callback(details)
        ApplicationSession.onLeave(self, details)

    def onDisconnect(self) -> None:
        if not self.left.called:
            self.left.callback(None)
        if not self.joined.called:
            self.joined.errback(RuntimeError("disconnected before joining"))
        if not self.disconnected.called:
            self.disconnected.callback(None)


def with_timeout(d: "defer.Deferred[Any]", seconds: float = TIMEOUT) -> "defer.Deferred[Any]":
    """
    Fail ``d`` with ``TimeoutError`` after ``seconds``.
    """
    return d.addTimeout(seconds, reactor)


def sleep(seconds: float) -> "defer.Deferred[None]":
    """
    A pause for negative checks (nothing arrives within ``seconds``); never a substitute for waiting
    on an event that should come.
    """
    return deferLater(reactor, seconds, lambda: None)


def client_tls(router: RunningRouter, client_cert: bytes | None = None, hostname: str = TLS_HOSTNAME) -> Any:
    """
    Client TLS options trusting the router's certificate for ``hostname``, presenting
    ``client_cert`` (PEM certificate and key) if given.
    """
    if router.trust_root is None:
        raise ValueError("this router does not serve TLS")
    return optionsForClientTLS(
        hostname,
        trustRoot=Certificate.loadPEM(router.trust_root),
        clientCertificate=PrivateCertificate.loadPEM(client_cert) if client_cert else None,
    )


def client_factory(router: RunningRouter, transport: str, serializer: str, session_factory: Any,
                   tls: bool = False, client_cert: bytes | None = None) -> tuple[Any, Any]:
    """
    The client endpoint and Autobahn client factory for a transport kind and serializer, over TLS
    (see :func:`client_tls`) if ``tls``.
    """
    ser = SERIALIZERS[serializer]()
    if transport == "websocket":
        url = "{}://{}:{}/ws".format("wss" if tls else "ws", TLS_HOSTNAME if tls else "127.0.0.1", router.tcp_port)
        factory = WampWebSocketClientFactory(session_factory, url=url, serializers=[ser])
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", router.tcp_port)
    else:
        factory = WampRawSocketClientFactory(session_factory, serializer=ser)
        if transport == "rawsocket-tcp":
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", router.tcp_port)
        elif transport == "rawsocket-unix":
            endpoint = UNIXClientEndpoint(reactor, router.unix_path)
        else:
            raise ValueError(transport)
    if tls:
        endpoint = wrapClientTLS(client_tls(router, client_cert), endpoint)
    return endpoint, factory


@defer.inlineCallbacks
def connect(router: RunningRouter, transport: str = "websocket", serializer: str = "json",
            realm: str = "realm1", session_class: type = Client, tls: bool | None = None,
            client_cert: bytes | None = None) -> Any:
    """
    Connect a real Autobahn client over loopback and wait until it has joined ``realm``.

    :param tls: Connect with TLS; by default, exactly when the router serves TLS (``trust_root``).
    :param client_cert: A client certificate and its key (PEM) to present over TLS.
    """
    session = session_class(ComponentConfig(realm=realm))
    if tls is None:
        tls = router.trust_root is not None
    endpoint, factory = client_factory(router, transport, serializer, lambda: session, tls, client_cert)
    yield with_timeout(endpoint.connect(factory))
    yield with_timeout(session.joined)
    return session


class EventCounter:
    """
    An event handler recording each event's first argument (its number), with waiters that fire once
    a count is reached.
    """

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._waiters: list[tuple[int, defer.Deferred[None]]] = []

    def __call__(self, n: Any, *args: Any, **kwargs: Any) -> None:
        self.events.append(n)
        for target, d in list(self._waiters):
            if len(self.events) >= target:
                self._waiters.remove((target, d))
                d.callback(None)

    def reached(self, target: int) -> "defer.Deferred[None]":
        """
        Fires (bounded by :data:`TIMEOUT`) once ``target`` events have arrived.
        """
        if len(self.events) >= target:
            return defer.succeed(None)
        d: defer.Deferred[None] = defer.Deferred()
        self._waiters.append((target, d))
        return with_timeout(d)
