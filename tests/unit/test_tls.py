"""
TLS without sockets: the ``tls`` listener key and its errors, the reloadable server context, the
TLS layer's deadline, the development certificate and the ``wampd cert`` options.
"""

import ipaddress
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python import usage

from router.cert import CertOptions, host_name, make_certificate, write_certificate
from router.cli import WampdOptions
from router.config import ConfigError, parse_config
from router.transport.tls import DEFAULT_CIPHERS, ServerTLS, TLSConfigError, TLSListenerFactory, TLSOptions


@pytest.fixture
def pem(tmp_path):
    """
    A development certificate and key in ``tmp_path``, and some files that are not what they claim.
    """
    written = write_certificate(str(tmp_path), ["localhost"])
    other = write_certificate(str(tmp_path / "other"), ["localhost"])
    (tmp_path / "garbage.pem").write_text("not PEM at all\n")
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "encrypted.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    return {
        "cert": written.cert_path, "key": written.key_path, "other_key": other.key_path,
        "garbage": str(tmp_path / "garbage.pem"), "encrypted": str(tmp_path / "encrypted.key"),
        "missing": str(tmp_path / "missing.pem"),
    }


def listener_doc(tls, endpoint="tcp:8443"):
    """
    A configuration document with one listener whose ``tls`` key is ``tls``.
    """
    return {"listeners": [{"endpoint": endpoint, "tls": tls}]}


def test_tls_key_yields_absolute_paths_and_default_ciphers(pem, tmp_path, monkeypatch):
    """A listener's tls key yields TLSOptions with absolute file paths and the forward-secret default ciphers."""
    monkeypatch.chdir(tmp_path)
    config = parse_config(listener_doc({"cert": os.path.basename(pem["cert"]), "key": pem["key"],
                                        "chain": [pem["cert"]], "ca_certs": [pem["cert"]]}), "wampd.yaml")
    (listener,) = config.listeners
    assert listener.tls == TLSOptions(key=pem["key"], cert=pem["cert"], chain=(pem["cert"],),
                                      ca_certs=(pem["cert"],), ciphers=DEFAULT_CIPHERS)
    assert os.path.isabs(listener.tls.cert)


def test_listener_without_tls_key_has_no_tls():
    """A listener without the tls key serves plain TCP (tls is None)."""
    (listener,) = parse_config({"listeners": [{"endpoint": "tcp:8080"}]}, "wampd.yaml").listeners
    assert listener.tls is None


@pytest.mark.parametrize("tls, path, message", [
    ({"cert": "{cert}"}, "listeners[0].tls.key", "missing"),
    ({"key": "{key}", "cert": "{cert}", "pasword": "x"}, "listeners[0].tls.pasword", "unknown key"),
    ({"key": "{missing}", "cert": "{cert}"}, "listeners[0].tls.key", "{missing}"),
    ({"key": "{garbage}", "cert": "{cert}"}, "listeners[0].tls.key", "no usable PEM private key"),
    ({"key": "{encrypted}", "cert": "{cert}"}, "listeners[0].tls.key", "encrypted"),
    ({"key": "{other_key}", "cert": "{cert}"}, "listeners[0].tls.key", "does not match"),
    ({"key": "{key}", "cert": "{garbage}"}, "listeners[0].tls.cert", "{garbage}"),
    ({"key": "{key}", "cert": "{cert}", "chain": ["{cert}", "{missing}"]}, "listeners[0].tls.chain[1]", "{missing}"),
    ({"key": "{key}", "cert": "{cert}", "chain": "{cert}"}, "listeners[0].tls.chain", "must be a list"),
    ({"key": "{key}", "cert": "{cert}", "ca_certs": ["{garbage}"]}, "listeners[0].tls.ca_certs[0]", "{garbage}"),
    ({"key": "{key}", "cert": "{cert}", "ciphers": "NO-SUCH-CIPHER"}, "listeners[0].tls.ciphers", "NO-SUCH-CIPHER"),
    ({"key": "{key}", "cert": "{cert}", "ciphers": 3}, "listeners[0].tls.ciphers", "cipher string"),
    ({"key": 1, "cert": "{cert}"}, "listeners[0].tls.key", "a PEM file path"),
    ("yes", "listeners[0].tls", "must be a mapping"),
])
def test_tls_errors_name_the_key_path_and_file(pem, tls, path, message):
    """Each unusable tls setting is refused naming the config file, listeners[i].tls.<key> and the file at fault."""
    def fill(value):
        if isinstance(value, str):
            return value.format(**pem)
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    with pytest.raises(ConfigError) as raised:
        parse_config(listener_doc(fill(tls)), "wampd.yaml")
    assert raised.value.path == path
    assert str(raised.value).startswith("wampd.yaml: {}: ".format(path))
    assert fill(message) in str(raised.value)


def test_tls_on_an_ssl_endpoint_is_refused(pem):
    """tls on an ssl: endpoint (TLS twice) is refused, pointing to a tcp: endpoint."""
    with pytest.raises(ConfigError) as raised:
        parse_config(listener_doc({"key": pem["key"], "cert": pem["cert"]}, endpoint="ssl:8443"), "wampd.yaml")
    assert raised.value.path == "listeners[0].tls"
    assert "tcp:" in raised.value.problem


# The reloadable context


