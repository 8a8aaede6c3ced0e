"""
TLS listeners with real clients: WebSocket (wss://) and RawSocket over TLS, the TLS 1.2 minimum and
forward-secret defaults, client certificates checked against CA certificates, certificate reloading
(in-process and by SIGHUP to a ``wampd`` process), and the ``wampd cert`` development certificate.
"""

import os
import socket
import ssl
import stat
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import yaml
from autobahn.wamp.types import PublishOptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL
from service_identity import VerificationError
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import IHandshakeListener, IOpenSSLClientConnectionCreator
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.threads import deferToThread
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.failure import Failure
from zope.interface import implementer

from router.cert import write_certificate
from router.transport.tls import TLSOptions
from tests.conftest import dev_tls, start_router
from tests.integration.test_autobahn_js import (
    INTEROP_SCRIPT,
    JS_DIR,
    PROCESS_TIMEOUT,
    _killed,
    node_executable,
    result_line,
)
from tests.integration.test_process import WAMPD, RouterProcess, run_command, spawn  # noqa: F401 - spawn is a fixture
from tests.support import SERIALIZER_NAMES, TIMEOUT, TLS_HOSTNAME, RunningRouter, connect, sleep, with_timeout

#: a RawSocket handshake (JSON, largest messages): a universal port answers it with 4 octets
RAWSOCKET_HELLO = bytes([0x7F, 0xF1, 0, 0])


# A TLS probe: one handshake, what the router presented, and its first reply


@dataclass
class Probe:
    """
    What a TLS client saw: the router's certificate, the protocol version and cipher, its reply.
    """

    certificate: x509.Certificate
    version: str
    cipher: str
    reply: bytes


@implementer(IHandshakeListener)
class _ProbeProtocol(Protocol):
    """
    Sends a RawSocket handshake, notes what the TLS handshake negotiated, and waits for the reply.
    """

    def __init__(self) -> None:
        self.done: defer.Deferred[Probe] = defer.Deferred()
        self._seen: dict[str, Any] = {}
        self._reply = b""

    def connectionMade(self) -> None:
        self.transport.write(RAWSOCKET_HELLO)  # held by the TLS layer until the handshake is done

    def handshakeCompleted(self) -> None:
        connection = self.transport.getHandle()
        self._seen = {
            "certificate": connection.get_peer_certificate(as_cryptography=True),
            "version": connection.get_protocol_version_name(),
            "cipher": connection.get_cipher_name(),
        }

    def dataReceived(self, data: bytes) -> None:
        self._reply += data
        if len(self._reply) >= 4 and not self.done.called:
            self.done.callback(Probe(reply=self._reply, **self._seen))
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure) -> None:
        if not self.done.called:
            self.done.errback(reason)


@defer.inlineCallbacks
def probe(port: int, creator: Any) -> Any:
    """
    Make one TLS connection to ``port`` with ``creator`` and send a RawSocket handshake; fires with
    a :class:`Probe` once the router replied, or fails with why the connection ended.
    """
    protocol = _ProbeProtocol()
    endpoint = wrapClientTLS(creator, TCP4ClientEndpoint(reactor, "127.0.0.1", port))
    yield with_timeout(endpoint.connect(Factory.forProtocol(lambda: protocol)))
    result = yield with_timeout(protocol.done)
    return result


@defer.inlineCallbacks
def refusal(port: int, creator: Any) -> Any:
    """
    Probe ``port`` expecting the connection to fail; fires with OpenSSL's reasons as one string.
    """
    try:
        result = yield probe(port, creator)
    except SSL.Error as e:
        return str(e)
    raise AssertionError("the router accepted the connection: {}".format(result))


@implementer(IOpenSSLClientConnectionCreator)
class RawClient:
    """
    A TLS client configured directly with pyOpenSSL (versions and ciphers Twisted's options refuse).

    :param trust: A PEM file of certificates to verify the router's with (no verification if ``None``).
    :param cert: A PEM certificate and its key to present, as (cert file, key file).
    :param version: The only protocol version to offer (``SSL.TLS1_1_VERSION``, ...).
    :param ciphers: An OpenSSL cipher string for TLS 1.2 and below.
    """

    def __init__(self, trust: str | None = None, cert: tuple[str, str] | None = None, version: int | None = None,
                 ciphers: bytes | None = None) -> None:
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        if trust is not None:
            context.load_verify_locations(trust)
            context.set_verify(SSL.VERIFY_PEER)
        if cert is not None:
            context.use_certificate_chain_file(cert[0])
            context.use_privatekey_file(cert[1])
        if version is not None:
            context.set_min_proto_version(version)
            context.set_max_proto_version(version)
        if ciphers is not None:
            context.set_cipher_list(ciphers)
        self._context = context

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        connection.set_tlsext_host_name(TLS_HOSTNAME.encode("ascii"))
        return connection


