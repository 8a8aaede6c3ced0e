"""
wampd's configuration: the built-in default, and loading a YAML or JSON file with validation.

Every error names the file and the key path, e.g. ``wampd.yaml: listeners[0].type: ...``.
The format is documented in README.md ("Configuration").
"""

import importlib.util
import json
import os
from dataclasses import dataclass, field
from typing import Any

import yaml
from twisted.internet import endpoints

from router.auth.config import parse_auth, parse_roles
from router.broker import HistoryRule
from router.core import RealmOptions, RouterOptions
from router.transport.options import DEFAULT_MAX_SEND_BUFFER, WebSocketOptions, origin_problem
from router.transport.serializers import SERIALIZERS
from router.transport.tls import DEFAULT_CIPHERS, TLSConfigError, TLSOptions, server_context
from router.uri import MATCH_EXACT, MATCH_POLICIES, is_valid_uri

LISTENER_TYPES = ("universal", "websocket", "rawsocket")
DEFAULT_ENDPOINT = "tcp:8080:interface=127.0.0.1"
DEFAULT_REALM = "realm1"
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
DEFAULT_SERIALIZERS = ("json", "msgpack", "cbor")


class ConfigError(Exception):
    """
    A configuration file or flag is invalid; the message names where.
    """

    def __init__(self, source: str, path: str, problem: str) -> None:
        Exception.__init__(self, "{}: {}: {}".format(source, path or "(top level)", problem))
        self.source = source
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class ListenerConfig:
    """
    One listening endpoint and what it serves.
    """

    #: a Twisted server endpoint string, e.g. ``tcp:8080:interface=127.0.0.1`` or ``unix:/run/wampd.sock``
    endpoint: str
    #: ``universal`` (HTTP + WebSocket + RawSocket), ``websocket`` or ``rawsocket``
    type: str = "universal"
    #: the WebSocket path of a universal listener
    path: str = "/ws"
    serializers: tuple[str, ...] = DEFAULT_SERIALIZERS
    #: largest message accepted, in bytes
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    #: a directory served as static files at ``/`` by a universal listener (else the info page)
    web_root: str | None = None
    #: authentication methods by name (anonymous only when ``None``)
    auth: dict[str, Any] | None = None
    #: TLS for this listener (files already checked to load), or ``None`` for plain TCP/Unix
    tls: TLSOptions | None = None
    #: WebSocket origins, timeouts, pings and compression (universal and websocket listeners)
    websocket: WebSocketOptions = WebSocketOptions()
    #: bytes a session may have waiting while its peer does not read before it is closed
    max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER


@dataclass(frozen=True)
class ComponentConfig:
    """
    An ``ApplicationSession`` subclass the router runs in its own process, joined in memory.
    """

    #: import path of the class, e.g. ``components.ticker.Ticker``
    classname: str
    #: the realm it joins
    realm: str
    #: handed to the component as ``config.extra``
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    """
    Everything wampd needs to start.
    """

    router: RouterOptions = field(default_factory=RouterOptions)
    listeners: tuple[ListenerConfig, ...] = (ListenerConfig(DEFAULT_ENDPOINT),)
    components: tuple[ComponentConfig, ...] = ()


#: the web client, next to the router package in a source checkout
DEFAULT_WEB_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")
#: the sample components the built-in default runs on its realm
DEFAULT_COMPONENTS = ("components.ticker.Ticker", "components.calculator.Calculator", "components.chat.ChatRoom",
                      "components.kv.KeyValueStore")


def default_config() -> Config:
    """
    The built-in default: realm ``realm1``, anonymous access, one universal listener on
    127.0.0.1:8080 serving the web client (``web/`` next to the router package, when there is
    one) at ``/``, and the sample components on ``realm1`` (when the ``components`` package can be
    imported).
    """
    web_root = DEFAULT_WEB_ROOT if os.path.isfile(os.path.join(DEFAULT_WEB_ROOT, "index.html")) else None
    try:
        samples = importlib.util.find_spec("components.ticker") is not None
    except ImportError:
        samples = False
    components = tuple(ComponentConfig(name, DEFAULT_REALM) for name in DEFAULT_COMPONENTS) if samples else ()
    return Config(listeners=(ListenerConfig(DEFAULT_ENDPOINT, web_root=web_root),), components=components)


