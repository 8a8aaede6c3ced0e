"""
``wampd cert``: a self-signed TLS certificate and key for development, for the host names and IP
addresses given, so ``wss://localhost`` and RawSocket over TLS work on a developer's machine.

Never use it in production: nobody vouches for a self-signed certificate, clients must be told to
trust it (or to ignore its errors).
"""

import base64
import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.python import usage

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_DAYS = 90
#: browsers refuse server certificates valid for longer
MAX_DAYS = 397
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(r"^(?:\*\.)?{label}(?:\.{label})*$".format(label=_LABEL))


def host_name(value: str) -> x509.GeneralName:
    """
    The subject alternative name for a host: an IP address or a DNS name (``*.`` allowed first).

    :raises ValueError: if ``value`` is neither.
    """
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        pass
    name = value.rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise ValueError("{!r} is not a host name or IP address".format(value))
    if len(name) > 253 or not _DNS_NAME.match(name):
        raise ValueError("{!r} is not a host name or IP address".format(value))
    return x509.DNSName(name)


def make_certificate(hosts: list[str], days: int = DEFAULT_DAYS,
                     now: datetime | None = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """
    A new P-256 key and a self-signed server certificate for ``hosts``, valid for ``days`` days.

    :raises ValueError: for an invalid host or no hosts.
    """
    if not hosts:
        raise ValueError("at least one host is needed")
    names = [host_name(host) for host in hosts]
    now = now or datetime.now(timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wampd development certificate"),
    ])
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))  # tolerate a little clock skew
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def spki_sha256(certificate: x509.Certificate) -> str:
    """
    The base64 SHA-256 of the certificate's public key, as Chromium's
    ``--ignore-certificate-errors-spki-list`` takes it.
    """
    spki = certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


@dataclass(frozen=True)
class DevCertificate:
    """
    A development certificate written to disk.
    """

    cert_path: str
    key_path: str
    certificate: x509.Certificate


def _write(path: str, data: bytes, mode: int) -> None:
    # write next to the target and rename, so a router reloading on SIGHUP never reads half a file
    temporary = "{}.tmp-{}".format(path, os.getpid())
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def write_certificate(directory: str, hosts: list[str], days: int = DEFAULT_DAYS, overwrite: bool = False,
                      now: datetime | None = None) -> DevCertificate:
    """
    Write ``cert.pem`` and ``key.pem`` (mode 0600) for ``hosts`` into ``directory`` (created if needed).

    :raises FileExistsError: if either file exists and ``overwrite`` is false.
    :raises ValueError: for an invalid host.
    :raises OSError: if the files cannot be written.
    """
    key, certificate = make_certificate(hosts, days, now)
    cert_path, key_path = os.path.join(directory, CERT_FILE), os.path.join(directory, KEY_FILE)
    if not overwrite:
        for path in (cert_path, key_path):
            if os.path.exists(path):
                raise FileExistsError(path)
    os.makedirs(directory, exist_ok=True)
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return DevCertificate(cert_path, key_path, certificate)


class CertOptions(usage.Options):
    """
    Options of ``wampd cert``; validated before anything is written.
    """

    longdesc = (
        "Write a self-signed TLS certificate ({}) and its key ({}) for development, for the given host "
        "names and IP addresses (default: {}). Not for production."
    ).format(CERT_FILE, KEY_FILE, ", ".join(DEFAULT_HOSTS))

    optParameters = [
        ["out", "o", ".", "Directory to write {} and {} to (created if needed).".format(CERT_FILE, KEY_FILE)],
        ["days", None, DEFAULT_DAYS, "Days the certificate is valid (1 .. {}).".format(MAX_DAYS), int],
    ]
    optFlags = [["force", "f", "Replace existing files."]]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["host"] = []

    def getSynopsis(self) -> str:
        # usage.Options would prefix the parent command's whole synopsis
        return "Usage: wampd cert [--host NAME]... [--out DIR] [--days N] [--force]"

    def opt_host(self, name: str) -> None:
        """
        A host name or IP address the certificate is for. Repeatable.
        """
        self["host"].append(name)

    def postOptions(self) -> None:
        if not self["host"]:
            self["host"] = list(DEFAULT_HOSTS)
        for host in self["host"]:
            try:
                host_name(host)
            except ValueError as e:
                raise usage.UsageError("--host: {}".format(e))
        if not 1 <= self["days"] <= MAX_DAYS:
            raise usage.UsageError("--days: must be between 1 and {}".format(MAX_DAYS))
