"""
WAMP URI rules: validation of topic and procedure URIs and match policies.

The loose rule (the spec's MUST) forbids empty components and ``.``, ``#`` or whitespace inside a
component; the strict rule (SHOULD, a realm option) allows only ``[0-9a-z_]`` in components.
Pattern URIs relax the empty-component rule: a ``prefix`` pattern may end in an empty component,
a ``wildcard`` pattern may have empty components anywhere.
"""

import re
from typing import Final

MATCH_EXACT: Final = "exact"
MATCH_PREFIX: Final = "prefix"
MATCH_WILDCARD: Final = "wildcard"

MATCH_POLICIES: Final = (MATCH_EXACT, MATCH_PREFIX, MATCH_WILDCARD)

_LOOSE = {
    MATCH_EXACT: re.compile(r"^([^\s.#]+\.)*[^\s.#]+$"),
    MATCH_PREFIX: re.compile(r"^([^\s.#]+\.)*[^\s.#]*$"),
    MATCH_WILDCARD: re.compile(r"^(([^\s.#]+\.)|\.)*([^\s.#]+)?$"),
}
_STRICT = {
    MATCH_EXACT: re.compile(r"^([0-9a-z_]+\.)*[0-9a-z_]+$"),
    MATCH_PREFIX: re.compile(r"^([0-9a-z_]+\.)*[0-9a-z_]*$"),
    MATCH_WILDCARD: re.compile(r"^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$"),
}


def is_valid_uri(uri: str, match: str = MATCH_EXACT, strict: bool = False) -> bool:
    """
    Tell whether ``uri`` is a valid URI (or pattern, for ``prefix``/``wildcard``) under the loose or
    strict rule.

    :param uri: The URI or URI pattern.
    :param match: One of :data:`MATCH_POLICIES`.
    :param strict: Apply the strict rule instead of the loose one.
    """
    if not uri:
        return match == MATCH_PREFIX
    return (_STRICT if strict else _LOOSE)[match].match(uri) is not None


def is_reserved(uri: str) -> bool:
    """
    Tell whether ``uri`` lies in the router's reserved ``wamp.`` namespace.
    """
    return uri.startswith("wamp.")
