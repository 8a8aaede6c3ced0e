"""
Reading the security sections of the configuration: a listener's ``auth`` and a realm's ``roles``.

Both are called by :mod:`router.config` with its reader, so errors name the file and key path.
Secrets may be written as ``${NAME}`` to take them from the environment variable ``NAME``.
"""

import base64
import os
import re
from typing import Any

from router.auth import Method
from router.auth.anonymous import AnonymousMethod
from router.auth.dynamic import DynamicMethod
from router.auth.cryptosign import CryptosignMethod, CryptosignPrincipal
from router.auth.scram import KDF_ARGON2, KDF_PBKDF2, METHOD_DRAFT, ScramMethod, ScramPrincipal
from router.auth.ticket import TicketMethod, TicketPrincipal
from router.auth.tls import TlsMethod, TlsPrincipal, normalize_fingerprint
from router.auth.wampcra import CraMethod, CraPrincipal
from router.authorizer import ACTIONS, DynamicRole, Permission
from router.uri import is_valid_uri

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def _secret(reader: Any, value: Any, path: str) -> str:
    text = reader.typed(value, path, str, "a string")
    env = _ENV.match(text)
    if env is None:
        return text
    if env.group(1) not in os.environ:
        raise reader.fail(path, "environment variable {} is not set".format(env.group(1)))
    return os.environ[env.group(1)]


def _principal_common(reader: Any, doc: dict[str, Any], path: str) -> tuple[str, str | None]:
    if "role" not in doc:
        raise reader.fail(path + ".role", "missing")
    role = reader.typed(doc["role"], path + ".role", str, "a string")
    realm = doc.get("realm")
    if realm is not None:
        reader.typed(realm, path + ".realm", str, "a string")
    return role, realm


def _principals(reader: Any, doc: dict[str, Any], path: str, key: str) -> dict[str, Any]:
    table = reader.typed(doc.get(key, {}), path + "." + key, dict, "a mapping of authid to principal")
    return {authid: (value, "{}.{}.{}".format(path, key, authid)) for authid, value in table.items()}


def _ticket(reader: Any, doc: dict[str, Any], path: str) -> TicketMethod:
    principals = {}
    for authid, (value, where) in _principals(reader, doc, path, "principals").items():
        entry = reader.mapping(value, where, ("ticket", "role", "realm"))
        if "ticket" not in entry:
            raise reader.fail(where + ".ticket", "missing")
        role, realm = _principal_common(reader, entry, where)
        principals[authid] = TicketPrincipal(_secret(reader, entry["ticket"], where + ".ticket"), role, realm)
    return TicketMethod(principals)


def _wampcra(reader: Any, doc: dict[str, Any], path: str) -> CraMethod:
    principals = {}
    for authid, (value, where) in _principals(reader, doc, path, "users").items():
        entry = reader.mapping(value, where, ("secret", "role", "realm", "salt", "iterations", "keylen"))
        if "secret" not in entry:
            raise reader.fail(where + ".secret", "missing")
        role, realm = _principal_common(reader, entry, where)
        salt = entry.get("salt")
        if salt is not None:
            reader.typed(salt, where + ".salt", str, "a string")
        iterations = reader.typed(entry.get("iterations", 1000), where + ".iterations", int, "an integer")
        keylen = reader.typed(entry.get("keylen", 32), where + ".keylen", int, "an integer")
        principals[authid] = CraPrincipal(_secret(reader, entry["secret"], where + ".secret"), role, realm, salt,
                                          iterations, keylen)
    return CraMethod(principals)


