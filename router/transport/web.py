"""
The HTTP side of a universal listener: a small info page and the WebSocket endpoint.
"""

import html

from autobahn.twisted.resource import WebSocketResource
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from router.core import AGENT, Router
from twisted.internet.interfaces import IProtocolFactory

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


def web_site(router: Router, websocket: IProtocolFactory, ws_path: str, subprotocols: list[str]) -> Site:
    """
    An HTTP site serving the info page at ``/`` and WebSocket at ``ws_path`` (e.g. ``/ws``).
    """
    root = Resource()
    info = InfoPage(router, ws_path, subprotocols)
    root.putChild(b"", info)
    node = root
    parts = [p for p in ws_path.strip("/").split("/") if p]
    for part in parts[:-1]:
        child = Resource()
        node.putChild(part.encode(), child)
        node = child
    node.putChild(parts[-1].encode(), WebSocketResource(websocket))
    site = Site(root)
    site.noisy = False
    return site
