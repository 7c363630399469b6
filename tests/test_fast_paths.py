"""The pure core's fast paths give what their slow references give, on the labelled mail."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from bot.extract import _clauses, _revisions, extract, revisions_in
from bot.parse import parse_message
from bot.quote_headers import body, library_header
from bot.rules import Patterns, Rules, any_match, clause_local
from bot.sentences import split_clauses, split_sentences
from bot.zones import normalize, split_zones

DATA = Path(__file__).parent / "data"


@cache
def _texts() -> tuple[str, ...]:
    """The body text of every labelled .eml file (the mbox threads add nothing new here)."""
    texts = []
    for path in sorted(DATA.glob("*/*.eml")):
        try:
            texts.append(parse_message(path.read_bytes()).text)
        except Exception:  # an unreadable case is the labelled sets' business, not ours
            continue
    return tuple(texts)


def _pattern_lists(rules: Rules) -> dict[str, Patterns]:
    cues = rules.cues
    lists = {name: getattr(cues, name) for name in cues.__dataclass_fields__}
    lists |= {"timing_now": rules.timing_now, "revision": rules.revision}
    lists |= {"quantity.lead": rules.quantity.lead, "contact": rules.zone_lines["contact"]}
    return lists


def _slow_any_match(patterns: Patterns, text: str) -> re.Match[str] | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found
    return None


def _span(found: re.Match[str] | None) -> tuple[str, int, int] | None:
    return None if found is None else (found.re.pattern, found.start(), found.end())


def test_labelled_mail_is_there() -> None:
    """The comparisons below run over a few hundred real-looking messages."""
    assert len(_texts()) >= 300


def test_any_match_is_the_ordered_search(rules: Rules) -> None:
    """any_match (one combined search first) returns the very match of the first pattern in
    list order that matches, for every rule list and every clause of the labelled mail."""
    clauses = {
        clause
        for text in _texts()
        for sentence in split_sentences(text)
        for clause in (sentence, *split_clauses(sentence, rules.clause_split))
    }
    hits = 0
    for name, patterns in _pattern_lists(rules).items():
        for clause in clauses:
            want = _span(_slow_any_match(patterns, clause))
            assert _span(any_match(patterns, clause)) == want, (name, clause)
            hits += want is not None
    assert hits > 1000  # both branches are taken


@pytest.mark.parametrize(
    "patterns",
    [
        (re.compile(r"(a)\1"), re.compile(r"b")),  # a back-reference: not combined
        (re.compile(r"(?P<x>a)"), re.compile(r"(?P<x>b)")),  # a repeated name: not combined
        (re.compile(r"a", re.I), re.compile(r"B")),  # different flags: not combined
    ],
    ids=["backreference", "repeated-name", "flags"],
)
def test_any_match_on_lists_that_cannot_be_combined(patterns: Patterns) -> None:
    """Lists that cannot be one alternation still give the ordered search's answer."""
    for text in ("aa", "b", "A", "B", "x"):
        assert _span(any_match(patterns, text)) == _span(_slow_any_match(patterns, text))


def test_revisions_in_is_the_full_clause_analysis(rules: Rules) -> None:
    """revisions_in (sentences and clauses only) names what the full clause analysis names,
    in the same order, for every labelled message."""
    named = 0
    for text in _texts():
        want = tuple(v for v, _ in _revisions(_clauses(text, rules), rules))
        assert revisions_in(text, rules) == want
        named += bool(want)
    assert named > 50


def test_quoted_revisions_read_only_when_needed_give_the_same_extraction(rules: Rules) -> None:
    """extract(quoted=...) reads the quoted history's revisions only when the new text has a
    bare code to look up, and extracts what it extracts with them worked out in advance."""
    compared = 0
    for text in _texts():
        zones = split_zones(text, rules)
        for known in (frozenset(), frozenset({"B2", "C7"})):
            eager = known | {r.upper() for r in revisions_in(zones.quoted, rules)}
            want = extract(zones.new_text, rules, known_revisions=eager)
            got = extract(zones.new_text, rules, known_revisions=known, quoted=zones.quoted)
            assert got == want
            compared += bool(zones.quoted)
    assert compared > 100


TRICKY_BODIES = (
    "",
    "On Mon, 2 Nov 2026 at 09:14, Lee <lee@acme.example> wrote:\n> go ahead\n",
    "ok\n\nOn Mon, 2 Nov 2026, Lee wrote:\n> a\nOn Sun, 1 Nov 2026, Kim wrote:\n>> b\n",
    "Approved.\n-----Original Message-----\nFrom: Kim\nSent: Monday\nTo: Lee\n\nold",
    "Passt.\n\nAm 2. Nov. 2026 um 09:14 schrieb Lee <lee@acme.example>:\n> alt\n",
    "Go.\r\n\r\nFrom: Shop <quotes@shop.example>\r\nSent: Mon\r\nSubject: Q\r\n\r\nx",
    "> From: a\n> Sent: b\n> To: c\nabove nothing\nFrom: d\nTo: e\n",
    "From: a\nTo: b\n\nFrom: a\nTo: b\n\nFrom: a\nTo: b\n",
    "Le lun. 2 nov. 2026 à 09:14, Lee a écrit :\nSamples OK\nLe dim., Kim a écrit:\n> b",
    "\n\n\nOn x wrote:\n",
)


def _bodies(corpora: Path) -> list[str]:
    replies = sorted((corpora / "reply-fragments").glob("*.txt"))
    return [*_texts(), *TRICKY_BODIES, *(p.read_text(errors="replace") for p in replies)]


def test_first_quote_header_is_what_the_library_read_gives(rules: Rules, corpora: Path) -> None:
    """The fast first quote header is the header of the second part mail-parser-reply's
    `read()` makes, on the labelled mail, the reply-fragment corpus and edge cases."""
    languages = rules.reply_languages
    bodies = _bodies(corpora)
    differ = []
    for text in bodies:
        replies = body(text, languages).read().replies
        wanted = replies[1].headers if len(replies) > 1 else ""
        if library_header(text, languages) != wanted:
            differ.append(text[:80])
    assert differ == [], f"{len(differ)} of {len(bodies)} differ"
    assert sum(bool(library_header(t, languages)) for t in bodies) >= 100  # headers were found


def test_normalize_is_the_whitespace_collapse_it_replaced() -> None:
    """normalize joins str.split() words: what collapsing `\\s+` runs gave, for the labelled
    mail's lines and Unicode spaces (no-break, ideographic, line separator)."""
    slow = re.compile(r"\s+")
    odd = ["a\u00a0b", "x\u3000 y", "p\u2028q\tr", " > > Quoted,  line. ", "\x1c\x1fz", ""]
    lines = [line for text in _texts() for line in text.splitlines()] + odd
    for line in lines:
        want = slow.sub(" ", line.replace(">", " ")).strip(" .!?,;:-").lower()
        assert normalize(line) == want, line
    assert len(lines) > 1000


def test_clause_boundary_cues_gated_by_their_sentence_are_the_full_search(rules: Rules) -> None:
    """A clause is searched for boundary cues only when its sentence has one: every labelled
    clause gets what its own search gives, and the sentence flag is the sentence's search."""
    assert clause_local(rules.cues.boundary)  # else the gate is off and this proves nothing
    flagged = 0
    for text in _texts():
        for clause in _clauses(text, rules):
            assert clause.boundary == bool(any_match(rules.cues.boundary, clause.text))
            assert clause.sentence_boundary == bool(any_match(rules.cues.boundary, clause.sentence))
            flagged += clause.boundary
    assert flagged > 5
