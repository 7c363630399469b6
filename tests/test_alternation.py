"""A long rule list joined into one quick pattern matches exactly where the plain join does."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fast_paths import _pattern_lists, _texts

from bot.alternation import (
    MIN_BRANCHES,
    MIN_HOIST,
    alternation_source,
    first_chars,
    leads_with_boundary,
    lowered,
)
from bot.rules import Rules, _joined
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


def _joined_pattern(patterns: list[re.Pattern[str]], flags: int) -> re.Pattern[str]:
    return re.compile(alternation_source(patterns, flags), flags)


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
        quick, plain = _joined_pattern(list(patterns), flags), _plain(list(patterns), flags)
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
    quick = _joined_pattern(patterns, 0)
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
        quick, plain = _joined_pattern(patterns, re.I), _plain(patterns, re.I)
        assert quick.pattern.startswith(r"\b(?=[" if gated else r"\b(?:")
        for text in texts:
            assert bool(quick.search(text)) == bool(plain.search(text)), (text, extra)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bGo Ahead\b", r"\bgo ahead\b"),
        (r"[A-Z][a-z]+ (needs|has) to sign\b", r"[a-z][a-z]+ (needs|has) to sign\b"),
        (r"\bPO\s*#?\s*(\d+)\D", r"\bpo\s*#?\s*(\d+)\D"),  # escapes keep their case
        (r"(?P<Rev>[A-Z]\d)\W(?P=Rev)", r"(?P<rev>[a-z]\d)\W(?P=rev)"),
        (r"[^A-Z]x", r"[^a-z]x"),
        (r"(?<!NOT )OK", r"(?<!not )ok"),
        (r"\x41B", None),  # a letter by its code: "A" in the text would not be found
        (r"(?-i:Rev) B", None),  # a case-sensitive scope
        (r"[0-z]", None),  # a range that lower-casing would shrink
        (r"[A-z]", None),
        ("\u017fhip", None),  # the long s: re.IGNORECASE takes "s" for it
        ("o\u212a", None),  # the Kelvin sign: "k"
        ("\u0130tem", None),  # the dotted capital I: "i"
        ("[\u0100-\u0180]", None),  # a range holding the long s
        ("[\u00c0-\u00de]x", "[\u00e0-\u00fe]x"),  # letters outside ASCII: same on ASCII text
    ],
)
def test_lowered(pattern: str, expected: str | None) -> None:
    """A case-insensitive pattern as a case-sensitive one for lower-cased ASCII text, or None
    where the two could disagree."""
    found = lowered(re.compile(pattern, re.I))
    assert (found.pattern if found else None) == expected
    if found is not None:
        assert found.flags & re.IGNORECASE == 0


def test_lowered_needs_ignorecase() -> None:
    assert lowered(re.compile("abc")) is None


_ASCII = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789.,'-?#!\n")
)


def _lowered_lists(rules: Rules) -> dict[str, tuple[re.Pattern[str], re.Pattern[str]]]:
    found = {}
    for name, patterns in _pattern_lists(rules).items():
        entry = _joined(patterns) if len(patterns) > 1 else None
        if entry is not None and entry.combined is not None and entry.lowered is not None:
            found[name] = (entry.combined, entry.lowered)
    return found


def test_the_rule_lists_are_searched_lower_cased_where_they_match_alike(rules: Rules) -> None:
    """Every joined rule list of the bundled rules gets its lower-cased search (the cues of a
    clause, the zones' lines), and it finds a match on exactly the sentences of the labelled
    mail where the list's own pattern does, in their own case, upper-cased and title-cased."""
    found = _lowered_lists(rules)
    assert {"approval", "boundary", "hedged", "timing_now"} <= set(found)
    texts = [s for text in _texts() for s in split_sentences(text)]
    texts = [t for t in texts if t.isascii()]
    assert len(texts) > 1000
    for name, (combined, quick) in found.items():
        for text in texts:
            for probe in (text, text.upper(), text.title()):
                expected = combined.search(probe) is not None
                assert (quick.search(probe.lower()) is not None) == expected, (name, probe)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(
            [
                "go",
                "ahead",
                "Approved",
                "PO",
                "rev",
                "B2",
                "release",
                "NOT",
                "hold",
                "don't",
                "start",
                "Monday",
                "ASAP",
                "units",
                "samples",
                "please",
                "proceed",
                "wrote:",
                "From:",
                "--",
            ]
        ),
        max_size=12,
    ),
    noise=_ASCII,
)
def test_lowered_lists_agree_on_any_ascii_text(rules: Rules, words: list[str], noise: str) -> None:
    """The same, on generated ASCII text: the rules' own words in any case, among others."""
    text = " ".join(words) + noise
    for name, (combined, quick) in _lowered_lists(rules).items():
        expected = combined.search(text) is not None
        assert (quick.search(text.lower()) is not None) == expected, (name, text)
