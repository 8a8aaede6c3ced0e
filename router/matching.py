"""
One URI-matching structure shared by broker (all matches) and dealer (best match).

Entries are keyed by ``(match policy, URI pattern)``. Matching follows the spec: ``exact`` compares
the whole URI, ``prefix`` is a plain string prefix, ``wildcard`` compares dot-separated components
of equal count where an empty pattern component matches anything.
"""

from typing import Generic, Iterator, TypeVar

from router.uri import MATCH_EXACT, MATCH_PREFIX, MATCH_WILDCARD

T = TypeVar("T")


def _wildcard_matches(pattern: tuple[str, ...], components: list[str]) -> bool:
    for want, have in zip(pattern, components):
        if want and want != have:
            return False
    return True


def _leading_match(pattern: tuple[str, ...]) -> int:
    """
    Count the non-empty components a wildcard pattern starts with (its specificity for the dealer).
    """
    count = 0
    for part in pattern:
        if not part:
            break
        count += 1
    return count


def pattern_matches(match: str, pattern: str, uri: str) -> bool:
    """
    Tell whether one pattern under one match policy matches a concrete ``uri``.
    """
    if match == MATCH_EXACT:
        return pattern == uri
    if match == MATCH_PREFIX:
        return uri.startswith(pattern)
    parts = pattern.split(".")
    components = uri.split(".")
    return len(parts) == len(components) and _wildcard_matches(tuple(parts), components)


class UriIndex(Generic[T]):
    """
    A map from (match policy, URI pattern) to one item, with lookups by concrete URI.
    """

    __slots__ = ("_exact", "_prefix", "_wildcard")

    def __init__(self) -> None:
        self._exact: dict[str, T] = {}
        self._prefix: dict[str, T] = {}
        # component count -> {pattern components: item}
        self._wildcard: dict[int, dict[tuple[str, ...], T]] = {}

    def get(self, match: str, uri: str) -> T | None:
        """
        The item stored under exactly this policy and pattern.
        """
        if match == MATCH_EXACT:
            return self._exact.get(uri)
        if match == MATCH_PREFIX:
            return self._prefix.get(uri)
        parts = tuple(uri.split("."))
        return self._wildcard.get(len(parts), {}).get(parts)

    def add(self, match: str, uri: str, item: T) -> None:
        """
        Store ``item`` under the policy and pattern (replacing what was there).
        """
        if match == MATCH_EXACT:
            self._exact[uri] = item
        elif match == MATCH_PREFIX:
            self._prefix[uri] = item
        else:
            parts = tuple(uri.split("."))
            self._wildcard.setdefault(len(parts), {})[parts] = item

    def remove(self, match: str, uri: str) -> None:
        """
        Forget the item stored under the policy and pattern, if any.
        """
        if match == MATCH_EXACT:
            self._exact.pop(uri, None)
        elif match == MATCH_PREFIX:
            self._prefix.pop(uri, None)
        else:
            parts = tuple(uri.split("."))
            bucket = self._wildcard.get(len(parts))
            if bucket is not None:
                bucket.pop(parts, None)
                if not bucket:
                    del self._wildcard[len(parts)]

    def matches(self, uri: str) -> Iterator[T]:
        """
        Every item whose pattern matches ``uri``: exact first, then prefixes, then wildcards.
        """
        item = self._exact.get(uri)
        if item is not None:
            yield item
        if self._prefix:
            for prefix, item in self._prefix.items():
                if uri.startswith(prefix):
                    yield item
        if self._wildcard:
            components = uri.split(".")
            for pattern, item in self._wildcard.get(len(components), {}).items():
                if _wildcard_matches(pattern, components):
                    yield item

    def best(self, uri: str) -> T | None:
        """
        The single item the dealer routes ``uri`` to: exact beats the longest prefix, which beats
        the wildcard with the longest run of leading non-empty components.
        """
        item = self._exact.get(uri)
        if item is not None:
            return item
        best_len, best = -1, None
        for prefix, candidate in self._prefix.items():
            if len(prefix) > best_len and uri.startswith(prefix):
                best_len, best = len(prefix), candidate
        if best is not None:
            return best
        components = uri.split(".")
        best_lead = -1
        for pattern, candidate in self._wildcard.get(len(components), {}).items():
            if _wildcard_matches(pattern, components):
                lead = _leading_match(pattern)
                if lead > best_lead:
                    best_lead, best = lead, candidate
        return best

    def items(self) -> Iterator[tuple[str, str, T]]:
        """
        Every ``(match, pattern, item)`` stored.
        """
        for uri, item in self._exact.items():
            yield MATCH_EXACT, uri, item
        for uri, item in self._prefix.items():
            yield MATCH_PREFIX, uri, item
        for bucket in self._wildcard.values():
            for parts, item in bucket.items():
                yield MATCH_WILDCARD, ".".join(parts), item
