"""
Load generator worker processes: many WAMP sessions of one role, driven by the parent through a pipe.

A worker joins its sessions (HELLO, then REGISTER or SUBSCRIBE), reports ``ready`` with the time
span of its joins, and waits. On ``run`` the active roles (callers, publishers) start their
traffic; between the two given monotonic instants every role counts completed operations and
records latencies; after the window the load stops, in-flight requests drain and the worker
reports ``result``. ``stop`` closes every connection and ends the process.

The hot paths use :mod:`bench.messages` templates and header reads only: a caller renders CALL
with the next request id and matches RESULT by its id, a callee answers INVOCATION with YIELD
carrying the same id, a subscriber counts frames and fully decodes only every ``sample_every``-th
event to read the publisher's timestamp.
"""

import asyncio
import ctypes
import resource
import signal
import time
import traceback
from array import array
from typing import Any

from bench import messages as m
from bench.framing import Connection, Endpoint, connection_class

#: bound on the join phase, in seconds (plus 20 ms per session)
JOIN_TIMEOUT = 30.0
#: how long in-flight requests may take to drain after the window
DRAIN_TIMEOUT = 3.0
#: latencies kept per worker (beyond it, every other sample is dropped and the stride doubles)
MAX_SAMPLES = 200_000


class WampError(Exception):
    """
    The router answered a setup request with ERROR or ABORT.
    """


class Window:
    """
    What every role in one worker shares: whether the load runs and whether it is being measured.
    """

    def __init__(self) -> None:
        self.running = False
        self.measuring = False
        self.latencies = array("q")
        self._stride = 1
        self._skip = 0

    def sample(self, nanoseconds: int) -> None:
        """
        Keep one latency sample (thinning uniformly once :data:`MAX_SAMPLES` are kept).
        """
        if self._stride > 1:
            self._skip += 1
            if self._skip < self._stride:
                return
            self._skip = 0
        self.latencies.append(nanoseconds)
        if len(self.latencies) >= MAX_SAMPLES:
            self.latencies = self.latencies[::2]
            self._stride *= 2


class Session:
    """
    One WAMP session over a :class:`~bench.framing.Connection`: joining and setup requests.

    Setup is one request at a time and fully decoded; the role then takes over ``on_payload``.
    """

    def __init__(self, connection: Connection, realm: str) -> None:
        self.connection = connection
        self.codec = connection.codec
        self.realm = realm
        self.session_id = 0
        self._reply: asyncio.Future[list[Any]] | None = None
        self._request = 0
        connection.on_payload = self._setup_payload
        connection.closed.add_done_callback(self._lost)

    def _setup_payload(self, payload: bytes, now: int) -> None:
        message = self.codec.loads(payload)
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(message)

    async def _exchange(self, message: list[Any]) -> list[Any]:
        self._reply = asyncio.get_running_loop().create_future()
        self.connection.send(self.codec.dumps(message))
        self.connection.flush()
        reply = await self._reply
        if reply[0] in (m.ABORT, m.ERROR):
            raise WampError("router refused {}: {}".format(message[0], reply))
        return reply

    def _lost(self, closed: "asyncio.Future[None]") -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(WampError("connection lost during setup"))

    async def join(self) -> None:
        """
        HELLO -> WELCOME.
        """
        welcome = await self._exchange([m.HELLO, self.realm, m.CLIENT_ROLES])
        if welcome[0] != m.WELCOME:
            raise WampError("expected WELCOME, got {}".format(welcome))
        self.session_id = welcome[1]

    async def request(self, kind: int, *rest: Any) -> list[Any]:
        """
        One setup request (REGISTER, SUBSCRIBE) with the next request id; returns the reply.
        """
        self._request += 1
        return await self._exchange([kind, self._request] + list(rest))

    def next_request_id(self) -> int:
        """
        Take the next request id (a role's first; it counts on from there itself).
        """
        self._request += 1
        return self._request


# -- roles: each takes over a joined session's on_payload


class Role:
    """
    A session's traffic: ``count`` completed operations and ``errors``.
    """

    def __init__(self, session: Session, window: Window, spec: dict[str, Any]) -> None:
        self.session = session
        self.window = window
        self.count = 0
        self.errors = 0

    def in_flight(self) -> int:
        """
        Requests sent and not answered yet.
        """
        return 0

    async def setup(self, index: int) -> None:
        """
        Register or subscribe what the role needs (``index`` numbers the session in the case).
        """

    def start(self, now: int) -> None:
        """
        Start sending (active roles).
        """


