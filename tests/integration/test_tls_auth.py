"""
Authentication by TLS client certificate (authmethod ``tls``) with real Autobahn|Python clients.
"""

from dataclasses import replace

import pytest
import pytest_twisted
from autobahn.wamp.types import ComponentConfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from router.auth.tls import TlsMethod, TlsPrincipal
from tests.conftest import dev_tls, start_router
from tests.integration.test_tls import client_pem, client_pki  # noqa: F401 - the fixture
from tests.support import Client, client_factory, with_timeout


def fingerprint(cert_path: str) -> str:
    """
    The SHA-256 fingerprint of a PEM certificate file, in hex.
    """
    with open(cert_path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).fingerprint(hashes.SHA256()).hex()


class TlsClient(Client):
    """
    A client that asks for TLS client certificate authentication.
    """

    def onConnect(self):
        self.join("realm1", authmethods=["tls"])


@pytest.fixture(params=["known", "unknown"])
def cert_auth_router(request, tmp_path, client_pki):  # noqa: F811 - pytest fixture injection
    """
    A TLS router requiring client certificates signed by the test CA; with "known" the good client
    certificate is principal device7 (role user), with "unknown" no principal names it.
    """
    good = fingerprint(client_pki.good[0]) if request.param == "known" else "00" * 32
    methods = {"tls": TlsMethod({"device7": TlsPrincipal(good, "user")})}
    options = replace(dev_tls(tmp_path / "server"), ca_certs=(client_pki.ca,))
    running = start_router(tmp_path, tls=options, auth=methods)
    running.known = request.param == "known"
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest.mark.parametrize("transport", ["websocket", "rawsocket-tcp"])
@pytest_twisted.inlineCallbacks
def test_client_certificate_authentication(cert_auth_router, client_pki, transport):  # noqa: F811
    """A configured certificate joins as its principal with authmethod tls; a trusted but unnamed one is refused."""
    session = TlsClient(ComponentConfig(realm="realm1"))
    endpoint, factory = client_factory(cert_auth_router, transport, "json", lambda: session, True,
                                       client_pem(client_pki.good))
    yield with_timeout(endpoint.connect(factory))
    if cert_auth_router.known:
        details = yield with_timeout(session.joined)
        assert (details.authid, details.authrole, details.authmethod) == ("device7", "user", "tls")
    else:
        with pytest.raises(RuntimeError, match="wamp.error.authentication_failed"):
            yield with_timeout(session.joined)
