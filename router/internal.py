"""
The router as a WAMP caller: asks procedures registered by trusted components (dynamic
authentication and authorization) through the dealer, without a transport (sans-IO).
"""

from typing import TYPE_CHECKING, Any, Callable

from autobahn.wamp.message import Call, Error, Message, Result

from router.ids import SequentialIds
from router.peer import Peer
from router.replies import Deliveries

if TYPE_CHECKING:
    from router.core import Router

#: what an answer callback gets: whether the call succeeded, and the RESULT or ERROR
Answer = Callable[[bool, Any], Deliveries]


class InternalCaller:
    """
    One realm's internal caller session. Its answers arrive through :meth:`send` (it is the link of
    its own peer) and are passed to the callback given with each call; what the callback returns is
    emitted by the router.

    :param router: The router core (for ``emit`` and session ids).
    :param realm: The realm the procedures are called on.
    """

    def __init__(self, router: "Router", realm: str) -> None:
        self._router = router
        self._realm = realm
        self.peer = Peer(router.new_session_id(), realm, "wampd", "wampd", "internal", "wampd",
                         frozenset({("caller", "")}), link=self)
        self._requests = SequentialIds()
        self._answers: dict[int, Answer] = {}

    def call(self, procedure: str, args: list[Any], kwargs: dict[str, Any], answer: Answer) -> Deliveries:
        """
        Call ``procedure``; ``answer`` is called once with its RESULT or ERROR.
        """
        realm = self._router.realms.get(self._realm)
        if realm is None:
            return answer(False, Error(Call.MESSAGE_TYPE, 0, "wamp.error.no_such_realm"))
        request = self._requests.next()
        self._answers[request] = answer
        return realm.dealer.call(self.peer, Call(request, procedure, args=args, kwargs=kwargs))

    def send(self, msg: Message) -> None:
        """
        The link interface: a RESULT or ERROR for one of our calls.
        """
        if not isinstance(msg, (Result, Error)):
            return
        answer = self._answers.pop(msg.request, None)
        if answer is not None:
            self._router.emit(answer(isinstance(msg, Result), msg))
