"""
The WAMP meta API of one realm: session, subscription and registration meta events and
procedures, and testaments (sans-IO).
"""

from typing import TYPE_CHECKING, Any

from autobahn.wamp.message import Call

from router.peer import Peer
from router.replies import Deliveries

if TYPE_CHECKING:
    from router.realm import Realm


class MetaApi:
    """
    Meta events and procedures for one realm.

    :param realm: The realm it describes.
    """

    def __init__(self, realm: "Realm") -> None:
        self._realm = realm

    def provides(self, procedure: str) -> bool:
        """
        Tell whether ``procedure`` is a meta procedure the router answers itself.
        """
        return False

    def call(self, peer: Peer, msg: Call) -> Deliveries:
        """
        Answer a CALL to a meta procedure with RESULT or ERROR.
        """
        return []

    def joined(self, peer: Peer) -> Deliveries:
        """
        A session joined: ``wamp.session.on_join``.
        """
        return []

    def leaving(self, peer: Peer) -> Deliveries:
        """
        A session is leaving, its subscriptions still in place: its testaments are published.
        """
        return []

    def left(self, peer: Peer) -> Deliveries:
        """
        A session has left: ``wamp.session.on_leave``.
        """
        return []

    def observe(self) -> Deliveries:
        """
        Publish the meta events for the subscription and registration changes recorded in
        ``realm.observations`` (and clear it).
        """
        self._realm.observations.clear()
        return []


_: Any = None
