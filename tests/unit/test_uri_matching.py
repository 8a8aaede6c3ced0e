"""
URI validation rules and the URI index shared by broker and dealer.
"""

import pytest

from router.matching import UriIndex
from router.uri import is_reserved, is_valid_uri


@pytest.mark.parametrize(
    "uri, match, loose, strict",
    [
        ("com.example.topic", "exact", True, True),
        ("com.Example-topic", "exact", True, False),
        ("com..topic", "exact", False, False),
        ("com.topic.", "exact", False, False),
        ("com.to pic", "exact", False, False),
        ("com.to#pic", "exact", False, False),
        ("com.topic.", "prefix", True, True),
        ("com..topic", "wildcard", True, True),
        ("", "exact", False, False),
    ],
)
def test_uri_rules(uri, match, loose, strict):
    """The loose and strict URI rules accept and refuse URIs as the spec's patterns say."""
    assert is_valid_uri(uri, match) is loose
    assert is_valid_uri(uri, match, strict=True) is strict


def test_reserved_prefix():
    """Only URIs under wamp. are reserved."""
    assert is_reserved("wamp.session.list")
    assert not is_reserved("wampd.topic")


def test_all_matches_in_exact_prefix_wildcard_order():
    """matches() yields every matching entry: exact, then prefixes, then wildcards."""
    index = UriIndex()
    index.add("exact", "a.b.c", "exact")
    index.add("prefix", "a.b", "prefix")
    index.add("prefix", "x", "other-prefix")
    index.add("wildcard", "a..c", "wildcard")
    index.add("wildcard", "a.b", "short-wildcard")
    assert list(index.matches("a.b.c")) == ["exact", "prefix", "wildcard"]


def test_best_match_precedence():
    """best() prefers exact, then the longest prefix, then the wildcard with the longest leading match."""
    index = UriIndex()
    index.add("wildcard", "a..c", "w1")
    index.add("wildcard", "a.b.", "w2")
    assert index.best("a.b.c") == "w2"
    index.add("prefix", "a", "p1")
    index.add("prefix", "a.b", "p2")
    assert index.best("a.b.c") == "p2"
    index.add("exact", "a.b.c", "e")
    assert index.best("a.b.c") == "e"
    index.remove("exact", "a.b.c")
    index.remove("prefix", "a.b")
    assert index.best("a.b.c") == "p1"


def test_remove_forgets_entries():
    """Removing an entry makes it unmatchable and leaves no empty buckets."""
    index = UriIndex()
    index.add("wildcard", "a..c", 1)
    index.remove("wildcard", "a..c")
    assert list(index.matches("a.b.c")) == []
    assert list(index.items()) == []
