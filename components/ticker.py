"""
The ticker: a value stream on a topic, with the last value retained for late subscribers.

Topic ``com.example.ticker.tick``, an event every ``interval`` seconds with keyword arguments
``counter`` (1, 2, 3, ...) and ``time`` (UTC, ISO 8601). Each event is published with
``retain=True``, so a subscriber asking for ``get_retained`` gets the latest tick at once::

    session.subscribe(on_tick, TOPIC, options=SubscribeOptions(get_retained=True))

Settings (``extra``): ``interval``, seconds between ticks (default 1.0).

Run on its own: ``python -m components.ticker --url ws://127.0.0.1:8080/ws --realm realm1``.
"""

from datetime import datetime, timezone
from typing import Any

from autobahn.wamp.types import ComponentConfig, PublishOptions
from twisted.internet.task import LoopingCall

from components.base import SampleSession
from components.runner import run

TOPIC = "com.example.ticker.tick"


def utc_now(seconds: float) -> str:
    """
    ``seconds`` since the epoch as UTC ISO 8601 with milliseconds, e.g. ``2024-05-01T12:00:00.250Z``.
    """
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Ticker(SampleSession):
    """
    Publishes a counter and the time on com.example.ticker.tick, retained, every interval seconds.
    """

    def __init__(self, config: ComponentConfig | None = None, reactor: Any = None) -> None:
        SampleSession.__init__(self, config, reactor)
        self.interval = self.setting("interval", 1.0, (int, float), lambda v: 0.01 <= v <= 3600)
        #: the number of ticks published so far
        self.counter = 0
        self._loop: LoopingCall | None = None

    def onJoin(self, details: Any) -> None:
        self._loop = LoopingCall(self.tick)
        self._loop.clock = self.reactor
        stopped = self._loop.start(self.interval, now=True)
        stopped.addErrback(lambda failure: self.log.failure("Ticker stopped", failure))
        self.log.info("Ticker publishing on {topic} every {interval} s", topic=TOPIC, interval=self.interval)

    def tick(self) -> None:
        """
        Publish the next tick.
        """
        self.counter += 1
        self.publish(TOPIC, counter=self.counter, time=utc_now(self.reactor.seconds()),
                     options=PublishOptions(retain=True))

    def onLeave(self, details: Any) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        SampleSession.onLeave(self, details)


if __name__ == "__main__":
    run(Ticker)
