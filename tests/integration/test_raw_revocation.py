"""
Subscription revocation on the wire: Autobahn|Python cannot parse ``UNSUBSCRIBED(0, ...)`` (see
README, known client limitations), so a hand-rolled subscriber that announces the feature checks it.
"""

import pytest_twisted

from tests.integration.test_bad_input import SUBSCRIBE, SUBSCRIBED, hang_up_all, open_client
from tests.integration.test_raw_advanced import join_with
from tests.support import connect

UNSUBSCRIBED = 35


@pytest_twisted.inlineCallbacks
def test_removed_subscriber_is_told_with_unsubscribed_zero(router):
    """wamp.subscription.remove_subscriber sends UNSUBSCRIBED(0, {subscription, reason}) to a subscriber announcing revocation."""
    try:
        subscriber = yield open_client(router, "rawsocket-tcp", "json")
        welcome = yield join_with(subscriber, {"subscriber": {"features": {"subscription_revocation": True}}})
        subscriber.send([SUBSCRIBE, 1, {}, "com.example.revoked"])
        subscribed = yield subscriber.next_message()
        assert subscribed[:2] == [SUBSCRIBED, 1]
        admin = yield connect(router)
        yield admin.call("wamp.subscription.remove_subscriber", subscribed[2], welcome[1],
                         reason="com.example.kicked")
        revoked = yield subscriber.next_message()
        assert revoked == [UNSUBSCRIBED, 0, {"subscription": subscribed[2], "reason": "com.example.kicked"}]
    finally:
        yield hang_up_all()
