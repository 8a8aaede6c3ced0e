"""
Benchmark cases and how one runs against one router.

Case specs (``--cases``), each optionally narrowed to one transport and serializer with ``@ws-json``:

- ``rpc[:CxW]``: C callers with W calls in flight each, one callee (default 4x50). Operation: a
  completed call (CALL, INVOCATION, YIELD, RESULT); latency: CALL sent to RESULT received.
- ``rpcseq``: one caller, one call at a time: the sequential round trip.
- ``pub:F[:PxW]``: P publishers with W acknowledged publishes in flight each, F subscribers
  (default 2x50, or 2x5 for F over 100: 100 publishes in flight to 1000 subscribers would be
  100,000 queued events, and the latency would only measure that queue). Operation: an event delivered;
  latency: publish to event, across processes.
- ``sessions:N``: N sessions join and each subscribes to a topic of its own, on a fresh router
  process. Join rate, and RSS per session over the idle RSS.

Traffic cases measure a window after a warm-up: operations counted by the generator, CPU seconds
of the router and of the generator processes read from ``/proc`` at both ends.
"""

import math
import multiprocessing
import multiprocessing.connection
import re
import time
from array import array
from dataclasses import dataclass
from typing import Any

from bench import measure
from bench.generator import DRAIN_TIMEOUT, JOIN_TIMEOUT, worker_main
from bench.profile import Profile
from bench.targets import Target

TRANSPORTS = ("ws", "rs")
#: how each kind of case reads in the report
_TITLES = {"rpc": "rpc {callers}x{window}", "rpcseq": "rpc sequential", "pub": "pub {publishers}x{window} -> {fanout}",
           "sessions": "sessions {sessions}"}


class CaseError(Exception):
    """
    A case could not run (a worker failed, a router died, a timeout).
    """


@dataclass(frozen=True)
class Case:
    """
    One benchmark case on one transport and serializer.
    """

    kind: str
    transport: str
    serializer: str
    callers: int = 1
    window: int = 1
    publishers: int = 0
    fanout: int = 0
    sessions: int = 0

    @property
    def title(self) -> str:
        return _TITLES[self.kind].format(**self.__dict__)

    @property
    def slug(self) -> str:
        """
        The title as a file name part: ``rpc-4x50``, ``pub-2x50-20``, ``sessions-2000``.
        """
        return "-".join(re.findall(r"[A-Za-z0-9]+", self.title.replace("->", "")))

    @property
    def combo(self) -> str:
        return "{}-{}".format(self.transport, self.serializer)


_SPEC = re.compile(r"^(rpcseq|rpc|pub|sessions)(?::([0-9x:]+))?(?:@(ws|rs)-(json|msgpack|cbor))?$")


def parse_cases(specs: list[str], transports: list[str], serializers: list[str]) -> list[Case]:
    """
    Cases for the specs, each spec expanded over the transports and serializers unless it names one.

    :raises ValueError: for a spec that does not parse.
    """
    cases = []
    for spec in specs:
        match = _SPEC.match(spec.strip())
        if not match:
            raise ValueError("bad case {!r} (rpc[:CxW], rpcseq, pub:F[:PxW], sessions:N, each with an "
                             "optional @ws-json etc.)".format(spec))
        kind, params, transport, serializer = match.groups()
        combos = [(transport, serializer)] if transport else [(t, s) for t in transports for s in serializers]
        for t, s in combos:
            cases.append(_case(kind, params, t, s, spec))
    return cases


def _pair(text: str, spec: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in text.split("x"))
    except ValueError:
        raise ValueError("bad case {!r}: expected NxM".format(spec)) from None
    return a, b


def _case(kind: str, params: str | None, transport: str, serializer: str, spec: str) -> Case:
    if kind == "rpc":
        callers, window = _pair(params, spec) if params else (4, 50)
        return Case(kind, transport, serializer, callers=callers, window=window)
    if kind == "rpcseq":
        return Case(kind, transport, serializer, callers=1, window=1)
    if kind == "pub":
        if not params:
            raise ValueError("bad case {!r}: pub:F needs the fan-out F".format(spec))
        fanout, _, rest = params.partition(":")
        publishers, window = _pair(rest, spec) if rest else (2, 50 if int(fanout) <= 100 else 5)
        return Case(kind, transport, serializer, publishers=publishers, window=window, fanout=int(fanout))
    if not params or not params.isdigit():
        raise ValueError("bad case {!r}: sessions:N needs the session count N".format(spec))
    return Case(kind, transport, serializer, sessions=int(params))


@dataclass
class Settings:
    """
    How long and how hard to run.
    """

    duration: float = 5.0
    warmup: float = 1.0
    #: generator processes for callers, for large fan-outs and for session ramps
    processes: int = 2
    #: joins in progress at once per generator process (session ramps)
    concurrency: int = 16
    #: where to write py-spy profiles of the router's measured windows (None: no profiling)
    profile_dir: str | None = None


