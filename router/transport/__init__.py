"""
Twisted transports: Autobahn WebSocket and RawSocket factories bound to the router core.
"""
