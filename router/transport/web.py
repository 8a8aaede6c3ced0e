"""
The HTTP side of a universal listener: the WebSocket endpoint, and at ``/`` either a directory of
static files (the listener's ``web_root``, e.g. the web client) or a small info page.
"""

import html
from typing import Any

from autobahn.twisted.resource import WebSocketResource
from twisted.internet.interfaces import IProtocolFactory
from twisted.web import static
from twisted.web.resource import ForbiddenResource, NoResource, Resource
from twisted.web.server import Request, Site

from router.core import AGENT, Router

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wampd</title></head>
<body><h1>wampd</h1>
<p>{agent}: a WAMP v2 router.</p>
<p>WebSocket endpoint: <code>{path}</code> (subprotocols {subprotocols}); RawSocket on the same port.</p>
<p>Realms: {realms}. Sessions: {sessions}.</p>
</body></html>
"""


class InfoPage(Resource):
    """
    ``/``: what this router is and how to connect to it.
    """

    isLeaf = True

    def __init__(self, router: Router, ws_path: str, subprotocols: list[str]) -> None:
        Resource.__init__(self)
        self._router = router
        self._ws_path = ws_path
        self._subprotocols = subprotocols

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        page = _PAGE.format(
            agent=html.escape(AGENT),
            path=html.escape(self._ws_path),
            subprotocols=", ".join(html.escape(p) for p in self._subprotocols),
            realms=", ".join(html.escape(name) for name in self._router.realms) or "none",
            sessions=len(self._router.sessions),
        )
        return page.encode("utf-8")


#: content types of the files a web client is made of, whatever the system's MIME tables say
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


class StaticFiles(static.File):
    """
    A directory served as static files: ``index.html`` for a directory, no directory listings, no
    hidden files, and ``Cache-Control: no-cache`` so an edited file is seen on the next load.
    """

    contentTypes = dict(static.File.contentTypes, **CONTENT_TYPES)
    indexNames = ["index.html"]

    def getChild(self, path: bytes, request: Request) -> Any:
        if path.startswith(b"."):
            return NoResource()
        return static.File.getChild(self, path, request)

    def directoryListing(self) -> Resource:
        return ForbiddenResource("Directory listing is not available.")

    def render_GET(self, request: Request) -> Any:
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return static.File.render_GET(self, request)


def web_site(router: Router, websocket: IProtocolFactory, ws_path: str, subprotocols: list[str],
             web_root: str | None = None) -> Site:
    """
    An HTTP site serving WebSocket at ``ws_path`` (e.g. ``/ws``) and, at ``/``, the files under
    ``web_root`` or, without one, the info page.

    The WebSocket path wins over a file of the same name; a ``ws_path`` with several segments
    (``/api/ws``) hides the web root's directory named like its first segment.
    """
    if web_root is not None:
        root: Resource = StaticFiles(web_root)
    else:
        root = Resource()
        root.putChild(b"", InfoPage(router, ws_path, subprotocols))
    node = root
    parts = [p for p in ws_path.strip("/").split("/") if p]
    for part in parts[:-1]:
        child = Resource()
        node.putChild(part.encode(), child)
        node = child
    node.putChild(parts[-1].encode(), WebSocketResource(websocket))
    # idle keep-alive HTTP connections are dropped after a minute (Twisted keeps them for 12 h)
    site = Site(root, timeout=60)
    site.noisy = False
    return site
