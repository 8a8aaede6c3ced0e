"""
Building the router's replies: ERROR for a request, and the delivery type the core returns.
"""

from typing import Any, TypeAlias

from autobahn.wamp.message import Error, Message

from router.peer import Peer

#: What the routing core returns: each message paired with the session it goes to, in send order.
Deliveries: TypeAlias = list[tuple[Peer, Message]]


def error_for(request: Any, error_uri: str, text: str | None = None) -> Error:
    """
    The ERROR answering ``request`` (a SUBSCRIBE, CALL, ... message) with ``error_uri``.

    :param request: The request message; its type and request id are echoed.
    :param error_uri: One of the constants in :mod:`router.uris`.
    :param text: A human-readable explanation, sent as the single positional argument.
    """
    return Error(request.MESSAGE_TYPE, request.request, error_uri, args=[text] if text else None)