class _Reader:
    """
    Walks a parsed document, checking types and collecting key paths for error messages.
    """

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> ConfigError:
        return ConfigError(self.source, path, problem)

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "must be a mapping")
        for key in value:
            if key not in allowed:
                where = "{}.{}".format(path, key) if path else str(key)
                raise self.fail(where, "unknown key (allowed: {})".format(", ".join(allowed)))
        return value

    def typed(self, value: Any, path: str, kind: type, name: str) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(path, "must be {}".format(name))
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, "must be a list")
        return value

    def pattern(self, doc: dict[str, Any], path: str) -> tuple[str, str]:
        """
        A URI pattern and its match policy from a section's ``uri`` and ``match`` keys.
        """
        if "uri" not in doc:
            raise self.fail(path + ".uri", "missing")
        uri = self.typed(doc["uri"], path + ".uri", str, "a string")
        match = self.typed(doc.get("match", MATCH_EXACT), path + ".match", str, "a string")
        if match not in MATCH_POLICIES:
            raise self.fail(path + ".match", "must be one of {}".format(", ".join(MATCH_POLICIES)))
        if not is_valid_uri(uri, match):
            raise self.fail(path + ".uri", "{!r} is not a valid {} URI pattern".format(uri, match))
        return uri, match


def _history_rule(reader: _Reader, value: Any, path: str) -> HistoryRule:
    doc = reader.mapping(value, path, ("uri", "match", "limit"))
    uri, match = reader.pattern(doc, path)
    limit = reader.typed(doc.get("limit", 100), path + ".limit", int, "an integer")
    if not 1 <= limit <= 100_000:
        raise reader.fail(path + ".limit", "must be between 1 and 100000")
    return HistoryRule(uri, match, limit)


def _realm(reader: _Reader, value: Any, path: str) -> tuple[str, RealmOptions]:
    doc = reader.mapping(value, path, ("name", "strict_uri", "history", "disclose_publisher", "disclose_caller", "roles"))
    if "name" not in doc:
        raise reader.fail(path + ".name", "missing")
    name = reader.typed(doc["name"], path + ".name", str, "a string")
    if not is_valid_uri(name):
        raise reader.fail(path + ".name", "{!r} is not a valid realm URI".format(name))
    flags = {
        key: reader.typed(doc.get(key, False), "{}.{}".format(path, key), bool, "true or false")
        for key in ("strict_uri", "disclose_publisher", "disclose_caller")
    }
    history = tuple(
        _history_rule(reader, rule, "{}.history[{}]".format(path, i))
        for i, rule in enumerate(reader.items(doc.get("history", []), path + ".history"))
    )
    roles = parse_roles(reader, doc["roles"], path + ".roles", name) if "roles" in doc else None
    return name, RealmOptions(history=history, roles=roles, **flags)


def _tls(reader: _Reader, value: Any, path: str, endpoint: str) -> TLSOptions:
    doc = reader.mapping(value, path, ("key", "cert", "chain", "ca_certs", "ciphers"))
    if endpoint.split(":", 1)[0].strip().lower() == "ssl":
        raise reader.fail(path, "the endpoint {!r} already does TLS; use a tcp: endpoint with tls".format(endpoint))
    files: dict[str, Any] = {}
    for key in ("key", "cert"):
        if key not in doc:
            raise reader.fail("{}.{}".format(path, key), "missing")
        files[key] = os.path.abspath(reader.typed(doc[key], "{}.{}".format(path, key), str, "a PEM file path"))
    for key in ("chain", "ca_certs"):
        names = reader.items(doc.get(key, []), "{}.{}".format(path, key))
        files[key] = tuple(os.path.abspath(reader.typed(name, "{}.{}[{}]".format(path, key, i), str, "a PEM file path"))
                           for i, name in enumerate(names))
    ciphers = reader.typed(doc.get("ciphers", DEFAULT_CIPHERS), path + ".ciphers", str, "an OpenSSL cipher string")
    options = TLSOptions(ciphers=ciphers, **files)
    try:
        server_context(options)
    except TLSConfigError as e:
        raise reader.fail("{}.{}".format(path, e.option), e.problem)
    return options


