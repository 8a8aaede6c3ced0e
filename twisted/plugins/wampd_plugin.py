"""
The ``twistd wampd`` plugin: one declaration; the code lives in :mod:`router.tap`.
"""

from twisted.application.service import ServiceMaker

wampd = ServiceMaker("wampd", "router.tap", "WAMP v2 router (pub/sub and RPC)", "wampd")