# A small PKI for client certificates


def _pem(path: Path, *objects: Any) -> str:
    data = b""
    for obj in objects:
        if isinstance(obj, x509.Certificate):
            data += obj.public_bytes(serialization.Encoding.PEM)
        else:
            data += obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    path.write_bytes(data)
    return str(path)


def _issue(name: str, issuer: tuple[Any, x509.Name] | None = None, ca: bool = False,
           valid: tuple[timedelta, timedelta] = (timedelta(days=-1), timedelta(days=30))) -> tuple[Any, Any]:
    """
    A key and a certificate for ``name``, signed by ``issuer`` (key, name) or self-signed.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signing_key, issuer_name = issuer or (key, subject)
    now = datetime.now(timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid[0])
        .not_valid_after(now + valid[1])
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return key, builder.sign(signing_key, hashes.SHA256())


@dataclass
class ClientPKI:
    """
    A client CA, and client certificates: ``good`` (signed by it), ``expired`` (signed by it, but
    expired), ``stranger`` (signed by another CA); each a (cert file, key file) pair.
    """

    ca: str
    good: tuple[str, str]
    expired: tuple[str, str]
    stranger: tuple[str, str]


@pytest.fixture
def client_pki(tmp_path) -> ClientPKI:
    """
    Client certificates and their CA under ``tmp_path``.
    """
    ca_key, ca_cert = _issue("wampd test client CA", ca=True)
    other_key, other_cert = _issue("some other CA", ca=True)
    issued = {}
    for name, issuer, valid in [
        ("good", (ca_key, ca_cert.subject), (timedelta(days=-1), timedelta(days=30))),
        ("expired", (ca_key, ca_cert.subject), (timedelta(days=-30), timedelta(days=-1))),
        ("stranger", (other_key, other_cert.subject), (timedelta(days=-1), timedelta(days=30))),
    ]:
        key, cert = _issue("client-" + name, issuer, valid=valid)
        issued[name] = (_pem(tmp_path / (name + ".crt"), cert), _pem(tmp_path / (name + ".key"), key))
    return ClientPKI(ca=_pem(tmp_path / "client-ca.crt", ca_cert), **issued)


@pytest.fixture
def mtls_router(tmp_path, client_pki):
    """
    A router whose listeners serve TLS and require a client certificate signed by the client CA.
    """
    options = replace(dev_tls(tmp_path / "server"), ca_certs=(client_pki.ca,))
    running = start_router(tmp_path, tls=options)
    yield running
    pytest_twisted.blockon(running.service.stopService())


def client_pem(pair: tuple[str, str]) -> bytes:
    """
    A client certificate and its key as one PEM blob, for :func:`tests.support.connect`.
    """
    return Path(pair[0]).read_bytes() + Path(pair[1]).read_bytes()


def only_handler(router: RunningRouter) -> Any:
    """
    The router's one open session handler (its transport carries Autobahn's transport details).
    """
    handlers = list(router.service.sessions.live)
    assert len(handlers) == 1, handlers
    return handlers[0]


# The matrix: join, pub/sub and RPC over TLS


@pytest.mark.parametrize("transport", ["websocket", "rawsocket-tcp"])
@pytest.mark.parametrize("serializer", SERIALIZER_NAMES)
@pytest_twisted.inlineCallbacks
def test_join_publish_and_call_over_tls(tls_router, transport, serializer):
    """Over TLS, clients join on a secure transport, get events and call procedures."""
    callee = yield connect(tls_router, transport, serializer)
    assert callee.details.realm == "realm1"
    assert callee._transport.transport_details.is_secure
    yield callee.register(lambda a, b: a + b, "com.example.add")
    received: defer.Deferred[Any] = defer.Deferred()
    yield callee.subscribe(lambda *args: received.callback(args), "com.example.topic")
    caller = yield connect(tls_router, transport, serializer)
    assert (yield with_timeout(caller.call("com.example.add", 2, 3))) == 5
    yield caller.publish("com.example.topic", "hello", options=PublishOptions(acknowledge=True))
    assert (yield with_timeout(received)) == ("hello",)


@pytest.mark.parametrize("transport", ["websocket", "rawsocket-tcp", "rawsocket-unix"])
@pytest_twisted.inlineCallbacks
def test_router_sees_a_secure_transport(tls_router, transport):
    """The router's side of a TLS session says is_secure, with a TLS channel type and a tls-unique channel id."""
    yield connect(tls_router, transport, "json")
    details = only_handler(tls_router).transport.transport_details
    assert details.is_secure is True
    assert details.channel_type == details.CHANNEL_TYPE_TLS
    assert details.channel_id["tls-unique"] not in (None, b"\x00" * 32)
    assert details.peer_cert is None  # no client certificate asked for, none sent