def test_reload_presents_the_new_certificate_to_new_connections(pem):
    """After reload, new connections are made with a new context presenting the rewritten certificate."""
    tls = ServerTLS(TLSOptions(key=pem["key"], cert=pem["cert"]))
    first = tls.serverConnectionForTLS(None).get_context()
    old_serial = tls.certificate.serial_number
    renewed = write_certificate(os.path.dirname(pem["cert"]), ["localhost"], overwrite=True)
    assert tls.reload().serial_number == renewed.certificate.serial_number != old_serial
    assert tls.serverConnectionForTLS(None).get_context() is not first


def test_failed_reload_raises_and_keeps_the_context(pem):
    """A reload whose files do not load raises TLSConfigError naming the option and keeps the current certificate."""
    tls = ServerTLS(TLSOptions(key=pem["key"], cert=pem["cert"]))
    context, serial = tls.serverConnectionForTLS(None).get_context(), tls.certificate.serial_number
    with open(pem["cert"], "w") as f:
        f.write("truncated")
    with pytest.raises(TLSConfigError) as raised:
        tls.reload()
    assert raised.value.option == "cert"
    assert tls.certificate.serial_number == serial
    assert tls.serverConnectionForTLS(None).get_context() is context


def test_expired_tells_the_validity_period(pem):
    """ServerTLS.expired is false within the certificate's validity period and true after it."""
    tls = ServerTLS(TLSOptions(key=pem["key"], cert=pem["cert"]))
    now = datetime.now(timezone.utc)
    assert not tls.expired(now)
    assert tls.expired(now + timedelta(days=1000))


# The TLS layer's deadline


def tls_connection(pem, timeout=10.0):
    """
    A server TLS protocol on an in-memory transport, its clock and its transport.
    """
    clock = Clock()
    factory = TLSListenerFactory(ServerTLS(TLSOptions(key=pem["key"], cert=pem["cert"])),
                                 Factory.forProtocol(Protocol), clock, handshake_timeout=timeout)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, clock, transport


def test_silent_connection_is_aborted_after_the_handshake_timeout(pem):
    """A TLS connection that sends nothing is aborted once the handshake timeout has passed, not before."""
    _protocol, clock, transport = tls_connection(pem, timeout=10.0)
    clock.advance(9.9)
    assert not transport.disconnected
    clock.advance(0.2)
    assert transport.disconnected


def test_first_answer_cancels_the_deadline(pem):
    """Once the application has written its first answer, the handshake timeout no longer applies."""
    protocol, clock, transport = tls_connection(pem, timeout=10.0)
    protocol.write(b"answer")  # held until the handshake completes, but the router has answered
    clock.advance(60)
    assert not transport.disconnected
    assert not clock.getDelayedCalls()


# The development certificate


@pytest.mark.parametrize("value, expected", [
    ("localhost", x509.DNSName("localhost")),
    ("Example.COM.", x509.DNSName("example.com")),
    ("*.dev.test", x509.DNSName("*.dev.test")),
    ("127.0.0.1", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
    ("::1", x509.IPAddress(ipaddress.ip_address("::1"))),
    ("bücher.test", x509.DNSName("xn--bcher-kva.test")),
    ("bad host", None),
    ("-leading.test", None),
    ("a..b", None),
    ("", None),
])
def test_host_names(value, expected):
    """--host takes DNS names (lower-cased, IDNA-encoded, a leading wildcard) and IP addresses, nothing else."""
    if expected is None:
        with pytest.raises(ValueError):
            host_name(value)
    else:
        assert host_name(value) == expected


def test_development_certificate_shape():
    """The certificate names every host as a SAN and is a self-signed non-CA server certificate for the days asked."""
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    key, cert = make_certificate(["localhost", "127.0.0.1"], days=30, now=now)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert cert.not_valid_before_utc <= now < now + timedelta(days=30) == cert.not_valid_after_utc
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()


def test_write_certificate_protects_the_key_and_existing_files(tmp_path):
    """The key is written with mode 0600, and existing files are only replaced with overwrite."""
    written = write_certificate(str(tmp_path / "new"), ["localhost"])
    assert stat.S_IMODE(os.stat(written.key_path).st_mode) == 0o600
    before = Path(written.cert_path).read_bytes()
    with pytest.raises(FileExistsError):
        write_certificate(str(tmp_path / "new"), ["localhost"])
    assert Path(written.cert_path).read_bytes() == before
    again = write_certificate(str(tmp_path / "new"), ["localhost"], overwrite=True)
    assert again.certificate.serial_number != written.certificate.serial_number
    assert sorted(os.listdir(tmp_path / "new")) == ["cert.pem", "key.pem"]


# The command line


def test_wampd_without_subcommand_runs_the_router():
    """Plain `wampd` options select no subcommand and build the router configuration."""
    options = WampdOptions()
    options.parseOptions([])
    assert options.subCommand is None
    assert options["config_object"].listeners


def test_wampd_cert_options():
    """`wampd cert` defaults to localhost, 127.0.0.1 and ::1, and refuses bad hosts and validity periods."""
    options = WampdOptions()
    options.parseOptions(["cert", "--out", "certs"])
    assert options.subCommand == "cert"
    assert options.subOptions["host"] == ["localhost", "127.0.0.1", "::1"]
    assert options.subOptions["out"] == "certs"
    for bad in (["--host", "not a host"], ["--days", "0"], ["--days", "400"]):
        with pytest.raises(usage.UsageError):
            CertOptions().parseOptions(bad)

