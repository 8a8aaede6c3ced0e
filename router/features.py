"""
The roles and features the router announces in WELCOME: exactly what it implements.
"""

from typing import Any

#: broker features, as announced in ``WELCOME.Details.roles.broker.features``
BROKER_FEATURES: dict[str, bool] = {
    "pattern_based_subscription": True,
    "publisher_exclusion": True,
    "publisher_identification": True,
    "subscriber_blackwhite_listing": True,
    "event_retention": True,
    "event_history": True,
    "subscription_revocation": True,
    "session_meta_api": True,
    "subscription_meta_api": True,
    "payload_passthru_mode": True,
}

#: dealer features, as announced in ``WELCOME.Details.roles.dealer.features``
DEALER_FEATURES: dict[str, bool] = {
    "pattern_based_registration": True,
    "shared_registration": True,
    "progressive_call_results": True,
    "progressive_call_invocations": True,
    "call_canceling": True,
    "call_timeout": True,
    "caller_identification": True,
    "registration_revocation": True,
    "session_meta_api": True,
    "registration_meta_api": True,
    "testament_meta_api": True,
    "payload_passthru_mode": True,
}


def router_roles() -> dict[str, Any]:
    """
    ``WELCOME.Details.roles``: each role with its features.
    """
    return {
        "broker": {"features": dict(BROKER_FEATURES)},
        "dealer": {"features": dict(DEALER_FEATURES)},
    }
