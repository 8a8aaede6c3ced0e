"""
Shared fixtures: a router started in-process on loopback TCP and a Unix socket.
"""

import pytest
import pytest_twisted

from router.config import Config, ListenerConfig
from router.core import RealmOptions, RouterOptions
from router.service import RouterService
from tests.support import RunningRouter, with_timeout


def start_router(tmp_path, router_options: RouterOptions | None = None, **listener_options) -> RunningRouter:
    """
    Start a router on an ephemeral loopback port and a Unix socket under ``tmp_path``.
    """
    unix_path = str(tmp_path / "wampd.sock")
    config = Config(
        router=router_options or RouterOptions(realms={"realm1": RealmOptions(), "realm2": RealmOptions()}),
        listeners=(
            ListenerConfig("tcp:0:interface=127.0.0.1", **listener_options),
            ListenerConfig("unix:{}".format(unix_path), **listener_options),
        ),
    )
    service = RouterService(config)
    service.startService()
    pytest_twisted.blockon(with_timeout(service.ready))
    return RunningRouter(service, service.ports[0].getHost().port, unix_path)


@pytest.fixture
def router(tmp_path):
    """
    A running router with realms realm1 and realm2 and the default listener options.
    """
    running = start_router(tmp_path)
    yield running
    pytest_twisted.blockon(running.service.stopService())
