"""
wampd's benchmark: ``python -m bench`` (see ``bench/README.md``).

It starts a router (wampd by default, any command or URL otherwise), drives it from separate load
generator processes that speak WAMP with pre-serialized messages over raw WebSocket and RawSocket
clients, and reads the router's CPU time and memory from ``/proc``.
"""
