"""
The chat room: messages by pub/sub, presence from the router's session meta events, and recent
history for late joiners.

- Messages: clients publish on ``com.example.chat.message`` with keyword arguments ``nick`` and
  ``text`` (and ``exclude_me=False`` to see their own). The room keeps the last ``history``
  messages, each as ``{"id": publication id, "nick", "text", "time"}``.
- ``com.example.chat.join(nick)`` -> ``{"session", "members", "history"}``: enter the room (or
  change nick). The room must learn the caller's session id: the router discloses it when the
  caller asks (``disclose_me``, as the web client does) or when it is configured to (wampd's realm
  option ``disclose_caller``); otherwise the error ``com.example.chat.error.caller_not_disclosed``.
  A nick is 1 to 32 characters and unique in the room (``com.example.chat.error.invalid_nick``,
  ``com.example.chat.error.nick_taken``).
- ``com.example.chat.leave()``: leave the room. A member whose session ends leaves too: the room
  watches the router's ``wamp.session.on_leave`` meta event.
- ``com.example.chat.history()`` -> the recent messages, oldest first (for readers who don't join).
- Presence: ``com.example.chat.presence`` carries ``members``, a list of ``{"session", "nick"}``
  sorted by nick, published retained whenever it changes (subscribe with ``get_retained``).

Clients subscribe before they join and drop history entries whose ``id`` they already received as
an event's publication id.

Settings (``extra``): ``history``, the number of messages kept (default 50).

Run on its own: ``python -m components.chat --url ws://127.0.0.1:8080/ws --realm realm1``.
"""

from collections import deque
from datetime import datetime, timezone
from typing import Any

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, PublishOptions, RegisterOptions, SubscribeOptions

from components.base import SampleSession
from components.runner import run

JOIN = "com.example.chat.join"
LEAVE = "com.example.chat.leave"
HISTORY = "com.example.chat.history"
MESSAGE = "com.example.chat.message"
PRESENCE = "com.example.chat.presence"

INVALID_NICK = "com.example.chat.error.invalid_nick"
NICK_TAKEN = "com.example.chat.error.nick_taken"
CALLER_NOT_DISCLOSED = "com.example.chat.error.caller_not_disclosed"

#: the router's meta event for a session that left the realm (argument 0: its session id)
SESSION_ON_LEAVE = "wamp.session.on_leave"

MAX_NICK = 32
MAX_TEXT = 1000


def _valid_text(value: Any, longest: int) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) and len(value) <= longest


class ChatRoom(SampleSession):
    """
    A chat room on com.example.chat.*: keeps recent messages and who is present.
    """

    def __init__(self, config: ComponentConfig | None = None, reactor: Any = None) -> None:
        SampleSession.__init__(self, config, reactor)
        #: the recent messages, oldest first
        self.history: deque[dict[str, Any]] = deque(maxlen=self.setting("history", 50, int, lambda v: 1 <= v <= 10_000))
        #: session id -> nick of everyone in the room
        self.members: dict[int, str] = {}

    async def onJoin(self, details: Any) -> None:
        # watch leaves before anyone can join, so no member can be missed
        await self.subscribe(self._session_left, SESSION_ON_LEAVE)
        await self.subscribe(self._message, MESSAGE, options=SubscribeOptions(details=True))
        await self.register(self.join_room, JOIN, options=RegisterOptions(details=True))
        await self.register(self.leave_room, LEAVE, options=RegisterOptions(details=True))
        await self.register(self.recent, HISTORY)
        self._publish_presence()
        self.log.info("Chat room ready on {prefix}*", prefix=JOIN.rpartition(".")[0] + ".")

    def join_room(self, nick: Any, details: Any = None) -> dict[str, Any]:
        """
        Enter the room as ``nick`` (or rename); returns this session's id, the members and the history.
        """
        session = getattr(details, "caller", None)
        if session is None:
            raise ApplicationError(CALLER_NOT_DISCLOSED, "the router did not disclose the caller: "
                                   "call with disclose_me, or configure the realm to disclose callers")
        if not _valid_text(nick, MAX_NICK):
            raise ApplicationError(INVALID_NICK, "a nick is 1 to {} characters".format(MAX_NICK))
        nick = nick.strip()
        for other, taken in self.members.items():
            if other != session and taken.casefold() == nick.casefold():
                raise ApplicationError(NICK_TAKEN, "{!r} is already in the room".format(nick))
        self.members[session] = nick
        self._publish_presence()
        return {"session": session, "members": self.member_list(), "history": self.recent()}

    def leave_room(self, details: Any = None) -> None:
        """
        Leave the room (nothing happens for a caller who is not in it).
        """
        if self.members.pop(getattr(details, "caller", None), None) is not None:
            self._publish_presence()

    def recent(self) -> list[dict[str, Any]]:
        """
        The recent messages, oldest first.
        """
        return list(self.history)

    def member_list(self) -> list[dict[str, Any]]:
        """
        Everyone in the room as ``{"session", "nick"}``, sorted by nick.
        """
        ordered = sorted(self.members.items(), key=lambda member: (member[1].casefold(), member[0]))
        return [{"session": session, "nick": nick} for session, nick in ordered]

    def _message(self, *args: Any, details: Any = None, nick: Any = None, text: Any = None, **kwargs: Any) -> None:
        if not (_valid_text(nick, MAX_NICK) and _valid_text(text, MAX_TEXT)):
            return
        time = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.history.append({"id": details.publication, "nick": nick, "text": text, "time": time})

    def _session_left(self, session: Any = None, *args: Any, **kwargs: Any) -> None:
        if self.members.pop(session, None) is not None:
            self._publish_presence()

    def _publish_presence(self) -> None:
        self.publish(PRESENCE, members=self.member_list(), options=PublishOptions(retain=True))


if __name__ == "__main__":
    run(ChatRoom)
