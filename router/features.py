"""
The roles and features the router announces in WELCOME: exactly what it implements.
"""

from autobahn.wamp.role import RoleBrokerFeatures, RoleDealerFeatures

#: broker features, as announced in ``WELCOME.Details.roles.broker.features``
BROKER_FEATURES: dict[str, bool] = {
    "publisher_exclusion": True,
}

#: dealer features, as announced in ``WELCOME.Details.roles.dealer.features``
DEALER_FEATURES: dict[str, bool] = {}


def router_roles() -> dict[str, RoleBrokerFeatures | RoleDealerFeatures]:
    """
    The ``roles`` for WELCOME, as Autobahn role objects.
    """
    return {
        "broker": RoleBrokerFeatures(**BROKER_FEATURES),
        "dealer": RoleDealerFeatures(**DEALER_FEATURES),
    }