def _websocket(reader: _Reader, value: Any, path: str, kind: str) -> WebSocketOptions:
    doc = reader.mapping(value, path, ("allowed_origins", "open_handshake_timeout", "close_handshake_timeout",
                                       "auto_ping_interval", "auto_ping_timeout", "compression"))
    if kind == "rawsocket":
        raise reader.fail(path, "only universal and websocket listeners speak WebSocket")
    defaults = WebSocketOptions()
    origins = reader.items(doc.get("allowed_origins", list(defaults.allowed_origins)), path + ".allowed_origins")
    if not origins:
        raise reader.fail(path + ".allowed_origins", "must name at least one origin (\"*\" allows all)")
    for i, origin in enumerate(origins):
        where = "{}.allowed_origins[{}]".format(path, i)
        problem = origin_problem(reader.typed(origin, where, str, "a string"))
        if problem:
            raise reader.fail(where, problem)
    seconds = {}
    # Autobahn runs these timers on whole-second ticks, each firing up to a second early: below 2 s a
    # timeout could fire at once
    for key in ("open_handshake_timeout", "close_handshake_timeout", "auto_ping_interval", "auto_ping_timeout"):
        number = doc.get(key, getattr(defaults, key))
        off = key == "auto_ping_interval" and number == 0
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not (off or 2 <= number <= 86400):
            raise reader.fail("{}.{}".format(path, key), "must be a number of seconds from 2 to 86400{}".format(
                " (0: no pings)" if key == "auto_ping_interval" else ""))
        seconds[key] = float(number)
    compression = reader.mapping(doc.get("compression", {}), path + ".compression", ("enabled",))
    enabled = reader.typed(compression.get("enabled", False), path + ".compression.enabled", bool, "true or false")
    return WebSocketOptions(tuple(origins), compression=enabled, **seconds)


def _listener(reader: _Reader, value: Any, path: str) -> ListenerConfig:
    doc = reader.mapping(value, path, ("endpoint", "type", "path", "serializers", "max_message_size", "web_root", "auth",
                                       "tls", "websocket", "max_send_buffer"))
    if "endpoint" not in doc:
        raise reader.fail(path + ".endpoint", "missing")
    endpoint = reader.typed(doc["endpoint"], path + ".endpoint", str, "a Twisted endpoint string")
    kind = reader.typed(doc.get("type", "universal"), path + ".type", str, "a string")
    if kind not in LISTENER_TYPES:
        raise reader.fail(path + ".type", "must be one of {}".format(", ".join(LISTENER_TYPES)))
    ws_path = reader.typed(doc.get("path", "/ws"), path + ".path", str, "a string")
    if not ws_path.startswith("/") or not ws_path.strip("/"):
        raise reader.fail(path + ".path", "must be an absolute path below /, like /ws")
    names = reader.items(doc.get("serializers", list(DEFAULT_SERIALIZERS)), path + ".serializers")
    for i, name in enumerate(names):
        if name not in SERIALIZERS:
            raise reader.fail("{}.serializers[{}]".format(path, i),
                              "unknown serializer {!r} (known: {})".format(name, ", ".join(SERIALIZERS)))
    if not names:
        raise reader.fail(path + ".serializers", "must name at least one serializer")
    size = reader.typed(doc.get("max_message_size", DEFAULT_MAX_MESSAGE_SIZE), path + ".max_message_size",
                        int, "an integer")
    if not 512 <= size <= 2**24:
        raise reader.fail(path + ".max_message_size", "must be between 512 and 16777216 bytes")
    web_root = doc.get("web_root")
    if web_root is not None:
        reader.typed(web_root, path + ".web_root", str, "a directory path")
        if kind != "universal":
            raise reader.fail(path + ".web_root", "only a universal listener serves web files")
        if not os.path.isdir(web_root):
            raise reader.fail(path + ".web_root", "{!r} is not a directory".format(web_root))
    auth = parse_auth(reader, doc["auth"], path + ".auth") if "auth" in doc else None
    tls = _tls(reader, doc["tls"], path + ".tls", endpoint) if "tls" in doc else None
    websocket = WebSocketOptions()
    if "websocket" in doc:
        websocket = _websocket(reader, doc["websocket"], path + ".websocket", kind)
    send_buffer = reader.typed(doc.get("max_send_buffer", DEFAULT_MAX_SEND_BUFFER), path + ".max_send_buffer",
                               int, "an integer")
    if not 65536 <= send_buffer <= 2**31:
        raise reader.fail(path + ".max_send_buffer", "must be between 65536 and 2147483648 bytes")
    return ListenerConfig(endpoint, kind, ws_path, tuple(names), size, web_root, auth=auth, tls=tls,
                          websocket=websocket, max_send_buffer=send_buffer)