# -- generator processes


class Workers:
    """
    The generator processes of one case run (forked, so they start in milliseconds).
    """

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("fork")
        self._workers: list[tuple[Any, Any, dict[str, Any]]] = []

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def spawn(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """
        Start one process per spec and wait until all have joined their sessions.
        """
        # a worker gives up on its joins after this much less (see bench.generator._open_all)
        timeout = JOIN_TIMEOUT + 10 + max(spec["sessions"] for spec in specs) / 50
        started = []
        for spec in specs:
            ours, theirs = self._context.Pipe()
            inherited = [pipe for _, pipe, _ in self._workers] + [ours]
            process = self._context.Process(target=worker_main, args=(theirs, spec, inherited), daemon=True)
            process.start()
            theirs.close()
            started.append((process, ours, spec))
            self._workers.append((process, ours, spec))
        return self._collect(started, "ready", timeout)

    def pids(self) -> list[int]:
        return [process.pid for process, _, _ in self._workers]

    def run(self, t0: float, t1: float) -> None:
        for _, pipe, _ in self._workers:
            pipe.send(("run", t0, t1))

    def results(self, timeout: float) -> list[dict[str, Any]]:
        return self._collect(self._workers, "result", timeout)

    def _collect(self, workers: list[tuple[Any, Any, dict[str, Any]]], kind: str, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        replies: dict[Any, dict[str, Any]] = {}
        waiting = {pipe: spec for _, pipe, spec in workers}
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CaseError("{} generator process(es) not {} within {:.0f} s".format(len(waiting), kind, timeout))
            for pipe in multiprocessing.connection.wait(list(waiting), left):
                try:
                    message = pipe.recv()
                except EOFError:
                    raise CaseError("a generator process ({}) died".format(waiting[pipe]["role"])) from None
                if message[0] == "error":
                    raise CaseError("generator ({}): {}".format(waiting[pipe]["role"], message[1]))
                if message[0] == kind:
                    replies[pipe] = dict(message[1], role=waiting.pop(pipe)["role"])
        return [replies[pipe] for _, pipe, _ in workers]

    def close(self) -> None:
        for _, pipe, _ in self._workers:
            try:
                pipe.send(("stop",))
            except OSError:
                pass
        deadline = time.monotonic() + 10
        for process, pipe, _ in self._workers:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)
            pipe.close()
        self._workers = []


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _spec(case: Case, target: Target, role: str, sessions: int, **extra: Any) -> dict[str, Any]:
    endpoint = target.endpoints.get(case.transport)
    if endpoint is None:
        raise CaseError("{} has no {} endpoint".format(target.name, case.transport))
    spec = {"role": role, "sessions": sessions, "serializer": case.serializer, "realm": target.realm,
            "endpoint": endpoint.__dict__, "procedure": "bench.rpc", "topic": "bench.topic"}
    spec.update(extra)
    return spec


def _percentile(sorted_values: array, q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(math.ceil(q * len(sorted_values))) - 1)]


