"""
TLS for listeners: a server context built from PEM files, reloadable while the router runs, and a
TLS wrapper that connects the application protocol once the handshake is complete.

The context accepts TLS 1.2 and 1.3 only. Unless configured otherwise, TLS 1.2 connections use
forward-secret AEAD ciphers only (:data:`DEFAULT_CIPHERS`); TLS 1.3 ciphers are all forward secret.
With CA certificates configured, every client must present a certificate they signed.
"""

import os
from binascii import hexlify
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL
from twisted.internet.interfaces import (
    IDelayedCall,
    IHandshakeListener,
    IOpenSSLServerConnectionCreator,
    IProtocolFactory,
    IReactorTime,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.protocols.tls import BufferingTLSTransport, TLSMemoryBIOFactory, TLSMemoryBIOProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

from router.transport.options import DEFAULT_HANDSHAKE_TIMEOUT

#: TLS 1.2 cipher suites used unless a listener names its own: ECDHE key exchange (forward secrecy)
#: with AES-GCM or ChaCha20-Poly1305
DEFAULT_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

_OPTIONS = (
    SSL.OP_NO_COMPRESSION
    | SSL.OP_CIPHER_SERVER_PREFERENCE
    | SSL.OP_NO_TICKET  # no session resumption: Autobahn's tls-unique channel binding assumes full handshakes
    | getattr(SSL, "OP_NO_RENEGOTIATION", 0)
)


@dataclass(frozen=True)
class TLSOptions:
    """
    What a TLS listener serves: PEM files (read again on every reload) and the cipher string.
    """

    #: the private key (PEM, unencrypted)
    key: str
    #: the certificate (PEM); certificates after the first are sent as its chain, like a ``fullchain.pem``
    cert: str
    #: further intermediate certificates (PEM files), sent after those in ``cert``
    chain: tuple[str, ...] = ()
    #: CA certificates (PEM files): when given, clients must present a certificate one of them signed
    ca_certs: tuple[str, ...] = ()
    #: an OpenSSL cipher string for TLS 1.2
    ciphers: str = DEFAULT_CIPHERS


class TLSConfigError(Exception):
    """
    A TLS option cannot be used; ``option`` names it (``key``, ``chain[1]``, ``ciphers``, ...).
    """

    def __init__(self, option: str, problem: str) -> None:
        Exception.__init__(self, "{}: {}".format(option, problem))
        self.option = option
        self.problem = problem


def _read(option: str, filename: str) -> bytes:
    try:
        with open(filename, "rb") as f:
            return f.read()
    except OSError as e:
        raise TLSConfigError(option, "cannot read {!r} ({})".format(filename, e.strerror))


def _certificates(option: str, filename: str) -> list[x509.Certificate]:
    data = _read(option, filename)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise TLSConfigError(option, "{!r} holds no PEM certificate".format(filename))
    return certificates


def _private_key(option: str, filename: str) -> Any:
    data = _read(option, filename)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TLSConfigError(option, "{!r} is encrypted; wampd needs an unencrypted key".format(filename))
    except (ValueError, UnsupportedAlgorithm):
        raise TLSConfigError(option, "{!r} holds no usable PEM private key".format(filename))


def _ssl_error(error: SSL.Error) -> str:
    """
    OpenSSL's reasons (``certificate verify failed``, ...) from a pyOpenSSL error.
    """
    details = error.args[0] if error.args and isinstance(error.args[0], list) else []
    reasons = [str(part[-1]) for part in details if isinstance(part, tuple) and part]
    return ", ".join(reasons) or str(error)


def _peer(addr: Any) -> str:
    host, port = getattr(addr, "host", None), getattr(addr, "port", None)
    return "{}:{}".format(host, port) if host is not None else str(addr)


def server_context(options: TLSOptions) -> tuple[SSL.Context, x509.Certificate]:
    """
    Read the files ``options`` names and build a server context from them.

    :returns: The context and the certificate it presents.
    :raises TLSConfigError: naming the option and the file that cannot be used.
    """
    key = _private_key("key", options.key)
    leaf, *chain = _certificates("cert", options.cert)
    for i, filename in enumerate(options.chain):
        chain += _certificates("chain[{}]".format(i), filename)
    authorities = [(filename, _certificates("ca_certs[{}]".format(i), filename))
                   for i, filename in enumerate(options.ca_certs)]

    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(_OPTIONS)
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    # a session id context is required for client certificates to work
    context.set_session_id(hexlify(os.urandom(8)))
    try:
        context.set_cipher_list(options.ciphers.encode("ascii"))
    except (SSL.Error, UnicodeEncodeError) as e:
        problem = _ssl_error(e) if isinstance(e, SSL.Error) else "not ASCII"
        raise TLSConfigError("ciphers", "{!r} selects no cipher OpenSSL knows ({})".format(options.ciphers, problem))
    context.use_certificate(leaf)
    for certificate in chain:
        context.add_extra_chain_cert(certificate)
    try:
        context.use_privatekey(key)
        context.check_privatekey()
    except SSL.Error:
        raise TLSConfigError("key", "{!r} does not match the certificate in {!r}".format(options.key, options.cert))
    if authorities:
        for filename, certificates in authorities:
            context.load_verify_locations(filename)
            for certificate in certificates:
                context.add_client_ca(certificate)  # named in the certificate request
        context.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
    return context, leaf


def describe_certificate(certificate: x509.Certificate) -> dict[str, Any]:
    """
    What the logs say about a certificate: ``subject``, ``serial`` (hex) and ``not_after`` (ISO date).
    """
    return {
        "subject": certificate.subject.rfc4514_string(),
        "serial": "{:x}".format(certificate.serial_number),
        "not_after": certificate.not_valid_after_utc.isoformat(),
    }


@implementer(IOpenSSLServerConnectionCreator)
class ServerTLS:
    """
    Makes server TLS connections from the current context; :meth:`reload` swaps the context.

    Connections already open keep the context they were made with, so reloading never drops a
    session: only new connections see new certificates.

    :param options: The files and ciphers.
    :raises TLSConfigError: if the files cannot be used.
    """

    def __init__(self, options: TLSOptions) -> None:
        self.options = options
        self._context, self.certificate = server_context(options)

    def reload(self) -> x509.Certificate:
        """
        Read the files again; new connections use them.

        :returns: The certificate now presented.
        :raises TLSConfigError: if the files cannot be used (the current context stays).
        """
        self._context, self.certificate = server_context(self.options)
        return self.certificate

    def expired(self, now: datetime) -> bool:
        """
        Tell whether the presented certificate is outside its validity period at ``now`` (aware UTC).
        """
        return not self.certificate.not_valid_before_utc <= now <= self.certificate.not_valid_after_utc

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        """
        A server connection from the current context (Twisted's connection creator interface).
        """
        return SSL.Connection(self._context, None)


@implementer(IHandshakeListener)
class _HandshakeGate(Protocol):
    """
    Stands in for the application protocol until the TLS handshake is complete, then connects the
    application protocol directly to the TLS layer and steps aside.

    So only connections that completed TLS get an application protocol (and its timers), a failed
    handshake is logged once (here, with OpenSSL's reason), and the transport details Autobahn
    takes when its protocol connects are complete from the start (peer certificate, ``tls-unique``).
    """

    log = Logger()

    def __init__(self, factory: IProtocolFactory, addr: Any) -> None:
        self._factory = factory
        self._addr = addr

    def handshakeCompleted(self) -> None:
        tls = self.transport
        inner = self._factory.buildProtocol(self._addr)
        if inner is None:
            tls.loseConnection()
            return
        tls.wrappedProtocol = inner
        inner.makeConnection(tls)
        if IHandshakeListener.providedBy(inner):
            inner.handshakeCompleted()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # only called when the handshake never completed (afterwards the TLS layer talks to the
        # application protocol directly)
        if isinstance(reason.value, SSL.Error):
            self.log.info("TLS handshake with {peer} failed: {problem}", peer=_peer(self._addr),
                          problem=_ssl_error(reason.value))
        else:
            self.log.debug("Connection from {peer} closed during the TLS handshake: {problem}",
                           peer=_peer(self._addr), problem=reason.getErrorMessage())


class _TLSServerProtocol(BufferingTLSTransport):
    """
    One connection's TLS layer, with a deadline: within the handshake timeout the client must
    complete the TLS handshake and its first request, and the router must have started to answer.
    """

    log = Logger()
    factory: "TLSListenerFactory"

    def __init__(self, factory: "TLSListenerFactory", wrapped: Any) -> None:
        BufferingTLSTransport.__init__(self, factory, wrapped)
        self._deadline: IDelayedCall | None = None
        # BufferingTLSTransport writes through an instance attribute; watch the first write only
        self._write_on = self.write
        self.write = self._first_write  # type: ignore[method-assign]

    def makeConnection(self, transport: Any) -> None:
        self._deadline = self.factory.clock.callLater(self.factory.handshake_timeout, self._timed_out)
        BufferingTLSTransport.makeConnection(self, transport)

    def _first_write(self, data: bytes) -> None:
        self._answered()
        self.write = self._write_on  # type: ignore[method-assign]
        self.write(data)

    def writeSequence(self, sequence: Any) -> None:
        self.write(b"".join(sequence))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._answered()
        BufferingTLSTransport.connectionLost(self, reason)

    def _answered(self) -> None:
        deadline, self._deadline = self._deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _timed_out(self) -> None:
        self._deadline = None
        self.log.info("No TLS handshake and request from {peer} within {timeout} seconds; closing",
                      peer=_peer(self.getPeer()), timeout=self.factory.handshake_timeout)
        self.abortConnection()


class TLSListenerFactory(TLSMemoryBIOFactory):
    """
    Serves ``wrapped`` over TLS made by ``creator``.

    :param creator: Makes the server side of each TLS connection (a :class:`ServerTLS`).
    :param wrapped: The application factory (WebSocket, RawSocket or universal).
    :param clock: For the deadline and the TLS layer's write aggregation (the global reactor if not given).
    :param handshake_timeout: Seconds a connection may take for the TLS handshake and its first request.
    """

    protocol = _TLSServerProtocol

    def __init__(self, creator: ServerTLS, wrapped: IProtocolFactory, clock: IReactorTime | None = None,
                 handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT) -> None:
        if clock is None:
            from twisted.internet import reactor as global_reactor

            clock = global_reactor  # type: ignore[assignment]
        TLSMemoryBIOFactory.__init__(self, creator, False, wrapped, clock)
        self.creator = creator
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        self.handshake_timeout = handshake_timeout

    def buildProtocol(self, addr: Any) -> TLSMemoryBIOProtocol:
        return self.protocol(self, _HandshakeGate(self.wrappedFactory, addr))
