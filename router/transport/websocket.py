"""
WAMP over WebSocket: Autobahn's server factory with the router's decoding and size handling.
"""

from typing import Any

from autobahn.twisted.websocket import WampWebSocketServerFactory, WampWebSocketServerProtocol

from router.codec import Oversized, decode
from router.transport.handler import SessionFactory
from router.transport.serializers import serializers_for


class RouterWebSocketProtocol(WampWebSocketServerProtocol):
    """
    A WAMP WebSocket connection: every payload goes through :func:`router.codec.decode`, so bad input
    becomes an ABORT or ERROR from the session machine rather than a dropped connection.
    """

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        for item in decode(self._serializer, payload, isBinary):
            if self._session is None:
                return
            self._session.onMessage(item)

    def _max_message_size_exceeded(self, msg_size: int, max_msg_size: int, reason: str) -> None:
        if self._session is not None:
            self._session.onMessage(Oversized(msg_size, max_msg_size))
        WampWebSocketServerProtocol._max_message_size_exceeded(self, msg_size, max_msg_size, reason)


def websocket_factory(
    sessions: SessionFactory, serializers: list[str], max_message_size: int, url: str | None = None, **options: Any
) -> WampWebSocketServerFactory:
    """
    A WebSocket server factory for WAMP, speaking ``wamp.2.<serializer>`` for each serializer given.

    :param sessions: Makes the per-connection session handlers.
    :param serializers: Serializer names, in order of preference.
    :param max_message_size: Largest message accepted, in bytes.
    :param url: The WebSocket URL the factory serves (for Autobahn's origin checks).
    """
    factory = WampWebSocketServerFactory(sessions, url=url, serializers=serializers_for(serializers))
    factory.protocol = RouterWebSocketProtocol
    factory.noisy = False
    factory.setProtocolOptions(
        # fail with a close frame (1009 too big, 1007 bad UTF-8) instead of a reset that would also
        # discard the ABORT queued before it
        failByDrop=False,
        maxMessagePayloadSize=max_message_size,
        maxFramePayloadSize=max_message_size,
        **options,
    )
    return factory
