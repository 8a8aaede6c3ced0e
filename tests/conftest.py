"""
Shared fixtures: a router started in-process on loopback TCP and a Unix socket, plain or with TLS.
"""

from pathlib import Path

import pytest
import pytest_twisted

from router.cert import write_certificate
from router.config import Config, ListenerConfig
from router.core import RealmOptions, RouterOptions
from router.service import RouterService
from router.transport.tls import TLSOptions
from tests.support import TLS_HOSTNAME, RunningRouter, with_timeout


def dev_tls(directory) -> TLSOptions:
    """
    TLS options with a fresh ``wampd cert`` certificate for localhost and 127.0.0.1 in ``directory``.
    """
    written = write_certificate(str(directory), [TLS_HOSTNAME, "127.0.0.1"])
    return TLSOptions(key=written.key_path, cert=written.cert_path)


def start_router(tmp_path, router_options: RouterOptions | None = None, **listener_options) -> RunningRouter:
    """
    Start a router on an ephemeral loopback port and a Unix socket under ``tmp_path``; with
    ``tls=TLSOptions(...)`` among the listener options both listeners serve TLS.
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
    tls = listener_options.get("tls")
    trust_root = Path(tls.cert).read_bytes() if tls is not None else None
    return RunningRouter(service, service.ports[0].getHost().port, unix_path, trust_root)


@pytest.fixture
def router(tmp_path):
    """
    A running router with realms realm1 and realm2 and the default listener options.
    """
    running = start_router(tmp_path)
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest.fixture
def tls_router(tmp_path):
    """
    Like ``router``, but both listeners serve TLS with a development certificate for localhost;
    :func:`tests.support.connect` uses TLS with it by default.
    """
    running = start_router(tmp_path, tls=dev_tls(tmp_path / "tls"))
    yield running
    pytest_twisted.blockon(running.service.stopService())
