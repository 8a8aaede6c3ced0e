"""
What the sample components share: settings read from ``config.extra`` and quiet expected errors.
"""

from typing import Any

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CloseDetails, ComponentConfig
from twisted.logger import Logger

#: the router's answer to a GOODBYE
GOODBYE_AND_OUT = "wamp.close.goodbye_and_out"


class SampleSession(ApplicationSession):
    """
    An ``ApplicationSession`` with typed settings from ``config.extra`` and an injectable reactor.

    An :class:`~autobahn.wamp.exception.ApplicationError` raised by a procedure is part of its API
    (the caller gets the error URI), so it is logged at debug level, not as a failure; and the
    router's answer to a GOODBYE this session sent (``wamp.close.goodbye_and_out``) is a normal
    leave, not a warning.

    :param config: The realm and the settings (``extra``, a dict or ``None``).
    :param reactor: For timers (the global reactor if not given); tests pass a ``task.Clock``.
    """

    log = Logger()

    def __init__(self, config: ComponentConfig | None = None, reactor: Any = None) -> None:
        ApplicationSession.__init__(self, config)
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor

    def setting(self, name: str, default: Any, kind: type | tuple[type, ...], check: Any = None) -> Any:
        """
        The setting ``name`` from ``config.extra``, or ``default``.

        :param kind: The type(s) the value must have (``bool`` never passes for a number).
        :param check: A predicate the value must satisfy, e.g. ``lambda v: v > 0``.
        :raises ValueError: naming the setting, when the value has the wrong type or fails ``check``.
        """
        extra = self.config.extra or {}
        value = extra.get(name, default)
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _types(kind)):
            raise ValueError("{}: setting {!r} has the wrong type: {!r}".format(type(self).__name__, name, value))
        if check is not None and not check(value):
            raise ValueError("{}: setting {!r} is out of range: {!r}".format(type(self).__name__, name, value))
        return value

    def onLeave(self, details: CloseDetails) -> Any:
        if details.reason == GOODBYE_AND_OUT and self._goodbye_sent:
            details = CloseDetails(CloseDetails.REASON_DEFAULT, details.message)
        return ApplicationSession.onLeave(self, details)

    def onUserError(self, fail: Any, msg: str) -> None:
        if isinstance(getattr(fail, "value", None), ApplicationError):
            self.log.debug("{klass} answered with {error}", klass=type(self).__name__, error=fail.value.error)
            return
        ApplicationSession.onUserError(self, fail, msg)


def _types(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