def settle(target: Target, idle: float = 0.05, timeout: float = 10.0) -> None:
    """
    Wait until the router uses under ``idle`` of a core (it may still be closing earlier sessions).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = target.pids()
        if not pids:
            return
        before = measure.cpu_snapshot(pids)
        time.sleep(0.2)
        if measure.cpu_used(before, measure.cpu_snapshot(pids)) < idle * 0.2:
            return


# -- running a case


def run_case(case: Case, target: Target, settings: Settings, label: str = "") -> dict[str, Any]:
    """
    Run one case against a started target; the measurements as a flat dict.

    :param label: Names the run's profile file (with ``settings.profile_dir``).
    """
    target.check()
    began = time.monotonic()
    settle(target)
    settled = time.monotonic()
    result = _run(case, target, settings, label)
    result["settle_s"] = round(settled - began, 3)
    result["run_s"] = round(time.monotonic() - settled, 3)
    return result


def _run(case: Case, target: Target, settings: Settings, label: str) -> dict[str, Any]:
    if case.kind == "sessions":
        return _sessions(case, target, settings)
    if case.kind in ("rpc", "rpcseq"):
        phases = [
            [_spec(case, target, "callee", 1)],
            [_spec(case, target, "caller", n, window=case.window)
             for n in _split(case.callers, settings.processes)],
        ]
        return _traffic(case, target, settings, phases, "caller", label)
    sample_every = max(1, case.fanout // 4)
    processes = 1 if case.fanout <= 20 else settings.processes
    subscribers, first = [], 0
    for n in _split(case.fanout, processes):
        subscribers.append(_spec(case, target, "subscriber", n, sample_every=sample_every, first=first))
        first += n
    phases = [subscribers, [_spec(case, target, "publisher", case.publishers, window=case.window)]]
    return _traffic(case, target, settings, phases, "subscriber", label)


def _sleep_until(instant: float) -> None:
    time.sleep(max(0.0, instant - time.monotonic()))


def _traffic(case: Case, target: Target, settings: Settings, phases: list[list[dict[str, Any]]],
             measured_role: str, label: str) -> dict[str, Any]:
    with Workers() as workers:
        for phase in phases:
            workers.spawn(phase)
        target.check()
        router_pids = target.pids()
        t0 = time.monotonic() + settings.warmup
        t1 = t0 + settings.duration
        workers.run(t0, t1)
        _sleep_until(t0)
        router0, gen0 = measure.cpu_snapshot(router_pids), measure.cpu_snapshot(workers.pids())
        wall0 = time.monotonic()
        profile = None
        if settings.profile_dir and router_pids:
            profile = Profile(settings.profile_dir, label or case.title, router_pids[0], settings.duration)
        _sleep_until(t1)
        router1, gen1 = measure.cpu_snapshot(router_pids), measure.cpu_snapshot(workers.pids())
        wall = time.monotonic() - wall0
        gen_per_process = [gen1.get(pid, 0.0) - gen0.get(pid, 0.0) for pid in workers.pids()]
        results = workers.results(DRAIN_TIMEOUT + 15)
    target.check()
    measured = [r for r in results if r["role"] == measured_role]
    ops = sum(r["ops"] for r in measured)
    latencies = array("q")
    for r in measured:
        latencies.frombytes(r["latencies"])
    latencies = array("q", sorted(latencies))
    router_cpu = measure.cpu_used(router0, router1) if router_pids else None
    gen_cpu = sum(gen_per_process)
    record: dict[str, Any] = {
        "ops": ops,
        "ops_per_s": ops / settings.duration,
        "lat_p50_ms": _ms(_percentile(latencies, 0.50)),
        "lat_p99_ms": _ms(_percentile(latencies, 0.99)),
        "lat_samples": len(latencies),
        "router_cpu_s": router_cpu,
        "router_util": router_cpu / wall if router_cpu is not None else None,
        "router_us_per_op": 1e6 * router_cpu / ops if router_cpu is not None and ops else None,
        "gen_cpu_s": gen_cpu,
        "gen_util": gen_cpu / wall,
        "gen_max_process_util": max(gen_per_process) / wall if gen_per_process else None,
        "gen_us_per_op": 1e6 * gen_cpu / ops if ops else None,
        "errors": sum(r["errors"] for r in results),
        "undrained": sum(r["undrained"] for r in results),
        "generator_processes": len(gen_per_process),
    }
    if profile is not None:
        record["profile"] = profile.finish()
    if case.kind == "pub":
        acked = sum(r["ops"] for r in results if r["role"] == "publisher")
        record["publishes_per_s"] = acked / settings.duration
        expected = acked * case.fanout
        # events the router accepted (acknowledged publishes x fan-out) but did not deliver in the window
        record["lag"] = (expected - ops) / expected if expected else None
    return record


def _ms(nanoseconds: float | None) -> float | None:
    return nanoseconds / 1e6 if nanoseconds is not None else None


def _sessions(case: Case, target: Target, settings: Settings) -> dict[str, Any]:
    target.restart()
    settle(target)
    pids = target.pids()
    rss0 = measure.total_rss_kib(pids) if pids else None
    router0 = measure.cpu_snapshot(pids)
    specs, first = [], 0
    for n in _split(case.sessions, settings.processes):
        specs.append(_spec(case, target, "idle", n, first=first, topic="bench.idle",
                           concurrency=settings.concurrency))
        first += n
    with Workers() as workers:
        ready = workers.spawn(specs)
        router1 = measure.cpu_snapshot(pids)
        gen_cpu = sum(measure.cpu_snapshot(workers.pids()).values())
        settle(target)
        rss1 = measure.total_rss_kib(pids) if pids else None
        target.check()
    began = min(r["began"] for r in ready)
    ended = max(r["ended"] for r in ready)
    joined = sum(r["sessions"] for r in ready)
    router_cpu = measure.cpu_used(router0, router1) if pids else None
    return {
        "ops": joined,
        "joins_per_s": joined / (ended - began),
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
        "kib_per_session": (rss1 - rss0) / joined if rss0 is not None and rss1 is not None else None,
        "router_cpu_s": router_cpu,
        "router_us_per_op": 1e6 * router_cpu / joined if router_cpu is not None else None,
        "gen_cpu_s": gen_cpu,
        "gen_us_per_op": 1e6 * gen_cpu / joined,
        "generator_processes": len(specs),
    }