def _cryptosign(reader: Any, doc: dict[str, Any], path: str) -> CryptosignMethod:
    principals = {}
    for authid, (value, where) in _principals(reader, doc, path, "principals").items():
        entry = reader.mapping(value, where, ("authorized_keys", "role", "realm"))
        keys = reader.items(entry.get("authorized_keys", []), where + ".authorized_keys")
        for i, key in enumerate(keys):
            if not isinstance(key, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", key):
                raise reader.fail("{}.authorized_keys[{}]".format(where, i), "must be an Ed25519 public key in hex")
        role, realm = _principal_common(reader, entry, where)
        principals[authid] = CryptosignPrincipal(tuple(keys), role, realm)
    return CryptosignMethod(principals)


def _scram(reader: Any, doc: dict[str, Any], path: str) -> ScramMethod:
    principals = {}
    keys = ("password", "salt", "kdf", "iterations", "memory", "stored_key", "server_key", "role", "realm")
    for authid, (value, where) in _principals(reader, doc, path, "principals").items():
        entry = reader.mapping(value, where, keys)
        role, realm = _principal_common(reader, entry, where)
        kdf = reader.typed(entry.get("kdf", KDF_ARGON2), where + ".kdf", str, "a string")
        if kdf not in (KDF_ARGON2, KDF_PBKDF2):
            raise reader.fail(where + ".kdf", "must be {} or {}".format(KDF_ARGON2, KDF_PBKDF2))
        iterations = entry.get("iterations")
        memory = entry.get("memory")
        if iterations is not None:
            reader.typed(iterations, where + ".iterations", int, "an integer")
        if memory is not None:
            reader.typed(memory, where + ".memory", int, "an integer")
        if "password" in entry:
            password = _secret(reader, entry["password"], where + ".password")
            principals[authid] = ScramPrincipal.from_password(password, role, realm, kdf, iterations, memory,
                                                              entry.get("salt"))
            continue
        for key in ("salt", "stored_key", "server_key", "iterations"):
            if key not in entry:
                raise reader.fail("{}.{}".format(where, key), "missing (or give a password)")
        try:
            stored = base64.b64decode(_secret(reader, entry["stored_key"], where + ".stored_key"), validate=True)
            server = base64.b64decode(_secret(reader, entry["server_key"], where + ".server_key"), validate=True)
        except ValueError:
            raise reader.fail(where, "stored_key and server_key must be base64")
        principals[authid] = ScramPrincipal(entry["salt"], kdf, iterations, memory, stored, server, role, realm)
    return ScramMethod(principals)


def _tls(reader: Any, doc: dict[str, Any], path: str) -> TlsMethod:
    principals = {}
    for authid, (value, where) in _principals(reader, doc, path, "principals").items():
        entry = reader.mapping(value, where, ("certificate_sha256", "role", "realm"))
        if "certificate_sha256" not in entry:
            raise reader.fail(where + ".certificate_sha256", "missing")
        fingerprint = reader.typed(entry["certificate_sha256"], where + ".certificate_sha256", str, "a string")
        if not re.fullmatch(r"[0-9A-F]{64}", normalize_fingerprint(fingerprint)):
            raise reader.fail(where + ".certificate_sha256", "must be a SHA-256 fingerprint in hex")
        role, realm = _principal_common(reader, entry, where)
        principals[authid] = TlsPrincipal(fingerprint, role, realm)
    return TlsMethod(principals)


_METHODS = {
    "ticket": (_ticket, ("type", "principals")),
    "wampcra": (_wampcra, ("type", "users")),
    "cryptosign": (_cryptosign, ("type", "principals")),
    "wamp-scram": (_scram, ("type", "principals")),
    "tls": (_tls, ("type", "principals")),
}


#: methods an authenticator procedure can decide
DYNAMIC = ("ticket", "wampcra", "cryptosign", "wamp-scram", "tls")


def _dynamic(reader: Any, value: Any, path: str, name: str) -> DynamicMethod:
    doc = reader.mapping(value, path, ("type", "authenticator", "authenticator_realm"))
    for key in ("authenticator", "authenticator_realm"):
        if key not in doc:
            raise reader.fail("{}.{}".format(path, key), "missing (a dynamic method names its procedure and realm)")
    procedure = reader.typed(doc["authenticator"], path + ".authenticator", str, "a procedure URI")
    if not is_valid_uri(procedure):
        raise reader.fail(path + ".authenticator", "{!r} is not a valid URI".format(procedure))
    realm = reader.typed(doc["authenticator_realm"], path + ".authenticator_realm", str, "a realm name")
    return DynamicMethod(name, procedure, realm)


def parse_auth(reader: Any, value: Any, path: str) -> dict[str, Method]:
    """
    A listener's ``auth`` section: method name -> configured method.
    """
    doc = reader.mapping(value, path, ("anonymous",) + tuple(_METHODS))
    methods: dict[str, Method] = {}
    for name, section in doc.items():
        where = "{}.{}".format(path, name)
        if name == "anonymous":
            entry = reader.mapping(section, where, ("type", "role"))
            methods[name] = AnonymousMethod(reader.typed(entry.get("role", "anonymous"), where + ".role", str,
                                                         "a string"))
            continue
        build, allowed = _METHODS[name]
        kind = section.get("type", "static") if isinstance(section, dict) else "static"
        if kind == "dynamic" and name in DYNAMIC:
            methods[name] = _dynamic(reader, section, where, name)
            continue
        entry = reader.mapping(section, where, allowed)
        if kind != "static":
            raise reader.fail(where + ".type", "must be static{}".format(" or dynamic" if name in DYNAMIC else ""))
        methods[name] = build(reader, entry, where)
        if name == "wamp-scram":
            # Autobahn|Python's clients ask for the draft variant under the name "scram"
            methods[METHOD_DRAFT] = ScramMethod(methods[name].principals, METHOD_DRAFT)
    if not methods:
        raise reader.fail(path, "configure at least one method")
    return methods


def parse_roles(reader: Any, value: Any, path: str, realm: str) -> dict[str, Any]:
    """
    A realm's ``roles`` section: role name -> permissions, or a :class:`DynamicRole` for a role
    whose ``authorizer`` procedure decides (registered on ``authorizer_realm``, default this realm).
    """
    roles: dict[str, Any] = {}
    for i, role in enumerate(reader.items(value, path)):
        where = "{}[{}]".format(path, i)
        doc = reader.mapping(role, where, ("name", "permissions", "authorizer", "authorizer_realm"))
        if "name" not in doc:
            raise reader.fail(where + ".name", "missing")
        name = reader.typed(doc["name"], where + ".name", str, "a string")
        if "authorizer" in doc:
            if "permissions" in doc:
                raise reader.fail(where + ".permissions", "a role has either permissions or an authorizer")
            procedure = reader.typed(doc["authorizer"], where + ".authorizer", str, "a procedure URI")
            if not is_valid_uri(procedure):
                raise reader.fail(where + ".authorizer", "{!r} is not a valid URI".format(procedure))
            home = reader.typed(doc.get("authorizer_realm", realm), where + ".authorizer_realm", str, "a realm")
            roles[name] = DynamicRole(procedure, home)
            continue
        permissions = []
        for j, rule in enumerate(reader.items(doc.get("permissions", []), where + ".permissions")):
            permissions.append(_permission(reader, rule, "{}.permissions[{}]".format(where, j)))
        roles[name] = tuple(permissions)
    return roles


def _permission(reader: Any, value: Any, path: str) -> Permission:
    doc = reader.mapping(value, path, ("uri", "match", "allow", "disclose"))
    uri, match = reader.pattern(doc, path)
    allow = reader.mapping(doc.get("allow", {}), path + ".allow", ACTIONS)
    disclose = reader.mapping(doc.get("disclose", {}), path + ".disclose", ("caller", "publisher"))
    flags = {action: reader.typed(allow.get(action, False), "{}.allow.{}".format(path, action), bool, "true or false")
             for action in ACTIONS}
    return Permission(
        uri, match,
        disclose_caller=reader.typed(disclose.get("caller", False), path + ".disclose.caller", bool, "true or false"),
        disclose_publisher=reader.typed(disclose.get("publisher", False), path + ".disclose.publisher", bool,
                                        "true or false"),
        **flags,
    )
