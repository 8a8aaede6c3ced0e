"""
The router core: the realms and the id sources they share (sans-IO).
"""

from dataclasses import dataclass, field

from router.ids import SequentialIds, random_id
from router.realm import Realm

#: the agent string announced in WELCOME
AGENT = "wampd-0.1"


@dataclass(frozen=True)
class RealmOptions:
    """
    Per-realm routing options.
    """

    #: apply the strict URI rule (components of ``[0-9a-z_]`` only)
    strict_uri: bool = False


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
    """

    def __init__(self, options: RouterOptions | None = None) -> None:
        self.options = options or RouterOptions()
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

    def _add_realm(self, name: str, options: RealmOptions) -> Realm:
        realm = Realm(name, self._subscription_ids, self._registration_ids, strict_uri=options.strict_uri)
        self.realms[name] = realm
        return realm
