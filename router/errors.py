"""
Exceptions of the routing core.
"""


class ProtocolViolation(Exception):
    """
    The peer broke the WAMP protocol; its session ends with ABORT ``wamp.error.protocol_violation``.

    The message text goes to the peer in ABORT's details, so it must describe only the peer's own
    input.
    """
