"""
Sample backends for wampd: Autobahn|Python ``ApplicationSession`` subclasses that work against any
WAMP router.

- :mod:`components.ticker`: a retained stream of ticks (a counter and the time) on a topic.
- :mod:`components.calculator`: plain RPC, an error with an application URI, and a long-running
  procedure with progressive results that stops when the call is canceled.
- :mod:`components.chat`: a chat room: messages by pub/sub, presence kept from the router's session
  meta events, and recent history for late joiners.
- :mod:`components.kv`: a key-value store: get/set/delete by RPC, changes announced by pub/sub.

Each runs on its own (``python -m components.ticker --url ws://127.0.0.1:8080/ws --realm realm1``)
or inside wampd, listed under ``components`` in its configuration (wampd's built-in default runs
all four on ``realm1``).
"""
