"""
A joined WAMP session as the routing core sees it.
"""

from typing import Any

from router.ids import SequentialIds


class Peer:
    """
    One WAMP session on a realm: identity, announced roles, and the indexes that make leaving cheap.

    The routing core addresses its output to peers. ``link`` is opaque to the core: the transport
    layer (or, later, a cluster backplane) stores whatever it needs there to reach the peer.

    :param session_id: The session's global-scope id.
    :param realm: The realm name.
    :param authid: Authenticated identity.
    :param authrole: Role the session acts in.
    :param authmethod: How it authenticated.
    :param authprovider: Who authenticated it.
    :param roles: ``(role, feature)`` pairs announced true in HELLO (``(role, "")`` for each role).
    :param link: How the transport layer reaches this session.
    """

    __slots__ = (
        "session_id",
        "realm",
        "authid",
        "authrole",
        "authmethod",
        "authprovider",
        "roles",
        "transport_info",
        "link",
        "machine",
        "gone",
        "request_ids",
        "subscriptions",
        "registrations",
        "invocations",
        "calls",
        "permissions",
        "held",
    )

    def __init__(
        self,
        session_id: int,
        realm: str,
        authid: str,
        authrole: str,
        authmethod: str,
        authprovider: str,
        roles: frozenset[tuple[str, str]],
        link: Any = None,
        transport_info: dict[str, Any] | None = None,
    ) -> None:
        self.session_id = session_id
        self.realm = realm
        self.authid = authid
        self.authrole = authrole
        self.authmethod = authmethod
        self.authprovider = authprovider
        self.roles = roles
        self.link = link
        #: the session machine that runs this session (set by it), so the router can close it
        self.machine: Any = None
        self.transport_info = transport_info or {}
        #: set once the session has left its realm; nothing more is delivered to it
        self.gone = False
        #: session-scope ids for requests the router sends to this peer (INVOCATION, INTERRUPT)
        self.request_ids = SequentialIds()
        #: ids of the subscriptions this peer holds
        self.subscriptions: set[int] = set()
        #: ids of the registrations this peer holds
        self.registrations: set[int] = set()
        #: invocation request id -> pending call, for calls this peer is serving
        self.invocations: dict[int, Any] = {}
        #: call request id -> pending call, for calls this peer made
        self.calls: dict[int, Any] = {}
        #: (uri, action) -> permission a dynamic authorizer allowed to cache for this session
        self.permissions: dict[tuple[str, str], Any] = {}
        #: messages waiting behind a dynamic authorization question (``None`` when none is out)
        self.held: list[Any] | None = None

    def details(self) -> dict[str, Any]:
        """
        The session as the meta API describes it (``wamp.session.get``, ``on_join``).
        """
        return {
            "session": self.session_id,
            "authid": self.authid,
            "authrole": self.authrole,
            "authmethod": self.authmethod,
            "authprovider": self.authprovider,
            # the TLS channel id and client certificate are for authentication, not for other sessions
            "transport": {k: v for k, v in self.transport_info.items() if k not in ("channel_id", "peer_cert")},
        }

    def has_feature(self, role: str, feature: str) -> bool:
        """
        Tell whether the peer announced ``feature`` for ``role`` in its HELLO.
        """
        return (role, feature) in self.roles

    def __repr__(self) -> str:
        return "<Peer {} {}/{}>".format(self.session_id, self.authid, self.authrole)
