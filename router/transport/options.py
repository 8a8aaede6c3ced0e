"""
Transport options and their defaults: WebSocket settings, handshake and close deadlines, and the
bound on a session's unsent output.

Plain data with no Twisted or Autobahn imports, so configuration code can use it cheaply.
"""

import re
from dataclasses import dataclass

#: seconds a new connection may take to complete its RawSocket handshake, or on a universal port
#: to send its first request (HTTP, WebSocket upgrade or RawSocket handshake)
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
#: seconds a new connection has to establish a WAMP session (HELLO to WELCOME, authentication included)
DEFAULT_JOIN_TIMEOUT = 15.0
#: seconds a connection the router closes may take to go away before it is aborted
DEFAULT_CLOSE_TIMEOUT = 5.0
#: bytes a session may have waiting while its peer does not read, before it is closed
DEFAULT_MAX_SEND_BUFFER = 16 * 1024 * 1024

#: an allowed origin: ``scheme://host[:port]``, ``*`` standing for any run of characters
_ORIGIN = re.compile(r"^(?P<scheme>[a-z*][a-z0-9+.*-]*)://(?P<host>\[[0-9a-f:.*]+\]|[^/:?#\[\]@\s]+)"
                     r"(?::(?P<port>[0-9]+|\*))?$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class WebSocketOptions:
    """
    The WebSocket settings of a listener (Autobahn's protocol options).

    Autobahn runs its timers on whole-second ticks: each timeout fires up to a second early.
    """

    #: origins browsers may connect from: ``*`` (any), ``null`` (sandboxed pages, ``file:``), or
    #: ``scheme://host[:port]`` with ``*`` wildcards; a missing port means the scheme's default
    allowed_origins: tuple[str, ...] = ("*",)
    #: seconds to complete the WebSocket opening handshake
    open_handshake_timeout: float = 10.0
    #: seconds to complete the closing handshake before the connection is dropped
    close_handshake_timeout: float = 5.0
    #: seconds between the router's pings (0: no pings)
    auto_ping_interval: float = 30.0
    #: seconds to wait for the pong before the peer is considered dead and dropped
    auto_ping_timeout: float = 10.0
    #: accept permessage-deflate; incoming messages are limited after decompression
    compression: bool = False


def origin_problem(origin: str) -> str | None:
    """
    Why ``origin`` is not a valid entry of ``allowed_origins``, or ``None`` if it is.
    """
    if origin in ("*", "null") or _ORIGIN.match(origin.lower()):
        return None
    return "{!r} is not an origin (use *, null, or scheme://host[:port] with * wildcards)".format(origin)


def origin_patterns(allowed: tuple[str, ...]) -> tuple[list[str], bool]:
    """
    Autobahn's ``allowedOrigins`` wildcards for ``allowed`` and whether the ``null`` origin is allowed.

    Autobahn matches a browser's ``Origin`` as ``scheme://host:port`` with the default port filled
    in, so an entry without a port gets its scheme's default port (any port for other schemes).

    :param allowed: Entries that passed :func:`origin_problem`.
    """
    patterns = []
    allow_null = False
    for origin in allowed:
        if origin == "*":
            patterns.append("*")
            allow_null = True
        elif origin == "null":
            allow_null = True
        else:
            match = _ORIGIN.match(origin.lower())
            assert match is not None, origin
            scheme, host = match["scheme"], match["host"].strip("[]")
            port = match["port"] or _DEFAULT_PORTS.get(scheme, "*")
            patterns.append("{}://{}:{}".format(scheme, host, port))
    return patterns, allow_null
