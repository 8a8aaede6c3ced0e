"""
A universal listener's HTTP side: the static files of its ``web_root`` at ``/`` next to the
WebSocket path, or the info page without one.
"""

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.web.client import Agent, readBody

from router.config import DEFAULT_WEB_ROOT
from tests.conftest import start_router
from tests.support import connect, with_timeout


@defer.inlineCallbacks
def get(port: int, path: str):
    """
    GET ``path`` from the router on ``port``: (status code, headers, body).
    """
    response = yield with_timeout(Agent(reactor).request(b"GET", "http://127.0.0.1:{}{}".format(port, path).encode()))
    body = yield with_timeout(readBody(response))
    return response.code, response.headers, body


def content_type(headers) -> str:
    return headers.getRawHeaders(b"content-type", [b""])[0].decode()


@pytest.fixture
def site(tmp_path):
    """
    A directory with an index page, a script, a hidden file and a subdirectory without an index.
    """
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>hello</title>")
    (root / "app.js").write_text("console.log('hi');")
    (root / "style.css").write_text("body {}")
    (root / ".secret").write_text("no")
    (root / "sub" / "data.json").write_text("{}")
    return root


@pytest.fixture
def web_router(tmp_path, site):
    """
    A router whose listeners serve ``site`` at ``/``.
    """
    running = start_router(tmp_path, web_root=str(site))
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest_twisted.inlineCallbacks
def test_web_root_files_are_served_with_their_types(web_router):
    """/ is index.html, and each file comes with its content type and no-cache."""
    code, headers, body = yield get(web_router.tcp_port, "/")
    assert (code, body) == (200, b"<!doctype html><title>hello</title>")
    assert content_type(headers) == "text/html; charset=utf-8"
    assert headers.getRawHeaders(b"cache-control") == [b"no-cache"]
    types = (("/app.js", "text/javascript"), ("/style.css", "text/css"), ("/sub/data.json", "application/json"))
    for path, kind in types:
        code, headers, _ = yield get(web_router.tcp_port, path)
        assert code == 200, path
        assert content_type(headers).startswith(kind), path


@pytest_twisted.inlineCallbacks
def test_web_root_hides_listings_hidden_and_missing_files(web_router):
    """A directory without an index is not listed (403), hidden and missing files are 404."""
    assert (yield get(web_router.tcp_port, "/sub/"))[0] == 403
    assert (yield get(web_router.tcp_port, "/.secret"))[0] == 404
    assert (yield get(web_router.tcp_port, "/nothere.js"))[0] == 404
    assert (yield get(web_router.tcp_port, "/../etc/passwd"))[0] == 404


@pytest_twisted.inlineCallbacks
def test_websocket_path_still_works_next_to_the_web_root(web_router):
    """WAMP over WebSocket at /ws works on a listener with a web root."""
    client = yield connect(web_router)
    assert client.details.realm == "realm1"


@pytest_twisted.inlineCallbacks
def test_info_page_without_web_root(router):
    """Without a web root, / is the router's info page naming the WebSocket path."""
    code, headers, body = yield get(router.tcp_port, "/")
    assert code == 200
    assert b"wampd" in body and b"/ws" in body


@pytest.fixture
def repo_web_router(tmp_path):
    """
    A router whose listeners serve the repository's web/.
    """
    running = start_router(tmp_path, web_root=DEFAULT_WEB_ROOT)
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest_twisted.inlineCallbacks
def test_repository_web_client_is_served(repo_web_router):
    """The repository's web/ is served with its page, script, style sheet and the AutobahnJS build it loads."""
    port = repo_web_router.tcp_port
    code, _, body = yield get(port, "/")
    assert code == 200 and b"wampd sample app" in body
    for path in ("/app.js", "/style.css"):
        assert (yield get(port, path))[0] == 200, path
    autobahn = Path(DEFAULT_WEB_ROOT) / "node_modules" / "autobahn-browser" / "autobahn.min.js"
    if not autobahn.is_file():
        pytest.fail("{} is missing: run npm ci --prefix web".format(autobahn), pytrace=False)
    assert b'src="node_modules/autobahn-browser/autobahn.min.js"' in body
    assert (yield get(port, "/node_modules/autobahn-browser/autobahn.min.js"))[0] == 200
