"""A long rule list joined into one quick pattern matches exactly where the plain join does."""

from __future__ import annotations

import re

import pytest
from test_fast_paths import _pattern_lists, _texts

from bot.alternation import MIN_BRANCHES, MIN_HOIST, alternation, first_chars, leads_with_boundary
from bot.rules import Rules
from bot.sentences import split_sentences


@pytest.mark.parametrize(
    ("pattern", "flags", "chars"),
    [
        (r"\bgo ahead\b", re.I, "g"),
        (r"\b(go|get) on", re.I, "g"),
        (r"(this is )?our go", re.I, "to"),  # an optional first item: either starts it
        (r"^(?!x)((?:> ?)*On\s.+wrote:)$", re.I | re.M, ">O"),  # mail-parser-reply's header
        (r"[a-c]x|dy", 0, "abcd"),
        (r"(?<!not )approve", re.I, "a"),  # a lookbehind consumes nothing
        (r"(?i:a)b", 0, None),  # "A" starts it too: not said plainly
        (r"\w+ ok", re.I, None),
        (r"[^x]y", 0, None),
        (r"", 0, None),
        (r"x*y", 0, "xy"),
        (r"x*", 0, None),  # the empty match
        (r"(?:ab)+", 0, "a"),
    ],
)
def test_first_chars(pattern: str, flags: int, chars: str | None) -> None:
    found = first_chars(re.compile(pattern, flags))
    assert found == (None if chars is None else frozenset(chars))


def _plain(patterns: list[re.Pattern[str]], flags: int) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), flags)


ODD = ["", "GO AHEAD", "Go Ahead!", "\u017fhip it", "\u212a", "a" * 50, "(?=", "\\", "\n\n"]


def test_every_rule_list_matches_where_the_plain_join_does(rules: Rules) -> None:
    """On every sentence of the labelled mail, and odd strings (other cases, the long s and
    the Kelvin sign that re.IGNORECASE folds), each rule list's pattern finds a match where
    the plain join does and nowhere else; the long lists are grouped (the speed-up is used)."""
    texts = [s for text in _texts() for s in split_sentences(text)] + ODD
    grouped = 0
    for name, patterns in _pattern_lists(rules).items():
        if len(patterns) < 2 or len({p.flags for p in patterns}) != 1:
            continue
        flags = patterns[0].flags
        quick, plain = alternation(list(patterns), flags), _plain(list(patterns), flags)
        grouped += "(?=" in quick.pattern and "(?=" not in plain.pattern
        for text in texts:
            assert bool(quick.search(text)) == bool(plain.search(text)), (name, text)
    assert grouped >= 2  # approval and technical, at least


def test_a_grouped_list_with_every_kind_of_start() -> None:
    """Branches that start with a class, an optional word, a case-insensitive group in a
    case-sensitive list, or anything: grouped, and still the plain join's answer."""
    words = [f"w{n:02d}rd" for n in range(MIN_BRANCHES)]
    odd = [r"[xy]ray", r"(big )?deal", r"(?i:Kilo)", r"\d+ units", r"(?<!no )yes\b"]
    patterns = [re.compile(p) for p in words + odd]
    quick = alternation(patterns, 0)
    assert "(?=" in quick.pattern
    plain = _plain(patterns, 0)
    for text in ["w07rd", "W07RD", "xray", "deal", "big deal", "KILO", "kilo", "12 units"]:
        for probe in (text, f"say {text}.", text.upper(), f"no {text}"):
            assert bool(quick.search(probe)) == bool(plain.search(probe)), probe
    assert quick.search("KILO") and quick.search("a deal") and not quick.search("no yes")


@pytest.mark.parametrize(
    ("pattern", "flags", "leads"),
    [
        (r"\bgo ahead\b", re.I, True),
        (r"(\b(go|get) on)", re.I, True),  # inside the group that starts the pattern
        (r"(?:\bok\b)+", re.I, False),  # a repeat: not said plainly
        (r"\bgo|ahead", re.I, False),  # only one branch starts with it
        (r"(?a:\bgo)", re.I, False),  # an ASCII-only boundary is not the list's
        (r"\Bgo", re.I, False),
        (r"^\s*yes\b", re.I, False),
        (r"go\b", re.I, False),
    ],
)
def test_leads_with_boundary(pattern: str, flags: int, leads: bool) -> None:
    assert leads_with_boundary(re.compile(pattern, flags)) is leads


def test_a_long_list_shares_one_boundary() -> None:
    """Branches that start with `\\b` share one, behind a class of their first characters
    (none when one of them may start with anything); the others stay as they are; the answer
    is the plain join's, on word starts, inside words, on the long s and the Kelvin sign that
    re.IGNORECASE folds, and on an ASCII-only boundary that is not the list's."""
    words = [rf"\b{w}\b" for w in ("go", "ship", "kilo", "über", "ok", "start", "run", "print")]
    odd = [r"^\s*yes\b", r"(?<!no )deal", r"(?a:\bÿes)"]
    texts = [
        "go",
        "ago",
        "GO on",
        "\u017fhip it",
        "\u212ailo",
        "ÜBER",
        "zuüber",
        "yes",
        " yes",
        "say yes",
        "no deal",
        "a deal",
        "xÿes",
        "ÿes",
        "12 units",
        "",
        "\n\n",
        "ok.",
    ]
    for extra, gated in (([], True), ([r"\b\w+ units"], False)):
        patterns = [re.compile(p, re.I) for p in [*words, *odd, *extra]]
        assert len(patterns) >= MIN_HOIST
        quick, plain = alternation(patterns, re.I), _plain(patterns, re.I)
        assert quick.pattern.startswith(r"\b(?=[" if gated else r"\b(?:")
        for text in texts:
            assert bool(quick.search(text)) == bool(plain.search(text)), (text, extra)