class Callee(Role):
    """
    Registers the procedure and answers every INVOCATION (or a floor's forwarded CALL) with YIELD.
    """

    def __init__(self, session: Session, window: Window, spec: dict[str, Any]) -> None:
        Role.__init__(self, session, window, spec)
        self._procedure = spec["procedure"]
        self._yield = session.codec.template([m.YIELD, m.ID, {}, m.CALL_ARGS]).render

    async def setup(self, index: int) -> None:
        await self.session.request(m.REGISTER, {}, self._procedure)
        self.session.connection.on_payload = self.on_payload

    def on_payload(self, payload: bytes, now: int) -> None:
        kind, request = self.session.codec.head(payload)
        if kind == m.INVOCATION or kind == m.CALL:
            self.session.connection.send(self._yield(request))
            self.count += 1


class Caller(Role):
    """
    Keeps ``window`` calls in flight; a RESULT (or a floor's forwarded YIELD) completes one.
    """

    def __init__(self, session: Session, window: Window, spec: dict[str, Any]) -> None:
        Role.__init__(self, session, window, spec)
        self._depth = spec["window"]
        self._call = session.codec.template([m.CALL, m.ID, {}, spec["procedure"], m.CALL_ARGS]).render
        self._pending: dict[int, int] = {}
        self._next = session.next_request_id()

    async def setup(self, index: int) -> None:
        self.session.connection.on_payload = self.on_payload

    def start(self, now: int) -> None:
        for _ in range(self._depth):
            self._send_call(now)
        self.session.connection.flush()

    def _send_call(self, now: int) -> None:
        request = self._next
        self._next = request + 1
        self._pending[request] = now
        self.session.connection.send(self._call(request))

    def on_payload(self, payload: bytes, now: int) -> None:
        kind, request = self.session.codec.head(payload)
        if kind == m.RESULT or kind == m.YIELD:
            sent = self._pending.pop(request, None)
            if sent is None:
                self.errors += 1
                return
            self.count += 1
            if self.window.measuring:
                self.window.sample(now - sent)
        elif kind == m.ERROR:
            message = self.session.codec.loads(payload)
            self._pending.pop(message[2], None)
            self.errors += 1
        else:
            self.errors += 1
            return
        if self.window.running:
            self._send_call(now)

    def in_flight(self) -> int:
        return len(self._pending)


class Publisher(Role):
    """
    Keeps ``window`` acknowledged publishes in flight; each event carries the send time.
    """

    def __init__(self, session: Session, window: Window, spec: dict[str, Any]) -> None:
        Role.__init__(self, session, window, spec)
        self._depth = spec["window"]
        options = {"acknowledge": True, "exclude_me": True}
        self._publish = session.codec.template([m.PUBLISH, m.ID, options, spec["topic"], [m.TIMESTAMP]]).render
        self._next = session.next_request_id()
        self._in_flight = 0
        #: publishes sent while measuring
        self.sent_measured = 0

    async def setup(self, index: int) -> None:
        self.session.connection.on_payload = self.on_payload

    def in_flight(self) -> int:
        return self._in_flight

    def start(self, now: int) -> None:
        for _ in range(self._depth):
            self._send_publish(now)
        self.session.connection.flush()

    def _send_publish(self, now: int) -> None:
        request = self._next
        self._next = request + 1
        self._in_flight += 1
        if self.window.measuring:
            self.sent_measured += 1
        self.session.connection.send(self._publish(request, now))

    def on_payload(self, payload: bytes, now: int) -> None:
        kind = self.session.codec.head(payload)[0]
        self._in_flight -= 1
        if kind == m.PUBLISHED:
            self.count += 1
        else:
            self.errors += 1
        if self.window.running:
            self._send_publish(now)


class Subscriber(Role):
    """
    Subscribes to the topic and counts events; every ``sample_every``-th one is decoded for latency.
    """

    def __init__(self, session: Session, window: Window, spec: dict[str, Any]) -> None:
        Role.__init__(self, session, window, spec)
        self._topic = spec["topic"]
        self._every = max(1, spec.get("sample_every", 1))
        self._phase = 0

    async def setup(self, index: int) -> None:
        # spread the sampled events over the subscribers
        self._phase = index % self._every
        await self.session.request(m.SUBSCRIBE, {}, self._topic)
        self.session.connection.on_payload = self.on_payload

    def on_payload(self, payload: bytes, now: int) -> None:
        self.count += 1
        if self.count % self._every == self._phase and self.window.measuring:
            message = self.session.codec.loads(payload)
            if message[0] in (m.EVENT, m.PUBLISH):
                self.window.sample(now - message[4][0])


class Idle(Role):
    """
    Joins and subscribes to a topic of its own, then stays quiet (the memory and join-rate case).
    """

    def __init__(self, session: Session, window: Window, spec: dict[str, Any]) -> None:
        Role.__init__(self, session, window, spec)
        self._topic = spec["topic"]

    async def setup(self, index: int) -> None:
        await self.session.request(m.SUBSCRIBE, {}, "{}.{}".format(self._topic, index))