@pytest_twisted.inlineCallbacks
def test_plain_http_client_gets_no_answer_from_a_tls_port(tls_router):
    """A plain-text WebSocket upgrade request sent to a TLS port gets no HTTP answer; the connection is closed."""
    received = []
    closed: defer.Deferred[None] = defer.Deferred()

    class Plain(Protocol):
        def connectionMade(self) -> None:
            self.transport.write(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\n\r\n")

        def dataReceived(self, data: bytes) -> None:
            received.append(data)

        def connectionLost(self, reason: Failure) -> None:
            closed.callback(None)

    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", tls_router.tcp_port)
    yield with_timeout(endpoint.connect(Factory.forProtocol(Plain)))
    yield with_timeout(closed)
    assert b"HTTP/" not in b"".join(received)
    assert not tls_router.service.sessions.live


# Versions and ciphers


@pytest.fixture(params=["default-ciphers", "permissive-ciphers"])
def versions_router(request, tmp_path):
    """
    A TLS router with the default cipher string, or with one that would allow TLS 1.0 ciphers
    (so only the protocol minimum keeps old versions out).
    """
    tls = dev_tls(tmp_path / "server")
    if request.param == "permissive-ciphers":
        tls = replace(tls, ciphers="DEFAULT:@SECLEVEL=0")
    running = start_router(tmp_path, tls=tls)
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest.mark.parametrize("version, accepted", [
    pytest.param(SSL.TLS1_VERSION, False, id="TLSv1.0"),
    pytest.param(SSL.TLS1_1_VERSION, False, id="TLSv1.1"),
    pytest.param(SSL.TLS1_2_VERSION, True, id="TLSv1.2"),
    pytest.param(SSL.TLS1_3_VERSION, True, id="TLSv1.3"),
])
@pytest_twisted.inlineCallbacks
def test_tls_versions_below_1_2_are_refused(versions_router, version, accepted):
    """TLS 1.0 and 1.1 clients are refused with a protocol-version alert, whatever the ciphers; 1.2 and 1.3 connect."""
    client = RawClient(version=version, ciphers=b"DEFAULT:@SECLEVEL=0")
    if accepted:
        result = yield probe(versions_router.tcp_port, client)
        assert result.reply[:1] == b"\x7f"
    else:
        reasons = yield refusal(versions_router.tcp_port, client)
        assert "alert protocol version" in reasons


@pytest.fixture
def rsa_router(tmp_path):
    """
    A TLS router with an RSA certificate (with which RSA key exchange, no forward secrecy, is possible).
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_HOSTNAME)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(TLS_HOSTNAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    tls = TLSOptions(key=_pem(tmp_path / "rsa.key", key), cert=_pem(tmp_path / "rsa.crt", cert))
    running = start_router(tmp_path, tls=tls)
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest_twisted.inlineCallbacks
def test_default_tls12_ciphers_are_forward_secret(rsa_router):
    """By default TLS 1.2 clients get an ECDHE AEAD cipher; one offering only RSA key exchange is refused."""
    result = yield probe(rsa_router.tcp_port, RawClient(version=SSL.TLS1_2_VERSION))
    assert result.version == "TLSv1.2"
    assert result.cipher.startswith("ECDHE-RSA-") and ("GCM" in result.cipher or "CHACHA20" in result.cipher)
    reasons = yield refusal(rsa_router.tcp_port,
                            RawClient(version=SSL.TLS1_2_VERSION, ciphers=b"AES128-GCM-SHA256:AES256-GCM-SHA384"))
    assert "handshake failure" in reasons


@pytest.fixture
def chacha_router(tmp_path):
    """
    A TLS router configured with the cipher string ``ECDHE+CHACHA20``.
    """
    running = start_router(tmp_path, tls=replace(dev_tls(tmp_path / "server"), ciphers="ECDHE+CHACHA20"))
    yield running
    pytest_twisted.blockon(running.service.stopService())


@pytest_twisted.inlineCallbacks
def test_configured_ciphers_are_used(chacha_router):
    """A listener's cipher string decides the TLS 1.2 cipher."""
    result = yield probe(chacha_router.tcp_port, RawClient(version=SSL.TLS1_2_VERSION))
    assert "CHACHA20" in result.cipher


# Client certificates


@pytest.mark.parametrize("transport", ["websocket", "rawsocket-tcp"])
@pytest_twisted.inlineCallbacks
def test_client_with_certificate_from_the_ca_joins(mtls_router, client_pki, transport):
    """A client with a certificate from the configured CA joins; the router's transport details carry it."""
    client = yield connect(mtls_router, transport, "json", client_cert=client_pem(client_pki.good))
    assert client.details.realm == "realm1"
    details = only_handler(mtls_router).transport.transport_details
    assert details.is_secure is True
    assert details.peer_cert is not None
    assert details.peer_cert["subject"]["cn"] == "client-good"
    assert details.peer_cert["issuer"]["cn"] == "wampd test client CA"


@pytest.fixture(params=["websocket", "rawsocket"])
def mtls_single_router(request, tmp_path, client_pki):
    """
    A router whose listeners are WebSocket-only or RawSocket-only (not universal), serving TLS and
    requiring client certificates from the client CA; yields the router and the client transport.
    """
    options = replace(dev_tls(tmp_path / "server"), ca_certs=(client_pki.ca,))
    running = start_router(tmp_path, tls=options, type=request.param)
    yield running, "websocket" if request.param == "websocket" else "rawsocket-tcp"
    pytest_twisted.blockon(running.service.stopService())


@pytest_twisted.inlineCallbacks
def test_single_protocol_listener_passes_the_client_certificate(mtls_single_router, client_pki):
    """WebSocket-only and RawSocket-only TLS listeners also pass on the client certificate and tls-unique id."""
    router, transport = mtls_single_router
    yield connect(router, transport, "cbor", client_cert=client_pem(client_pki.good))
    details = only_handler(router).transport.transport_details
    assert details.is_secure is True
    assert details.peer_cert["subject"]["cn"] == "client-good"
    assert details.channel_id["tls-unique"] not in (None, b"\x00" * 32)


@pytest.mark.parametrize("which, alert", [
    pytest.param(None, "certificate required", id="no-certificate"),
    pytest.param("stranger", "unknown ca", id="untrusted-ca"),
    pytest.param("expired", "certificate expired", id="expired"),
])
@pytest_twisted.inlineCallbacks
def test_client_without_a_valid_certificate_is_refused(mtls_router, client_pki, which, alert):
    """Without a client certificate, or with one from another CA or expired, the handshake fails with its alert."""
    cert = getattr(client_pki, which) if which else None
    reasons = yield refusal(mtls_router.tcp_port, RawClient(trust=None, cert=cert))
    assert alert in reasons
    assert not mtls_router.service.sessions.live


@pytest_twisted.inlineCallbacks
def test_client_certificate_is_checked_for_tls12_too(mtls_router, client_pki):
    """Over TLS 1.2, a client without a certificate is refused and one with a good certificate connects."""
    reasons = yield refusal(mtls_router.tcp_port, RawClient(version=SSL.TLS1_2_VERSION))
    assert "handshake failure" in reasons or "certificate" in reasons
    result = yield probe(mtls_router.tcp_port, RawClient(version=SSL.TLS1_2_VERSION, cert=client_pki.good))
    assert result.reply[:1] == b"\x7f"


# Reloading certificates


@pytest_twisted.inlineCallbacks
def test_reload_serves_the_new_certificate_and_keeps_sessions(tls_router):
    """After reload_tls a new connection sees the new certificate's serial, and sessions opened before keep working."""
    tls = tls_router.service.config.listeners[0].tls
    before = yield probe(tls_router.tcp_port, RawClient())
    old_client = yield connect(tls_router, "websocket", "cbor")
    events: defer.Deferred[Any] = defer.Deferred()
    yield old_client.subscribe(lambda *args: events.callback(args), "com.example.topic")
    yield old_client.register(lambda: "still here", "com.example.ping")

    renewed = write_certificate(os.path.dirname(tls.cert), [TLS_HOSTNAME, "127.0.0.1"], overwrite=True)
    assert tls_router.service.reload_tls() == 2  # the TCP and the Unix listener

    after = yield probe(tls_router.tcp_port, RawClient())
    assert after.certificate.serial_number == renewed.certificate.serial_number
    assert after.certificate.serial_number != before.certificate.serial_number
    new_client = yield connect(replace(tls_router, trust_root=Path(renewed.cert_path).read_bytes()),
                               "rawsocket-tcp", "msgpack")
    assert (yield with_timeout(new_client.call("com.example.ping"))) == "still here"
    yield new_client.publish("com.example.topic", "after reload", options=PublishOptions(acknowledge=True))
    assert (yield with_timeout(events)) == ("after reload",)
    assert old_client.is_attached()


@pytest_twisted.inlineCallbacks
def test_failed_reload_keeps_the_current_certificate(tls_router):
    """A reload whose files do not load changes nothing: reload_tls reports 0, the old certificate stays."""
    tls = tls_router.service.config.listeners[0].tls
    before = yield probe(tls_router.tcp_port, RawClient())
    Path(tls.cert).write_text("not a certificate\n")
    assert tls_router.service.reload_tls() == 0
    after = yield probe(tls_router.tcp_port, RawClient())
    assert after.certificate.serial_number == before.certificate.serial_number
    client = yield connect(tls_router, "rawsocket-tcp", "json")
    assert client.details.realm == "realm1"



@defer.inlineCallbacks
def wait_for_output(proc: RouterProcess, text: str, seconds: float = TIMEOUT) -> Any:
    """
    Wait (bounded) until ``text`` appears in the process's output.
    """
    waited = 0.0
    while text not in proc.output:
        assert waited < seconds, "no {!r} within {} s\n{}".format(text, seconds, proc.describe())
        yield sleep(0.05)
        waited += 0.05


@pytest_twisted.inlineCallbacks
def test_sighup_reloads_the_certificate_of_a_wampd_process(tmp_path, spawn):  # noqa: F811 - fixture
    """On SIGHUP a wampd process serves a renewed certificate to new connections; open sessions keep working."""
    certs = tmp_path / "certs"
    code, output = run_command(WAMPD + ["cert", "--out", str(certs), "--host", TLS_HOSTNAME], tmp_path)
    assert code == 0, output
    config = tmp_path / "wampd.yaml"
    config.write_text(yaml.safe_dump({
        "realms": [{"name": "realm1"}],
        "listeners": [{"endpoint": "tcp:0:interface=127.0.0.1",
                       "tls": {"cert": str(certs / "cert.pem"), "key": str(certs / "key.pem")}}],
    }))
    proc = spawn(WAMPD + ["--config", str(config)])
    port = yield proc.ready()
    before = yield probe(port, RawClient(trust=str(certs / "cert.pem")))
    old = RunningRouter(None, port, "", (certs / "cert.pem").read_bytes())
    subscriber = yield connect(old, "websocket", "json")
    events: defer.Deferred[Any] = defer.Deferred()
    yield subscriber.subscribe(lambda *args: events.callback(args), "com.example.topic")

    code, output = run_command(WAMPD + ["cert", "--out", str(certs), "--host", TLS_HOSTNAME, "--force"], tmp_path)
    assert code == 0, output
    renewed = x509.load_pem_x509_certificate((certs / "cert.pem").read_bytes())
    proc.signal("HUP")
    yield wait_for_output(proc, "reloaded")

    after = yield probe(port, RawClient(trust=str(certs / "cert.pem")))
    assert after.certificate.serial_number == renewed.serial_number != before.certificate.serial_number
    publisher = yield connect(replace(old, trust_root=(certs / "cert.pem").read_bytes()), "rawsocket-tcp", "cbor")
    yield publisher.publish("com.example.topic", "renewed", options=PublishOptions(acknowledge=True))
    assert (yield with_timeout(events)) == ("renewed",)
    assert proc.running
    proc.signal("TERM")
    status = yield proc.ended()
    assert status == (0, None), proc.describe()


# wampd cert


@pytest.fixture
def cli_cert_router(tmp_path):
    """
    A router serving the certificate and key `wampd cert --host localhost --host 127.0.0.1` wrote
    to ``tmp_path/dev``; yields the router, the directory and the command's output.
    """
    out = tmp_path / "dev"
    code, output = run_command(WAMPD + ["cert", "--out", str(out), "--host", "localhost", "--host", "127.0.0.1"],
                               tmp_path)
    assert code == 0, output
    running = start_router(tmp_path, tls=TLSOptions(key=str(out / "key.pem"), cert=str(out / "cert.pem")))
    yield running, out, output
    pytest_twisted.blockon(running.service.stopService())


@pytest_twisted.inlineCallbacks
def test_wampd_cert_output_loads_and_verifies_for_localhost(cli_cert_router):
    """`wampd cert` writes a 0600 key and a certificate clients verify for localhost and 127.0.0.1, not other names."""
    running, out, output = cli_cert_router
    assert "--ignore-certificate-errors-spki-list=" in output
    assert stat.S_IMODE(os.stat(out / "key.pem").st_mode) == 0o600
    trust = Certificate.loadPEM((out / "cert.pem").read_bytes())
    for hostname in ("localhost", "127.0.0.1"):
        result = yield probe(running.tcp_port, optionsForClientTLS(hostname, trustRoot=trust))
        assert result.reply[:1] == b"\x7f"
    with pytest.raises(VerificationError, match="example.com"):
        yield probe(running.tcp_port, optionsForClientTLS("example.com", trustRoot=trust))
    client = yield connect(running, "websocket", "msgpack")
    assert client.details.realm == "realm1"

    def python_ssl_handshake() -> bytes:
        # Python's own TLS stack, with the strict X.509 checks newer Pythons apply by default
        context = ssl.create_default_context(cafile=str(out / "cert.pem"))
        context.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
        with socket.create_connection(("127.0.0.1", running.tcp_port), timeout=TIMEOUT) as sock, \
                context.wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(RAWSOCKET_HELLO)
            return tls.recv(4)

    assert (yield with_timeout(deferToThread(python_ssl_handshake)))[:1] == b"\x7f"


@pytest_twisted.inlineCallbacks
def test_autobahn_js_connects_over_wss_trusting_the_dev_certificate(tls_router):
    """AutobahnJS under Node, told only NODE_EXTRA_CA_CERTS=cert.pem, does RPC and pub/sub over wss://localhost."""
    node = node_executable()
    url = "wss://localhost:{}/ws".format(tls_router.tcp_port)
    env = {"PATH": os.environ.get("PATH", os.defpath),
           "NODE_EXTRA_CA_CERTS": tls_router.service.config.listeners[0].tls.cert}
    ran = getProcessOutputAndValue(node, [str(INTEROP_SCRIPT), url, "realm1", "json"], env=env, path=str(JS_DIR))
    ran.addErrback(_killed)
    out, err, code = yield with_timeout(ran, PROCESS_TIMEOUT)
    assert code == 0, "interop.js exited {}\nstdout:\n{}\nstderr:\n{}".format(code, out, err)
    results = result_line(out.decode(errors="replace"))
    assert results["add2"] == {"result": 5}
    assert results["events"] == [{"args": [1, 2], "kwargs": {"k": "v"}}]


def test_wampd_cert_does_not_overwrite_without_force(tmp_path):
    """`wampd cert` refuses (exit 2) to replace existing files unless --force is given, and leaves them unchanged."""
    code, output = run_command(WAMPD + ["cert", "--out", str(tmp_path)], tmp_path)
    assert code == 0, output
    first = (tmp_path / "cert.pem").read_bytes()
    code, output = run_command(WAMPD + ["cert", "--out", str(tmp_path)], tmp_path)
    assert code == 2
    assert "--force" in output
    assert (tmp_path / "cert.pem").read_bytes() == first
    code, output = run_command(WAMPD + ["cert", "--out", str(tmp_path), "--force"], tmp_path)
    assert code == 0, output
    assert (tmp_path / "cert.pem").read_bytes() != first
