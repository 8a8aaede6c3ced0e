"""
The WAMP meta API of one realm (sans-IO): session, subscription and registration meta events,
the meta procedures describing and closing sessions, subscriptions and registrations, and
testaments.

Meta events are published by the router itself (``Broker.publish_internal``). Meta procedures are
answered here and never reach a callee: :meth:`MetaApi.call` binds the CALL's arguments to the
procedure's signature (a malformed call gets ERROR ``wamp.error.invalid_argument``) and answers
with RESULT or ERROR.
"""

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from autobahn.wamp.message import Call, Result

from router import uris
from router.ids import MAX_ID
from router.peer import Peer
from router.replies import Deliveries, error_for
from router.uri import MATCH_EXACT, MATCH_POLICIES, is_reserved, is_valid_uri

if TYPE_CHECKING:
    from router.broker import Subscription
    from router.dealer import Registration
    from router.realm import Realm

# Meta procedures. These names belong in router.uris with the meta event topics; they are kept here
# until that module lists them.
SESSION_COUNT = "wamp.session.count"
SESSION_LIST = "wamp.session.list"
SESSION_GET = "wamp.session.get"
SESSION_KILL = "wamp.session.kill"
SESSION_KILL_BY_AUTHID = "wamp.session.kill_by_authid"
SESSION_KILL_BY_AUTHROLE = "wamp.session.kill_by_authrole"
SESSION_KILL_ALL = "wamp.session.kill_all"
SESSION_ADD_TESTAMENT = "wamp.session.add_testament"
SESSION_FLUSH_TESTAMENTS = "wamp.session.flush_testaments"
SUBSCRIPTION_LIST = "wamp.subscription.list"
SUBSCRIPTION_LOOKUP = "wamp.subscription.lookup"
SUBSCRIPTION_MATCH = "wamp.subscription.match"
SUBSCRIPTION_GET = "wamp.subscription.get"
SUBSCRIPTION_LIST_SUBSCRIBERS = "wamp.subscription.list_subscribers"
SUBSCRIPTION_COUNT_SUBSCRIBERS = "wamp.subscription.count_subscribers"
SUBSCRIPTION_REMOVE_SUBSCRIBER = "wamp.subscription.remove_subscriber"
SUBSCRIPTION_GET_EVENTS = "wamp.subscription.get_events"
REGISTRATION_LIST = "wamp.registration.list"
REGISTRATION_LOOKUP = "wamp.registration.lookup"
REGISTRATION_MATCH = "wamp.registration.match"
REGISTRATION_GET = "wamp.registration.get"
REGISTRATION_LIST_CALLEES = "wamp.registration.list_callees"
REGISTRATION_COUNT_CALLEES = "wamp.registration.count_callees"
REGISTRATION_REMOVE_CALLEE = "wamp.registration.remove_callee"

#: testament scopes: published when the session is detached, and when it is destroyed (in this order)
SCOPE_DETACHED = "detached"
SCOPE_DESTROYED = "destroyed"
SCOPES = (SCOPE_DETACHED, SCOPE_DESTROYED)

#: PUBLISH options a testament honours; the others (acknowledge, exclude_me, ...) mean nothing here
_ID_FILTERS = ("exclude", "eligible")
_NAME_FILTERS = ("exclude_authid", "exclude_authrole", "eligible_authid", "eligible_authrole")

#: a handler's return value for procedures that return nothing (RESULT without arguments)
_NO_VALUE: Any = object()


class _Refused(Exception):
    """
    A meta call answered with ERROR ``uri`` (raised and caught inside this module only).
    """

    def __init__(self, uri: str, text: str) -> None:
        Exception.__init__(self, text)
        self.uri = uri
        self.text = text


def _invalid(text: str) -> _Refused:
    return _Refused(uris.INVALID_ARGUMENT, text)


# Argument checks: each takes the parameter's name and the value sent and returns the value to use,
# or raises _Refused.

def _id(name: str, value: Any) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise _invalid("{} must be an id (an integer in [1, 2^53])".format(name))
    return value


def _string(name: str, value: Any) -> str:
    if type(value) is not str:
        raise _invalid("{} must be a string".format(name))
    return value


