"""
The calculator: plain RPC, an error with an application URI, and a long-running procedure with
progressive results that stops when its call is canceled.

Procedures:

- ``com.example.calculator.add(a, b)`` -> ``a + b``
- ``com.example.calculator.divide(a, b)`` -> ``a / b``; ``b == 0`` is the error
  ``com.example.calculator.error.division_by_zero``
- ``com.example.calculator.primes(limit)`` -> ``{"limit": limit, "count": n}``, the number of
  primes up to ``limit`` (2 .. 10,000,000), counted in ``steps`` segments with a pause of
  ``step_delay`` seconds after each, so it runs long enough to watch. A caller that asks for
  progressive results (``receive_progress``) gets one per segment:
  ``{"done": 3, "total": 20, "count": 1229, "checked": 10000}``. Canceling the call (any mode)
  stops the work; the callee answers ``wamp.error.canceled`` (seen by callers in ``kill`` mode).

Arguments of the wrong type get ``wamp.error.invalid_argument``.

Settings (``extra``): ``steps`` (default 20), ``step_delay`` seconds (default 0.2).

Run on its own: ``python -m components.calculator --url ws://127.0.0.1:8080/ws --realm realm1``.
"""

from math import isqrt
from typing import Any

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, RegisterOptions
from twisted.internet.defer import CancelledError
from twisted.internet.task import deferLater

from components.base import SampleSession
from components.runner import run

ADD = "com.example.calculator.add"
DIVIDE = "com.example.calculator.divide"
PRIMES = "com.example.calculator.primes"

DIVISION_BY_ZERO = "com.example.calculator.error.division_by_zero"
INVALID_ARGUMENT = ApplicationError.INVALID_ARGUMENT
CANCELED = ApplicationError.CANCELED

#: the largest ``limit`` :data:`PRIMES` accepts
MAX_LIMIT = 10_000_000


def _number(value: Any, name: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ApplicationError(INVALID_ARGUMENT, "{} must be a number, not {!r}".format(name, value))
    return value


def segments(limit: int, steps: int) -> list[tuple[int, int]]:
    """
    ``[2, limit]`` cut into at most ``steps`` consecutive half-open ranges ``(low, high)``.
    """
    span = limit - 1
    steps = max(1, min(steps, span))
    bounds = [2 + span * i // steps for i in range(steps + 1)]
    return list(zip(bounds, bounds[1:], strict=False))


def small_primes(limit: int) -> list[int]:
    """
    The primes up to ``limit`` (a plain sieve; used for the segment sieve's base).
    """
    if limit < 2:
        return []
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    for p in range(2, isqrt(limit) + 1):
        if sieve[p]:
            sieve[p * p::p] = bytes(len(range(p * p, limit + 1, p)))
    return [n for n in range(limit + 1) if sieve[n]]


def count_primes(low: int, high: int, base: list[int]) -> int:
    """
    The number of primes in ``[low, high)``, given ``base``: every prime up to ``isqrt(high - 1)``.
    """
    segment = bytearray([1]) * (high - low)
    for n in range(low, min(high, 2)):
        segment[n - low] = 0
    for p in base:
        if p * p >= high:
            break
        start = max(p * p, (low + p - 1) // p * p)
        segment[start - low::p] = bytes(len(range(start, high, p)))
    return segment.count(1)


class Calculator(SampleSession):
    """
    Adds and divides numbers and counts primes with progress reports, on com.example.calculator.*.
    """

    def __init__(self, config: ComponentConfig | None = None, reactor: Any = None) -> None:
        SampleSession.__init__(self, config, reactor)
        self.steps = self.setting("steps", 20, int, lambda v: 1 <= v <= 1000)
        self.step_delay = self.setting("step_delay", 0.2, (int, float), lambda v: 0 <= v <= 60)
        #: the number of :data:`PRIMES` calls being worked on
        self.running = 0

    async def onJoin(self, details: Any) -> None:
        await self.register(self.add, ADD)
        await self.register(self.divide, DIVIDE)
        await self.register(self.primes, PRIMES, options=RegisterOptions(details=True))
        self.log.info("Calculator ready: {procedures}", procedures=", ".join((ADD, DIVIDE, PRIMES)))

    def add(self, a: Any, b: Any) -> int | float:
        """
        ``a + b``.
        """
        return _number(a, "a") + _number(b, "b")

    def divide(self, a: Any, b: Any) -> float:
        """
        ``a / b``, or the error :data:`DIVISION_BY_ZERO`.
        """
        if _number(b, "b") == 0:
            raise ApplicationError(DIVISION_BY_ZERO, "cannot divide {} by zero".format(_number(a, "a")))
        return _number(a, "a") / b

    async def primes(self, limit: Any, details: Any = None) -> dict[str, int]:
        """
        Count the primes up to ``limit``, one segment per step, reporting progress after each.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 2 <= limit <= MAX_LIMIT:
            raise ApplicationError(INVALID_ARGUMENT, "limit must be an integer from 2 to {}".format(MAX_LIMIT))
        parts = segments(limit, self.steps)
        base = small_primes(isqrt(limit))
        count = done = 0
        self.running += 1
        try:
            for low, high in parts:
                count += count_primes(low, high, base)
                done += 1
                if details is not None and details.progress is not None:
                    details.progress({"done": done, "total": len(parts), "count": count, "checked": high - 1})
                await deferLater(self.reactor, self.step_delay, lambda: None)
        except CancelledError:
            self.log.info("primes({limit}) canceled after {done} of {total} steps", limit=limit, done=done,
                          total=len(parts))
            raise ApplicationError(CANCELED, "canceled after {} of {} steps".format(done, len(parts))) from None
        finally:
            self.running -= 1
        return {"limit": limit, "count": count}


if __name__ == "__main__":
    run(Calculator)
