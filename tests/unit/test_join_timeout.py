"""
The WAMP opening-handshake deadline: a connection that does not establish a session is closed.
"""

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.types import ComponentConfig

from router.auth.ticket import TicketMethod, TicketPrincipal
from router.testing import MemoryRouter
from router.transport.options import DEFAULT_JOIN_TIMEOUT


class Silent:
    """
    A client handler that opens a connection and never says HELLO.
    """

    def __init__(self):
        self.received = []
        self.closed = False

    def onOpen(self, transport):
        self.transport = transport

    def onMessage(self, msg):
        self.received.append(msg)

    def onClose(self, was_clean):
        self.closed = True


class Stalling(ApplicationSession):
    """
    A client that asks for ticket authentication and never answers the challenge.
    """

    def onConnect(self):
        self.join("realm1", authmethods=["ticket"], authid="joe")

    def onChallenge(self, challenge):
        from twisted.internet.defer import Deferred

        return Deferred()  # never answers

    def onLeave(self, details):
        self.reason = details.reason
        ApplicationSession.onLeave(self, details)


def test_silent_connection_is_aborted_after_the_deadline():
    """A connection without HELLO gets ABORT wamp.error.timeout when the deadline passes, not before."""
    router = MemoryRouter()
    client = Silent()
    router.connect(client)
    router.clock.advance(DEFAULT_JOIN_TIMEOUT - 0.5)
    assert client.received == [] and not client.closed
    router.clock.advance(1)
    (abort,) = client.received
    assert abort.reason == "wamp.error.timeout"
    assert client.closed


def test_unanswered_challenge_times_out():
    """A client that never answers its CHALLENGE is refused when the deadline passes."""
    router = MemoryRouter()
    methods = {"ticket": TicketMethod({"joe": TicketPrincipal("s3cret", "user")})}
    session = router.join(Stalling(ComponentConfig(realm="realm1")), methods=methods)
    router.clock.advance(DEFAULT_JOIN_TIMEOUT + 1)
    assert session.reason == "wamp.error.timeout"


def test_joined_session_is_not_affected():
    """A session that joined in time stays open after the deadline."""
    router = MemoryRouter()
    session = router.join()
    router.clock.advance(DEFAULT_JOIN_TIMEOUT * 3)
    assert session.is_attached()
