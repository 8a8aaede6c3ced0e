"""
Payload passthru mode: ``ppt_*`` options travel from CALL, PUBLISH, YIELD and ERROR to the
INVOCATION, EVENT, RESULT and ERROR they become; the payload is never inspected (sans-IO).
"""

from typing import Any

from autobahn.wamp.message import Error, Event, Invocation, Result

from router.codec import options_of
from router.errors import ProtocolViolation
from router.peer import Peer

PPT_KEYS = ("ppt_scheme", "ppt_serializer", "ppt_cipher", "ppt_keyid")

#: role whose announcement a sender of each message type needs
_SENDER_ROLE = {"CALL": "caller", "PUBLISH": "publisher", "YIELD": "callee", "ERROR": "callee"}


def ppt_options(msg: Any, sender: Peer) -> dict[str, Any] | None:
    """
    The ``ppt_*`` options of a CALL, PUBLISH, YIELD or ERROR, or ``None`` when it does not use
    payload passthru mode.

    :raises ProtocolViolation: when the sender uses the mode without having announced it.
    """
    options = options_of(msg)
    if not options.get("ppt_scheme"):
        return None
    kind = type(msg).__name__.upper()
    if not sender.has_feature(_SENDER_ROLE[kind], "payload_passthru_mode"):
        raise ProtocolViolation("{} uses payload passthru mode, which the session did not announce".format(kind))
    return {key: options[key] for key in PPT_KEYS if key in options}


def _with_details(raw: list[Any], index: int, extra: dict[str, Any] | None) -> list[Any]:
    if extra:
        raw[index] = dict(raw[index], **extra)
    return raw


class PassthruEvent(Event):
    """
    EVENT whose details also carry ``_router_internal`` (the ``ppt_*`` attributes).
    """

    def marshal(self) -> list[Any]:
        return _with_details(Event.marshal(self), 3, self._router_internal)


class PassthruInvocation(Invocation):
    """
    INVOCATION whose details also carry ``_router_internal`` (``ppt_*``, chunk ``progress``).
    """

    def marshal(self) -> list[Any]:
        return _with_details(Invocation.marshal(self), 3, self._router_internal)


class PassthruResult(Result):
    """
    RESULT whose details also carry ``_router_internal`` (the ``ppt_*`` attributes).
    """

    def marshal(self) -> list[Any]:
        return _with_details(Result.marshal(self), 2, self._router_internal)


class PassthruError(Error):
    """
    ERROR whose details also carry ``_router_internal`` (the ``ppt_*`` attributes).
    """

    def marshal(self) -> list[Any]:
        return _with_details(Error.marshal(self), 3, self._router_internal)
