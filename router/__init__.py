"""
wampd: a WAMP v2 router on Twisted and Autobahn.

The routing core (:mod:`router.session`, :mod:`router.realm`, :mod:`router.broker`,
:mod:`router.dealer`) is sans-IO; :mod:`router.transport` binds it to Autobahn's transports and
:mod:`router.service` runs it as a Twisted service.
"""

__version__ = "0.1.0"

import txaio

txaio.use_twisted()
