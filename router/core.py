"""
The router core: the realms and the id sources they share (sans-IO).
"""

from dataclasses import dataclass, field
from typing import Any, Callable

from router.authorizer import Permission
from router.broker import HistoryRule
from router.ids import SequentialIds, random_id
from router.realm import Realm
from router.replies import Deliveries

#: the agent string announced in WELCOME
AGENT = "wampd-0.1"


@dataclass(frozen=True)
class RealmOptions:
    """
    Per-realm routing options.
    """

    #: apply the strict URI rule (components of ``[0-9a-z_]`` only)
    strict_uri: bool = False
    #: topics that keep an event history for ``wamp.subscription.get_events``
    history: tuple[HistoryRule, ...] = ()
    #: disclose every publisher to subscribers, whether or not it asked
    disclose_publisher: bool = False
    #: disclose every caller to callees, whether or not it asked
    disclose_caller: bool = False
    #: role -> permissions; ``None`` lets every session do everything
    roles: dict[str, tuple[Permission, ...]] | None = None


@dataclass(frozen=True)
class RouterOptions:
    """
    Options of the routing core.
    """

    #: realm name -> its options
    realms: dict[str, RealmOptions] = field(default_factory=lambda: {"realm1": RealmOptions()})
    #: create an unknown realm on first use instead of refusing it
    auto_create_realms: bool = False


class Router:
    """
    Realms and global state of one router process.

    :param options: What realms exist and how unknown ones are treated.
    :param clock: ``seconds()`` and ``callLater()`` (an ``IReactorTime``; ``task.Clock`` in tests).
    """

    def __init__(self, options: RouterOptions | None = None, clock: Any = None) -> None:
        self.options = options or RouterOptions()
        self.clock = clock
        #: where deliveries go that arise outside of a received message (timers); the transport
        #: layer sets it
        self.emit: Callable[[Deliveries], None] = self._unconnected
        self._internal: dict[str, Any] = {}
        self._subscription_ids = SequentialIds()
        self._registration_ids = SequentialIds()
        self.realms: dict[str, Realm] = {}
        #: session id -> realm name, for every session established on any realm
        self.sessions: dict[int, str] = {}
        for name, realm_options in self.options.realms.items():
            self._add_realm(name, realm_options)

    def realm(self, name: str) -> Realm | None:
        """
        The realm called ``name``, created on first use if the router is configured so.
        """
        realm = self.realms.get(name)
        if realm is None and self.options.auto_create_realms:
            realm = self._add_realm(name, RealmOptions())
        return realm

    def new_session_id(self) -> int:
        """
        A random global-scope session id not in use on this router.
        """
        while True:
            session_id = random_id()
            if session_id not in self.sessions:
                return session_id

    def ask(self, realm: str, procedure: str, args: list[Any], kwargs: dict[str, Any],
            answer: "Callable[[bool, Any], Deliveries]") -> Deliveries:
        """
        Call ``procedure`` on ``realm`` as the router itself; ``answer(ok, message)`` runs when the
        RESULT or ERROR arrives, and what it returns is emitted.
        """
        from router.internal import InternalCaller

        caller = self._internal.get(realm)
        if caller is None:
            caller = self._internal[realm] = InternalCaller(self, realm)
        return caller.call(procedure, args, kwargs, answer)

    def _unconnected(self, deliveries: Deliveries) -> None:
        raise RuntimeError("Router.emit was not connected to a transport layer")

    def _add_realm(self, name: str, options: RealmOptions) -> Realm:
        realm = Realm(name, self._subscription_ids, self._registration_ids, strict_uri=options.strict_uri,
                      clock=self.clock, emit=lambda deliveries: self.emit(deliveries), history=options.history,
                      disclose_publisher=options.disclose_publisher, disclose_caller=options.disclose_caller,
                      roles=options.roles, ask=self.ask)
        self.realms[name] = realm
        return realm