def _uri(name: str, value: Any) -> str:
    """
    A URI the router will publish or close with: a string that is a valid URI (else ``invalid_uri``).
    """
    if type(value) is not str or not is_valid_uri(value, MATCH_EXACT):
        raise _Refused(uris.INVALID_URI, "{} must be a valid URI, not {!r}".format(name, value))
    return value


def _optional_uri(name: str, value: Any) -> str | None:
    return None if value is None else _uri(name, value)


def _optional_string(name: str, value: Any) -> str | None:
    return None if value is None else _string(name, value)


def _optional_strings(name: str, value: Any) -> list[str] | None:
    if value is None:
        return None
    if type(value) is not list or any(type(item) is not str for item in value):
        raise _invalid("{} must be a list of strings".format(name))
    return value


def _list(name: str, value: Any) -> list[Any]:
    if type(value) is not list:
        raise _invalid("{} must be a list".format(name))
    return value


def _dict(name: str, value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise _invalid("{} must be a dict".format(name))
    return value


def _options(name: str, value: Any) -> dict[str, Any]:
    return {} if value is None else _dict(name, value)


def _flag(name: str, value: Any) -> bool:
    if type(value) is not bool:
        raise _invalid("{} must be true or false".format(name))
    return value


def _optional_count(name: str, value: Any) -> int | None:
    if value is not None and (type(value) is not int or value < 0):
        raise _invalid("{} must be a non-negative integer".format(name))
    return value


def _scope(name: str, value: Any) -> str:
    if value not in SCOPES:
        raise _invalid("{} must be one of {}".format(name, ", ".join(SCOPES)))
    return value


def _match_option(options: dict[str, Any]) -> str:
    match = options.get("match", MATCH_EXACT)
    if match not in MATCH_POLICIES:
        raise _invalid("options.match must be one of {}".format(", ".join(MATCH_POLICIES)))
    return match


_Check = Callable[[str, Any], Any]
#: marks a parameter that has no default
_REQUIRED: Any = object()


class _Signature:
    """
    The arguments a meta procedure takes: positional parameters (required first, then optional
    ones), each ``(name, check, default)`` and also accepted by name as a keyword argument, and
    keyword-only parameters, each ``name=(check, default)``.
    """

    def __init__(self, *positional: tuple[str, _Check, Any], **keywords: tuple[_Check, Any]) -> None:
        self.positional = positional
        self.keywords = keywords

    def bind(self, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """
        The checked value of every parameter, by name.

        :raises _Refused: for missing, surplus, unknown or ill-typed arguments.
        """
        if len(args) > len(self.positional):
            raise _invalid("at most {} positional arguments expected, got {}".format(len(self.positional), len(args)))
        names = [name for name, _, _ in self.positional]
        unknown = sorted(str(name) for name in kwargs if name not in self.keywords and name not in names)
        if unknown:
            raise _invalid("unexpected keyword arguments: {}".format(", ".join(unknown)))
        values = {}
        for index, (name, check, default) in enumerate(self.positional):
            if index < len(args):
                if name in kwargs:
                    raise _invalid("argument {} given both by position and by name".format(name))
                values[name] = check(name, args[index])
            elif name in kwargs:
                values[name] = check(name, kwargs[name])
            elif default is _REQUIRED:
                raise _invalid("missing argument {}".format(name))
            else:
                values[name] = default
        for name, (check, default) in self.keywords.items():
            values[name] = check(name, kwargs[name]) if name in kwargs else default
        return values


_NO_ARGUMENTS = _Signature()
_SUBSCRIPTION_ID = _Signature(("subscription_id", _id, _REQUIRED))
_REGISTRATION_ID = _Signature(("registration_id", _id, _REQUIRED))
_ROLE_FILTER = _Signature(("filter_authroles", _optional_strings, None))
_KILL_OPTIONS = {"reason": (_optional_uri, None), "message": (_optional_string, None)}


class _Testament(NamedTuple):
    """
    An event to publish for a session when it goes, with the PUBLISH options it honours.
    """

    topic: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, list[Any]]


def _testament_options(publish_options: dict[str, Any]) -> dict[str, list[Any]]:
    """
    The black- and whitelisting options of a testament's ``publish_options``, checked.
    """
    options: dict[str, list[Any]] = {}
    for key in _ID_FILTERS + _NAME_FILTERS:
        value = publish_options.get(key)
        if value is None:
            continue
        item_check = _id if key in _ID_FILTERS else _string
        options[key] = [item_check("publish_options." + key, item) for item in _list("publish_options." + key, value)]
    return options


def _admits(peer: Peer, options: dict[str, list[Any]]) -> bool:
    """
    Whether a receiver passes a testament's authid and authrole filters.
    """
    return not (
        peer.authid in options.get("exclude_authid", ())
        or peer.authrole in options.get("exclude_authrole", ())
        or ("eligible_authid" in options and peer.authid not in options["eligible_authid"])
        or ("eligible_authrole" in options and peer.authrole not in options["eligible_authrole"])
    )


def _by_policy(items: Any) -> dict[str, list[int]]:
    lists: dict[str, list[int]] = {policy: [] for policy in MATCH_POLICIES}
    for item in items:
        lists[item.match].append(item.id)
    return lists


class MetaApi:
    """
    Meta events and procedures for one realm.

    :param realm: The realm it describes.
    """

    def __init__(self, realm: "Realm") -> None:
        self._realm = realm
        #: session id -> scope -> testaments, in the order they were added
        self._testaments: dict[int, dict[str, list[_Testament]]] = {}
        #: set while ``kill_all`` runs: the sessions it closes leave without meta or testament events
        self._quiet = False
        self._procedures: dict[str, tuple[_Signature, Callable[..., Any]]] = {
            SESSION_COUNT: (_ROLE_FILTER, self._session_count),
            SESSION_LIST: (_ROLE_FILTER, self._session_list),
            SESSION_GET: (_Signature(("session_id", _id, _REQUIRED)), self._session_get),
            SESSION_KILL: (_Signature(("session_id", _id, _REQUIRED), **_KILL_OPTIONS), self._kill),
            SESSION_KILL_BY_AUTHID: (_Signature(("authid", _string, _REQUIRED), **_KILL_OPTIONS),
                                     self._kill_by_authid),
            SESSION_KILL_BY_AUTHROLE: (_Signature(("authrole", _string, _REQUIRED), **_KILL_OPTIONS),
                                       self._kill_by_authrole),
            SESSION_KILL_ALL: (_Signature(**_KILL_OPTIONS), self._kill_all),
            SESSION_ADD_TESTAMENT: (_Signature(("topic", _uri, _REQUIRED), ("args", _list, _REQUIRED),
                                               ("kwargs", _dict, _REQUIRED), publish_options=(_options, {}),
                                               scope=(_scope, SCOPE_DESTROYED)), self._add_testament),
            SESSION_FLUSH_TESTAMENTS: (_Signature(scope=(_scope, SCOPE_DESTROYED)), self._flush_testaments),
            SUBSCRIPTION_LIST: (_NO_ARGUMENTS, self._subscription_list),
            SUBSCRIPTION_LOOKUP: (_Signature(("topic", _string, _REQUIRED), ("options", _options, {})),
                                  self._subscription_lookup),
            SUBSCRIPTION_MATCH: (_Signature(("topic", _string, _REQUIRED)), self._subscription_match),
            SUBSCRIPTION_GET: (_SUBSCRIPTION_ID, self._subscription_get),
            SUBSCRIPTION_LIST_SUBSCRIBERS: (_SUBSCRIPTION_ID, self._list_subscribers),
            SUBSCRIPTION_COUNT_SUBSCRIBERS: (_SUBSCRIPTION_ID, self._count_subscribers),
            SUBSCRIPTION_REMOVE_SUBSCRIBER: (_Signature(("subscription_id", _id, _REQUIRED),
                                                        ("session_id", _id, _REQUIRED),
                                                        reason=(_optional_uri, None)), self._remove_subscriber),
            SUBSCRIPTION_GET_EVENTS: (_Signature(("subscription_id", _id, _REQUIRED),
                                                 ("limit", _optional_count, None),
                                                 reverse=(_flag, False), from_time=(_optional_string, None),
                                                 after_time=(_optional_string, None),
                                                 before_time=(_optional_string, None)), self._get_events),
            REGISTRATION_LIST: (_NO_ARGUMENTS, self._registration_list),
            REGISTRATION_LOOKUP: (_Signature(("procedure", _string, _REQUIRED), ("options", _options, {})),
                                  self._registration_lookup),
            REGISTRATION_MATCH: (_Signature(("procedure", _string, _REQUIRED)), self._registration_match),
            REGISTRATION_GET: (_REGISTRATION_ID, self._registration_get),
            REGISTRATION_LIST_CALLEES: (_REGISTRATION_ID, self._list_callees),
            REGISTRATION_COUNT_CALLEES: (_REGISTRATION_ID, self._count_callees),
            REGISTRATION_REMOVE_CALLEE: (_Signature(("registration_id", _id, _REQUIRED),
                                                    ("session_id", _id, _REQUIRED),
                                                    reason=(_optional_uri, None)), self._remove_callee),
        }

    def provides(self, procedure: str) -> bool:
        """
        Tell whether ``procedure`` is a meta procedure the router answers itself.
        """
        return procedure in self._procedures

    def call(self, peer: Peer, msg: Call) -> Deliveries:
        """
        Answer a CALL to a meta procedure with RESULT or ERROR, after the deliveries the procedure
        causes (a kill's GOODBYE and meta events, a revocation).
        """
        signature, handler = self._procedures[msg.procedure]
        out: Deliveries = []
        try:
            if msg.payload is not None:
                raise _invalid("meta procedures take plain arguments, not a transparent payload")
            values = signature.bind(msg.args or [], msg.kwargs or {})
            value = handler(peer, out, **values)
        except _Refused as refused:
            return out + [(peer, error_for(msg, refused.uri, refused.text))]
        out.append((peer, Result(msg.request) if value is _NO_VALUE else Result(msg.request, args=[value])))
        return out

    # meta events

    def joined(self, peer: Peer) -> Deliveries:
        """
        A session joined: ``wamp.session.on_join`` with its details.
        """
        return self._realm.broker.publish_internal(uris.SESSION_ON_JOIN, [peer.details()])

    def leaving(self, peer: Peer) -> Deliveries:
        """
        A session is leaving, its subscriptions still in place: its testaments are published,
        ``detached`` scope first, to everyone but itself.
        """
        testaments = self._testaments.pop(peer.session_id, {})
        if self._quiet:
            return []
        out: Deliveries = []
        for scope in SCOPES:
            for testament in testaments.get(scope, ()):
                out += self._publish_testament(peer, testament)
        return out

    def left(self, peer: Peer) -> Deliveries:
        """
        A session has left: ``wamp.session.on_leave`` with its id, authid and authrole.
        """
        if self._quiet:
            return []
        return self._realm.broker.publish_internal(uris.SESSION_ON_LEAVE, [peer.session_id, peer.authid, peer.authrole],
                                                   exclude=[peer.session_id])

    def observe(self) -> Deliveries:
        """
        Publish the meta events for the subscription and registration changes recorded in
        ``realm.observations`` (and clear it), in the order they happened.
        """
        observations = list(self._realm.observations)
        self._realm.observations.clear()
        out: Deliveries = []
        for topic, peer, item in observations:
            created = topic in (uris.SUBSCRIPTION_ON_CREATE, uris.REGISTRATION_ON_CREATE)
            args = [peer.session_id, item.details() if created else item.id]
            out += self._realm.broker.publish_internal(topic, args)
        return out

    # wamp.session.*

    def _session_count(self, caller: Peer, out: Deliveries, filter_authroles: list[str] | None) -> int:
        return len(self._sessions(filter_authroles))

    def _session_list(self, caller: Peer, out: Deliveries, filter_authroles: list[str] | None) -> list[int]:
        return [peer.session_id for peer in self._sessions(filter_authroles)]

    def _session_get(self, caller: Peer, out: Deliveries, session_id: int) -> dict[str, Any]:
        return self._session(session_id).details()

    def _kill(self, caller: Peer, out: Deliveries, session_id: int, reason: str | None, message: str | None) -> Any:
        if session_id == caller.session_id:
            raise _Refused(uris.NO_SUCH_SESSION, "a session cannot kill itself: no other session {}".format(session_id))
        self._close([self._session(session_id)], reason, message, out)
        return _NO_VALUE

    def _kill_by_authid(self, caller: Peer, out: Deliveries, authid: str, reason: str | None,
                        message: str | None) -> int:
        targets = [peer for peer in self._others(caller) if peer.authid == authid]
        return self._close(targets, reason, message, out)

    def _kill_by_authrole(self, caller: Peer, out: Deliveries, authrole: str, reason: str | None,
                          message: str | None) -> int:
        targets = [peer for peer in self._others(caller) if peer.authrole == authrole]
        return self._close(targets, reason, message, out)

    def _kill_all(self, caller: Peer, out: Deliveries, reason: str | None, message: str | None) -> int:
        self._quiet = True
        try:
            return self._close(self._others(caller), reason, message, out)
        finally:
            self._quiet = False

    def _sessions(self, authroles: list[str] | None) -> list[Peer]:
        return [peer for peer in self._realm.peers.values() if authroles is None or peer.authrole in authroles]

    def _session(self, session_id: int) -> Peer:
        peer = self._realm.peers.get(session_id)
        if peer is None:
            raise _Refused(uris.NO_SUCH_SESSION, "no session {} on this realm".format(session_id))
        return peer

    def _others(self, caller: Peer) -> list[Peer]:
        return [peer for peer in self._realm.peers.values() if peer is not caller]

    def _close(self, targets: list[Peer], reason: str | None, message: str | None, out: Deliveries) -> int:
        """
        Close each target session with GOODBYE (``wamp.close.normal`` unless ``reason``); returns
        how many were closed.
        """
        closed = 0
        for peer in targets:
            if peer.session_id not in self._realm.peers:
                continue
            out += peer.machine.goodbye(reason or uris.CLOSE_NORMAL, message)
            closed += peer.session_id not in self._realm.peers
        return closed

    # testaments

    def _add_testament(self, caller: Peer, out: Deliveries, topic: str, args: list[Any], kwargs: dict[str, Any],
                       publish_options: dict[str, Any], scope: str) -> Any:
        if is_reserved(topic):
            raise _Refused(uris.INVALID_URI, "testament topic {!r} lies in the reserved wamp. namespace".format(topic))
        if not self._realm.authorizer.permission(caller.authrole, topic).publish:
            # the router publishes the testament for the session: only where the session may publish
            raise _Refused(uris.NOT_AUTHORIZED, "publish on {!r} is not authorized for role {!r}".format(
                topic, caller.authrole))
        testament = _Testament(topic, args, kwargs, _testament_options(publish_options))
        self._testaments.setdefault(caller.session_id, {}).setdefault(scope, []).append(testament)
        return _NO_VALUE

    def _flush_testaments(self, caller: Peer, out: Deliveries, scope: str) -> Any:
        self._testaments.get(caller.session_id, {}).pop(scope, None)
        return _NO_VALUE

    def _publish_testament(self, peer: Peer, testament: _Testament) -> Deliveries:
        options = testament.options
        eligible = options.get("eligible")
        if any(key in options for key in _NAME_FILTERS):
            admitted = [other.session_id for other in self._realm.peers.values() if _admits(other, options)]
            eligible = admitted if eligible is None else [sid for sid in admitted if sid in eligible]
        exclude = [peer.session_id] + options.get("exclude", [])
        return self._realm.broker.publish_internal(testament.topic, testament.args, testament.kwargs,
                                                   eligible=eligible, exclude=exclude)

    # wamp.subscription.*

    def _subscription_list(self, caller: Peer, out: Deliveries) -> dict[str, list[int]]:
        return _by_policy(self._realm.broker.subscriptions())

    def _subscription_lookup(self, caller: Peer, out: Deliveries, topic: str, options: dict[str, Any]) -> int | None:
        subscription = self._realm.broker.lookup(topic, _match_option(options))
        return None if subscription is None else subscription.id

    def _subscription_match(self, caller: Peer, out: Deliveries, topic: str) -> list[int] | None:
        return [subscription.id for subscription in self._realm.broker.matching(topic)] or None

    def _subscription_get(self, caller: Peer, out: Deliveries, subscription_id: int) -> dict[str, Any]:
        return self._subscription(subscription_id).details()

    def _list_subscribers(self, caller: Peer, out: Deliveries, subscription_id: int) -> list[int]:
        return [peer.session_id for peer in self._subscription(subscription_id).subscribers]

    def _count_subscribers(self, caller: Peer, out: Deliveries, subscription_id: int) -> int:
        return len(self._subscription(subscription_id).subscribers)

    def _remove_subscriber(self, caller: Peer, out: Deliveries, subscription_id: int, session_id: int,
                           reason: str | None) -> Any:
        subscription = self._subscription(subscription_id)
        peer = self._session(session_id)
        if peer not in subscription.subscribers:
            raise _Refused(uris.NO_SUCH_SUBSCRIPTION,
                           "session {} is not subscribed to subscription {}".format(session_id, subscription_id))
        out += self._realm.broker.remove_subscriber(peer, subscription_id, reason)
        return _NO_VALUE

    def _get_events(self, caller: Peer, out: Deliveries, subscription_id: int, limit: int | None, reverse: bool,
                    from_time: str | None, after_time: str | None, before_time: str | None) -> list[dict[str, Any]]:
        subscription = self._subscription(subscription_id)
        try:
            return self._realm.broker.events(subscription, limit=limit, reverse=reverse, from_time=from_time,
                                             after_time=after_time, before_time=before_time, reader=caller)
        except ValueError as e:
            raise _invalid("time bounds must be ISO 8601 strings ({})".format(e)) from None

    def _subscription(self, subscription_id: int) -> "Subscription":
        subscription = self._realm.broker.subscription(subscription_id)
        if subscription is None:
            raise _Refused(uris.NO_SUCH_SUBSCRIPTION, "no subscription {}".format(subscription_id))
        return subscription

    # wamp.registration.*

    def _registration_list(self, caller: Peer, out: Deliveries) -> dict[str, list[int]]:
        return _by_policy(self._realm.dealer.registrations())

    def _registration_lookup(self, caller: Peer, out: Deliveries, procedure: str,
                             options: dict[str, Any]) -> int | None:
        registration = self._realm.dealer.lookup(procedure, _match_option(options))
        return None if registration is None else registration.id

    def _registration_match(self, caller: Peer, out: Deliveries, procedure: str) -> int | None:
        registration = self._realm.dealer.best(procedure)
        return None if registration is None else registration.id

    def _registration_get(self, caller: Peer, out: Deliveries, registration_id: int) -> dict[str, Any]:
        return self._registration(registration_id).details()

    def _list_callees(self, caller: Peer, out: Deliveries, registration_id: int) -> list[int]:
        return [peer.session_id for peer in self._registration(registration_id).callees]

    def _count_callees(self, caller: Peer, out: Deliveries, registration_id: int) -> int:
        return len(self._registration(registration_id).callees)

    def _remove_callee(self, caller: Peer, out: Deliveries, registration_id: int, session_id: int,
                       reason: str | None) -> Any:
        registration = self._registration(registration_id)
        peer = self._session(session_id)
        if peer not in registration.callees:
            raise _Refused(uris.NO_SUCH_REGISTRATION,
                           "session {} is not a callee of registration {}".format(session_id, registration_id))
        out += self._realm.dealer.remove_callee(peer, registration_id, reason)
        return _NO_VALUE

    def _registration(self, registration_id: int) -> "Registration":
        registration = self._realm.dealer.registration(registration_id)
        if registration is None:
            raise _Refused(uris.NO_SUCH_REGISTRATION, "no registration {}".format(registration_id))
        return registration


__all__ = ["MetaApi", "SCOPES", "SCOPE_DESTROYED", "SCOPE_DETACHED"]
