"""
Browser tests: the web client (web/) served by a real wampd process, driven in Chromium by Playwright.

Set-up, done here when missing (never ``playwright install``: the browser is Debian's):

- Chromium: ``apt-get install -y chromium`` (``/usr/bin/chromium``)
- Playwright for Python: ``pip install playwright``
- the web client's AutobahnJS: ``npm ci --prefix web``

Each variant of :func:`app` is one scheme wampd serves the page over; the page connects back over
``ws://`` or ``wss://`` to match.
"""

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AUTOBAHN_JS = REPO_ROOT / "web" / "node_modules" / "autobahn-browser" / "autobahn.min.js"

#: upper bound for wampd to start listening, and to exit once told to
PROCESS_TIMEOUT = 20
LISTENING = re.compile(r"wampd listening on 127\.0\.0\.1:(\d+) \(universal /ws\)")
READY = "wampd ready"
#: the sample components log this once they have registered and subscribed
COMPONENT_READY = re.compile(r"Component components\.\w+\.\w+ ready on realm realm1")


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        pytest.fail("{} failed ({}): {}\n{}".format(what, done.returncode, " ".join(command), done.stdout[-4000:]),
                    pytrace=False)


def ensure_chromium() -> str:
    """
    Debian's Chromium, installed with apt-get when missing.
    """
    if not os.access(CHROMIUM, os.X_OK):
        if shutil.which("apt-get") is None:
            pytest.fail("{} is missing and apt-get is not available: install Chromium".format(CHROMIUM), pytrace=False)
        env_note = "apt-get install -y chromium"
        _run(["apt-get", "update", "-qq"], "apt-get update (for {})".format(env_note))
        _run(["apt-get", "install", "-y", "-qq", "chromium"], env_note)
    return CHROMIUM


def ensure_playwright():
    """
    Playwright's sync API, installed with pip when missing.
    """
    try:
        from playwright import sync_api
    except ImportError:
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "--root-user-action=ignore", "playwright"], "pip install playwright")
        from playwright import sync_api
    return sync_api


def ensure_autobahn_js() -> None:
    """
    The web client's AutobahnJS browser build, installed with npm when missing.
    """
    if not AUTOBAHN_JS.is_file():
        _run(["npm", "ci", "--prefix", str(REPO_ROOT / "web"), "--no-audit", "--no-fund", "--loglevel=error"],
             "npm ci --prefix web")


@pytest.fixture(scope="session")
def browser():
    """
    Headless Chromium under Playwright, for the whole session.
    """
    executable = ensure_chromium()
    sync_api = ensure_playwright()
    ensure_autobahn_js()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class WampdProcess:
    """
    ``wampd`` (``python -m router.cli``) as a child process, its output read by a thread.
    """

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        self.args = args
        self.process = subprocess.Popen([sys.executable, "-m", "router.cli", *args], cwd=str(cwd), env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, predicate, what: str, timeout: float = PROCESS_TIMEOUT) -> str:
        """
        The first output line (from now on) for which ``predicate`` is true.
        """
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                line = None
                pytest.fail("wampd did not log {} in {} s:\n{}".format(what, timeout, self.output), pytrace=False)
            if line is None:
                pytest.fail("wampd exited ({}) before logging {}:\n{}".format(self.process.wait(), what, self.output),
                            pytrace=False)
            self.lines.append(line)
            if predicate(line):
                return line

    def start(self, components: int) -> int:
        """
        Wait until wampd listens, is ready and runs ``components`` components; its port.
        """
        port = None
        ready = False
        joined = 0

        def started(line: str) -> bool:
            nonlocal port, ready, joined
            found = LISTENING.search(line)
            if found:
                port = int(found.group(1))
            ready = ready or READY in line
            joined += bool(COMPONENT_READY.search(line))
            return port is not None and ready and joined >= components

        self.wait_for(started, "its port, readiness and {} components ready".format(components))
        assert port is not None
        return port

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        """
        SIGTERM, then wait for the exit code.
        """
        if self.process.poll() is None:
            self.process.terminate()
        try:
            code = self.process.wait(timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        while True:
            try:
                line = self._queue.get(timeout=PROCESS_TIMEOUT)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return code


@dataclass
class App:
    """
    The web client served by a running wampd.
    """

    url: str
    scheme: str
    port: int
    wampd: WampdProcess
    #: extra browser context options (e.g. trusting a development certificate)
    context_options: dict


def _http(workdir: Path, port: int) -> tuple[list[str], dict]:
    return ["--listen", "tcp:{}:interface=127.0.0.1".format(port)], {}


def _https(workdir: Path, port: int) -> tuple[list[str], dict]:
    # the default configuration's realm, web client and components on a TLS listener with a
    # development certificate from ``wampd cert``, which the browser is told to accept
    from router.config import DEFAULT_COMPONENTS, DEFAULT_WEB_ROOT

    certs = workdir / "tls"
    if not (certs / "cert.pem").is_file():
        _run([sys.executable, "-m", "router.cli", "cert", "--out", str(certs), "--host", "127.0.0.1"], "wampd cert")
    config = {
        "realms": [{"name": "realm1"}],
        "listeners": [{"endpoint": "tcp:{}:interface=127.0.0.1".format(port), "web_root": DEFAULT_WEB_ROOT,
                       "tls": {"cert": str(certs / "cert.pem"), "key": str(certs / "key.pem")}}],
        "components": [{"class": name, "realm": "realm1"} for name in DEFAULT_COMPONENTS],
    }
    path = workdir / "wampd-https.json"
    path.write_text(json.dumps(config))
    return ["--config", str(path)], {"ignore_https_errors": True}


#: how wampd serves each scheme: (workdir, port) -> (wampd's arguments, browser context options)
SCHEMES = {"http": _http, "https": _https}


def launch(scheme: str, workdir: Path, port: int = 0) -> App:
    """
    wampd serving the web client and running the four sample components (its built-in default
    configuration for ``http``), over ``scheme`` on loopback ``port`` (0: any free port).
    """
    args, context_options = SCHEMES[scheme](workdir, port)
    wampd = WampdProcess(args, workdir)
    try:
        port = wampd.start(components=4)
    except BaseException:
        wampd.stop()
        raise
    return App("{}://127.0.0.1:{}/".format(scheme, port), scheme, port, wampd, context_options)


@pytest.fixture(scope="module", params=sorted(SCHEMES))
def app(request, tmp_path_factory):
    """
    The web client served by wampd's default configuration, once per scheme in :data:`SCHEMES`.
    """
    served = launch(request.param, tmp_path_factory.mktemp("wampd-" + request.param))
    yield served
    code = served.wampd.stop()
    assert code == 0, "wampd exited {}:\n{}".format(code, served.wampd.output)
