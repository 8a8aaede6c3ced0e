"""
The routers a benchmark drives: a command the benchmark starts (wampd, a second router, the floor)
or a URL of a router running elsewhere.

A started router gets free loopback ports through the ``{port}`` and ``{port2}`` placeholders of
its command and URLs. It is ready when its output shows the ready pattern, or, without one, when
every endpoint accepts a TCP connection; the time from spawning to ready is its time to ready.
Its output goes to a log file (a full pipe would stall it).
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from bench import measure
from bench.framing import Endpoint

#: bound on a router's startup, in seconds
START_TIMEOUT = 60.0
#: bound on a router's graceful stop before it is killed
STOP_TIMEOUT = 10.0
#: wait after ready before reading the idle RSS
SETTLE = 0.3

WAMPD_COMMAND = "wampd --listen tcp:{port}:interface=127.0.0.1"
WAMPD_URLS = ("ws://127.0.0.1:{port}/ws", "rs://127.0.0.1:{port}")
WAMPD_READY = r"wampd ready"


class TargetError(Exception):
    """
    A router did not start, died, or cannot serve a case.
    """


def free_port() -> int:
    """
    A TCP port on 127.0.0.1 that nothing listens on right now.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env() -> dict[str, str]:
    # the floor runs as ``python -m bench.floor``: make bench importable from any directory
    home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=home + (os.pathsep + path if path else ""))


@dataclass
class Startup:
    """
    One start of a router: seconds from spawn to ready and the idle RSS after it.
    """

    ready_s: float
    rss_idle_kib: int | None


@dataclass
class Target:
    """
    A router to benchmark.

    :param name: Its name in the report (``wampd``, ``compare``, ``floor``).
    :param urls: ``ws://`` and/or ``rs://`` URLs, possibly with ``{port}``/``{port2}``.
    :param command: The command that runs it (None: it runs elsewhere).
    :param ready: A regular expression its output matches once it is ready (None: probe the ports).
    :param pid: For a router running elsewhere, a process to account CPU and memory to.
    """

    name: str
    urls: list[str]
    command: str | None = None
    ready: str | None = None
    pid: int | None = None
    realm: str = "realm1"
    startups: list[Startup] = field(default_factory=list)
    _process: subprocess.Popen | None = None
    _ports: dict[str, int] = field(default_factory=dict)
    _log: Any = None
    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    @property
    def managed(self) -> bool:
        return self.command is not None

    @property
    def measurable(self) -> bool:
        """
        Whether CPU and memory of the router can be read.
        """
        return self._root_pid() is not None

    def describe(self) -> str:
        return self.command or ", ".join(self.urls)

    def _root_pid(self) -> int | None:
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        return self.pid

    def pids(self) -> list[int]:
        """
        The router's processes (the root and its descendants), empty if unknown.
        """
        root = self._root_pid()
        return measure.descendants(root) if root is not None else []

    def start(self) -> None:
        """
        Start the router (if managed) and wait until it is ready; an unmanaged one is probed.
        """
        if not self._ports:
            self._ports = {"port": free_port(), "port2": free_port()}
        self.endpoints = {}
        for url in self.urls:
            endpoint = Endpoint.from_url(url.format(**self._ports))
            self.endpoints[endpoint.transport] = endpoint
        if not self.managed:
            self._probe(time.monotonic() + START_TIMEOUT)
            return
        self._log = tempfile.NamedTemporaryFile(prefix="bench-{}-".format(self.name), suffix=".log", delete=False)
        argv = shlex.split(self.command.format(**self._ports))  # type: ignore[union-attr]
        spawned = time.monotonic()
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log, env=_child_env(),
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = spawned + START_TIMEOUT
        if self.ready:
            self._wait_for_line(re.compile(self.ready), deadline)
        else:
            self._probe(deadline)
        ready_s = time.monotonic() - spawned
        time.sleep(SETTLE)
        self.startups.append(Startup(ready_s, measure.total_rss_kib(self.pids()) or None))

    def _wait_for_line(self, pattern: re.Pattern[str], deadline: float) -> None:
        with open(self._log.name, "rb") as log:
            seen = b""
            while True:
                seen += log.read()
                if pattern.search(seen.decode(errors="replace")):
                    return
                self._check_alive()
                if time.monotonic() > deadline:
                    raise TargetError("{}: no line matching {!r} within {:.0f} s".format(
                        self.name, pattern.pattern, START_TIMEOUT))
                time.sleep(0.002)

    def _probe(self, deadline: float) -> None:
        for endpoint in self.endpoints.values():
            while True:
                try:
                    socket.create_connection((endpoint.host, endpoint.port), timeout=1).close()
                    break
                except OSError:
                    if self.managed:
                        self._check_alive()
                    if time.monotonic() > deadline:
                        raise TargetError("{}: {} does not accept connections".format(self.name, endpoint.url)) from None
                    time.sleep(0.005)

    def _check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise TargetError("{} exited with code {}; its output:\n{}".format(
                self.name, self._process.returncode, self.output_tail()))

    def check(self) -> None:
        """
        Raise :class:`TargetError` if a managed router has died.
        """
        if self.managed:
            if self._process is None:
                raise TargetError("{} is not running".format(self.name))
            self._check_alive()

    def output_tail(self, lines: int = 20) -> str:
        if self._log is None:
            return ""
        with open(self._log.name, "rb") as log:
            return b"\n".join(log.read().splitlines()[-lines:]).decode(errors="replace")

    def stop(self) -> None:
        """
        Stop a managed router: SIGTERM to its process group, SIGKILL after :data:`STOP_TIMEOUT`.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            os.unlink(self._log.name)
            self._log = None

    def restart(self) -> None:
        """
        A fresh process (for memory figures not skewed by earlier cases); a no-op if unmanaged.
        """
        if self.managed:
            self.stop()
            self.start()


def wampd_target(command: str | None, urls: list[str] | None, realm: str) -> Target:
    """
    Target A: wampd started by the benchmark, another command, or a URL.
    """
    if command is None and urls:
        return Target("router", list(urls), realm=realm)
    if command is None:
        return Target("wampd", list(WAMPD_URLS), WAMPD_COMMAND, WAMPD_READY, realm=realm)
    return Target("router", list(urls or WAMPD_URLS), command, realm=realm)


def floor_target(mode: str) -> Target:
    """
    The bare Twisted+Autobahn server of :mod:`bench.floor` (WebSocket on one port, RawSocket on another).
    """
    command = "{} -m bench.floor --ws-port {{port}} --rs-port {{port2}} --mode {}".format(
        shlex.quote(sys.executable), mode)
    name = "floor" if mode == "forward" else "floor-" + mode
    return Target(name, ["ws://127.0.0.1:{port}/ws", "rs://127.0.0.1:{port2}"], command, r"floor ready")