def _component(reader: _Reader, value: Any, path: str, realms: dict[str, RealmOptions],
               auto_create: bool) -> ComponentConfig:
    doc = reader.mapping(value, path, ("class", "realm", "extra"))
    for key in ("class", "realm"):
        if key not in doc:
            raise reader.fail("{}.{}".format(path, key), "missing")
    classname = reader.typed(doc["class"], path + ".class", str, "a dotted import path")
    if "." not in classname:
        raise reader.fail(path + ".class", "must be a dotted import path like components.ticker.Ticker")
    realm = reader.typed(doc["realm"], path + ".realm", str, "a string")
    if realm not in realms and not auto_create:
        raise reader.fail(path + ".realm", "realm {!r} is not configured".format(realm))
    extra = reader.typed(doc.get("extra", {}), path + ".extra", dict, "a mapping")
    return ComponentConfig(classname, realm, extra)


def parse_config(document: Any, source: str) -> Config:
    """
    Validate a parsed configuration document.

    :param document: The parsed YAML or JSON.
    :param source: The file name, for error messages.
    :raises ConfigError: naming the key path of the first problem.
    """
    reader = _Reader(source)
    doc = reader.mapping(document if document is not None else {}, "",
                         ("realms", "listeners", "auto_create_realms", "components"))
    realms: dict[str, RealmOptions] = {}
    for i, value in enumerate(reader.items(doc.get("realms", []), "realms")):
        name, options = _realm(reader, value, "realms[{}]".format(i))
        if name in realms:
            raise reader.fail("realms[{}].name".format(i), "realm {!r} is configured twice".format(name))
        realms[name] = options
    auto = reader.typed(doc.get("auto_create_realms", False), "auto_create_realms", bool, "true or false")
    listeners = tuple(
        _listener(reader, value, "listeners[{}]".format(i))
        for i, value in enumerate(reader.items(doc.get("listeners", []), "listeners"))
    )
    if not listeners:
        raise reader.fail("listeners", "at least one listener is needed")
    components = tuple(
        _component(reader, value, "components[{}]".format(i), realms, auto)
        for i, value in enumerate(reader.items(doc.get("components", []), "components"))
    )
    return Config(RouterOptions(realms=realms, auto_create_realms=auto), listeners, components)


def check_endpoint(description: str, source: str, path: str) -> None:
    """
    Check that ``description`` is a valid Twisted server endpoint string (nothing is opened).

    :raises ConfigError: naming ``source`` and ``path``.
    """
    try:
        endpoints.serverFromString(None, description)
    except Exception as e:
        raise ConfigError(source, path, "invalid endpoint {!r} ({}: {})".format(description, type(e).__name__, e))


def load_config(filename: str) -> Config:
    """
    Read and validate a configuration file (``.json`` as JSON, anything else as YAML).

    :raises ConfigError: if the file cannot be read or parsed, or is invalid.
    """
    try:
        with open(filename, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(filename, "", "cannot read the file ({})".format(e.strerror))
    try:
        document = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(filename, "", "not valid {} ({})".format("JSON" if filename.endswith(".json") else "YAML", e))
    return parse_config(document, filename)