ROLES: dict[str, type[Role]] = {
    "callee": Callee, "caller": Caller, "publisher": Publisher, "subscriber": Subscriber, "idle": Idle,
}


# -- the worker process


async def _open(spec: dict[str, Any], window: Window, index: int) -> tuple[Connection, Role]:
    endpoint = Endpoint(**spec["endpoint"])
    codec = m.CODECS[spec["serializer"]]
    loop = asyncio.get_running_loop()
    klass = connection_class(endpoint)
    _, connection = await loop.create_connection(lambda: klass(codec, endpoint), endpoint.host, endpoint.port)
    await connection.opened
    session = Session(connection, spec["realm"])
    await session.join()
    role = ROLES[spec["role"]](session, window, spec)
    await role.setup(index)
    return connection, role


async def _open_all(spec: dict[str, Any], window: Window) -> list[tuple[Connection, Role]]:
    gate = asyncio.Semaphore(spec.get("concurrency", 100))
    first = spec.get("first", 0)

    async def one(i: int) -> tuple[Connection, Role]:
        async with gate:
            return await _open(spec, window, first + i)

    tasks = [asyncio.ensure_future(one(i)) for i in range(spec["sessions"])]
    timeout = JOIN_TIMEOUT + spec["sessions"] / 50
    try:
        return await asyncio.wait_for(asyncio.gather(*tasks), timeout)
    except asyncio.TimeoutError:
        raise WampError("{} of {} sessions not joined within {:.0f} s".format(
            sum(1 for t in tasks if not t.done()), len(tasks), timeout)) from None
    finally:
        for task in tasks:
            task.cancel()


class _Pipe:
    """
    The parent's pipe, read without blocking the event loop.
    """

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._loop.add_reader(pipe.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            self._queue.put_nowait(self._pipe.recv())
        except EOFError:  # the parent is gone
            self._loop.remove_reader(self._pipe.fileno())
            self._queue.put_nowait(("stop",))

    async def get(self) -> Any:
        return await self._queue.get()

    def send(self, message: Any) -> None:
        self._pipe.send(message)


async def _worker(pipe: Any, spec: dict[str, Any]) -> None:
    control = _Pipe(pipe)
    window = Window()
    began = time.monotonic()
    opened = await _open_all(spec, window)
    control.send(("ready", {"began": began, "ended": time.monotonic(), "sessions": len(opened)}))
    connections = [c for c, _ in opened]
    roles = [r for _, r in opened]
    while True:
        command = await control.get()
        if command[0] == "run":
            control.send(("result", await _run(roles, window, command[1], command[2])))
        elif command[0] == "stop":
            break
    for connection in connections:
        connection.close()
    await asyncio.sleep(0)


async def _run(roles: list[Role], window: Window, t0: float, t1: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    counts: dict[str, int] = {}

    def measure_from() -> None:
        counts["from"] = sum(r.count for r in roles)
        counts["errors_from"] = sum(r.errors for r in roles)
        window.measuring = True

    window.running = True
    window.latencies = array("q")
    now = time.monotonic_ns()
    for role in roles:
        role.start(now)
    loop.call_at(t0, measure_from)
    await asyncio.sleep(max(0.0, t1 - loop.time()))
    window.measuring = False
    window.running = False
    count = sum(r.count for r in roles) - counts.get("from", 0)
    errors = sum(r.errors for r in roles) - counts.get("errors_from", 0)
    drain_until = loop.time() + DRAIN_TIMEOUT
    while any(r.in_flight() for r in roles) and loop.time() < drain_until:
        await asyncio.sleep(0.01)
    return {
        "ops": count,
        "errors": errors,
        "sent": sum(getattr(r, "sent_measured", 0) for r in roles),
        "undrained": sum(r.in_flight() for r in roles),
        "latencies": window.latencies.tobytes(),
    }


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main(pipe: Any, spec: dict[str, Any], inherited: list[Any]) -> None:
    """
    A worker process's entry point: run ``spec`` (role, sessions, endpoint, serializer, realm...).

    :param inherited: The parent's ends of worker pipes, inherited through fork: closed at once, so
        that a pipe reports EOF to its worker as soon as the parent is gone.
    """
    for connection in inherited:
        connection.close()
    _die_with_parent()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        asyncio.run(_worker(pipe, spec))
    except BaseException as e:  # report, never hang the parent
        try:
            pipe.send(("error", "{}: {}\n{}".format(type(e).__name__, e, traceback.format_exc(limit=4))))
        except Exception:
            pass
