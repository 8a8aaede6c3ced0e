"""
WAMP identifiers in the spec's three scopes.

* global scope (sessions, publications): random, uniformly drawn from [1, 2^53];
* router scope (subscriptions, registrations): :class:`SequentialIds` shared per router;
* session scope (request ids the router sends, e.g. INVOCATION): :class:`SequentialIds` per session.
"""

import random

#: The largest WAMP id (2^53), the largest integer every serializer carries exactly.
MAX_ID = 2**53

_random = random.SystemRandom()


def random_id() -> int:
    """
    Draw a global-scope id uniformly from [1, 2^53].
    """
    return _random.randint(1, MAX_ID)


class SequentialIds:
    """
    Ids counting up from 1 and wrapping back to 1 after 2^53.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    @property
    def last(self) -> int:
        """
        The id handed out most recently (0 before the first).
        """
        return self._last

    def next(self) -> int:
        """
        Hand out the next id.
        """
        self._last = 1 if self._last >= MAX_ID else self._last + 1
        return self._last
