"""A long rule list as one regular expression that is quick to search.

`re` tries every branch of an alternation at every position: a list of 85 approval phrases
took 40 microseconds a sentence, most of a clause's analysis. Here the branches are grouped
by the character a match can start with, each group behind a lookahead on that character, so
at a position only the branches that can start there are tried (13 microseconds). Where that
would not pay (few branches, or branches starting with most letters) it is the plain join.

The first characters come from the standard library's own parser of regular expressions
(`re._parser`, private: anything it does not say plainly counts as "any character", and a
branch that may start with anything is tried everywhere, as before).

`lowered` gives the same search for ASCII text without re.IGNORECASE, on the text lower-cased:
`re` folds the case of every character it compares under that flag, and the rule lists'
searches took a third less time without it (0.65 against 0.43 s over the 180,000 searches of
3,000 bench messages).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

try:  # the parser `re` compiles with; private, so its absence only costs the speed-up
    import re._constants as _ops  # type: ignore[import-not-found]
    import re._parser as _parser  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - another Python's layout
    _parser = None

MIN_BRANCHES = 30  # fewer: the lookaheads cost about what they save
MIN_HOIST = 10  # a shorter list: one shared `\b` saved nothing (7 hearsay phrases: 6.8 to 8.8 us)
MAX_RANGE = 64  # a class wider than this ("[a-z]" is 26) counts as any character


@lru_cache(maxsize=4096)
def _tree(source: str, flags: int) -> list[tuple[Any, Any]]:
    """A pattern parsed by `re`'s own parser (each rule pattern is read for its first
    characters, its leading boundary and its case: once)."""
    return list(_parser.parse(source, flags))


def first_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """The characters a match of `pattern` can start with, or None when it could start with
    any (or with none: it matches the empty string). Under re.IGNORECASE the other cases of
    these characters start one too; a lookahead on them compiled with the same flags says so."""
    if _parser is None:
        return None
    try:
        return _first(_tree(pattern.pattern, pattern.flags), pattern.flags)
    except Exception:  # a parser of another version, deep nesting: no speed-up, nothing wrong
        return None


def _first(items: list[tuple[Any, Any]], flags: int) -> frozenset[str] | None:
    """What a match of the sequence `items` can start with (what follows an item is part of
    the sequence, so an alternative or a repeat that may consume nothing reads on past it)."""
    for index, (op, arg) in enumerate(items):
        rest = items[index + 1 :]
        if op in (_ops.AT, _ops.ASSERT, _ops.ASSERT_NOT):
            continue  # zero-width: the first character is the next item's
        if op is _ops.LITERAL:
            return frozenset(chr(arg))
        if op is _ops.IN:
            return _class(arg)
        if op is _ops.SUBPATTERN:
            _group, added, _removed, inner = arg
            if added & re.IGNORECASE and not flags & re.IGNORECASE:
                return None  # "(?i:a)" in a case-sensitive pattern: "A" starts it too
            return _first([*inner, *rest], flags)
        if op is _ops.BRANCH:
            return _union([_first([*branch, *rest], flags) for branch in arg[1]])
        if op in (_ops.MAX_REPEAT, _ops.MIN_REPEAT):
            once = _first([*arg[2], *rest], flags)
            return once if arg[0] >= 1 else _union([once, _first(rest, flags)])  # "(> ?)*On"
        return None  # ".", "\w", a back-reference: it could be anything
    return None  # nothing consumed: the empty match


def _union(found: list[frozenset[str] | None]) -> frozenset[str] | None:
    known = [chars for chars in found if chars is not None]
    return frozenset().union(*known) if len(known) == len(found) else None


def _class(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    found: set[str] = set()
    for op, arg in items:
        if op is _ops.LITERAL:
            found.add(chr(arg))
        elif op is _ops.RANGE and arg[1] - arg[0] <= MAX_RANGE:
            found.update(chr(code) for code in range(arg[0], arg[1] + 1))
        else:
            return None  # negated, a category ("\d"), a wide range
    return frozenset(found)


def _folded(chars: frozenset[str] | None, flags: int) -> frozenset[str] | None:
    """Under re.IGNORECASE "A" and "a" start the same matches: one group for both."""
    if chars is None or not flags & re.IGNORECASE:
        return chars
    return frozenset(c.lower() if len(c.lower()) == 1 else c for c in chars)


def leads_with_boundary(pattern: re.Pattern[str]) -> bool:
    """Whether every match of `pattern` starts with its own `\\b` (first, outside any
    alternation, repeat or group that changes flags), so a list of such patterns can share
    one `\\b` in front."""
    if _parser is None:
        return False
    try:
        items = _tree(pattern.pattern, pattern.flags)
        while items and items[0][0] is _ops.SUBPATTERN:
            _group, added, removed, inner = items[0][1]
            if added or removed:
                return False  # "(?a:\\b...)": its boundary is not the list's
            items = list(inner)
    except Exception:  # a parser of another version: no speed-up, nothing wrong
        return False
    return bool(items) and items[0][0] is _ops.AT and items[0][1] is _ops.AT_BOUNDARY


def alternation_source(patterns: Sequence[re.Pattern[str]], flags: int) -> str:
    """One pattern that matches where any of `patterns` (all compiled with `flags`) does.

    In a list of MIN_HOIST or more, the branches that start with `\\b` share one, and behind
    it a class of the characters they can start with: inside a word, or at a word that none
    of them can start with, the search moves on after two checks instead of trying every
    branch (the 85 approval phrases: 30 to 21 microseconds a clause, the 40 boundary phrases
    30 to 13)."""
    firsts = {p: _folded(first_chars(p), flags) for p in patterns}
    if len(patterns) < MIN_HOIST:
        return _grouped(patterns, firsts)
    lead: list[re.Pattern[str]] = []
    rest: list[re.Pattern[str]] = []
    for pattern in patterns:
        (lead if leads_with_boundary(pattern) else rest).append(pattern)
    parts = [f"(?:{_grouped(rest, firsts)})"] if rest else []
    if lead:
        known = all(firsts[p] for p in lead)
        chars = set().union(*(firsts[p] or () for p in lead))
        gate = f"(?=[{''.join(re.escape(c) for c in sorted(chars))}])" if known else ""
        parts.insert(0, f"\\b{gate}(?:{_grouped(lead, firsts)})")
    return "|".join(parts)


def _grouped(
    patterns: Sequence[re.Pattern[str]], firsts: dict[re.Pattern[str], frozenset[str] | None]
) -> str:
    """The branches as one alternation, grouped by first character where that pays
    (`firsts`: each pattern's first characters, case-folded)."""
    plain = "|".join(f"(?:{p.pattern})" for p in patterns)
    chars = set().union(*(firsts[p] or () for p in patterns))
    if len(patterns) < MIN_BRANCHES or len(patterns) < 2 * len(chars):
        return plain
    groups: dict[str, list[str]] = {}
    anywhere: list[str] = []
    for pattern in patterns:
        first = firsts[pattern]
        if not first:
            anywhere.append(f"(?:{pattern.pattern})")
        for char in sorted(first or ()):
            groups.setdefault(char, []).append(f"(?:{pattern.pattern})")
    parts = [f"(?={re.escape(c)})(?:{'|'.join(group)})" for c, group in sorted(groups.items())]
    return "|".join([*parts, *anywhere])


# The characters outside ASCII that re.IGNORECASE takes for an ASCII letter, with that letter
# (found by trying every code point against every ASCII letter, both ways, on Python 3.11): a
# pattern holding one matches ASCII text that its lower-cased copy would not.
IGNORECASE_ASCII = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_FOLDS_TO_ASCII = frozenset(IGNORECASE_ASCII)
_ESCAPE = re.compile(r"\\(.)|[^\\]+", re.S)
_SAFE_ESCAPES = frozenset("bBdDsSwWAZntrfv123456789")  # a letter or digit kept as it is


def lowered(
    pattern: re.Pattern[str] | str, flags: int = 0, *, joins: Sequence[re.Pattern[str]] = ()
) -> re.Pattern[str] | None:
    """`pattern` (compiled with re.IGNORECASE) as a case-sensitive pattern for lower-cased
    text: on ASCII text, `lowered(p).search(text.lower())` finds a match exactly when
    `p.search(text)` does, and `re` tries its branches without folding each character's case
    (a third less time over a backlog's rule lists). None when that cannot be promised: a
    character given by its code, a scope without IGNORECASE, a range that lower-casing would
    change, a character outside ASCII that IGNORECASE takes for an ASCII letter. `pattern`
    may be a pattern's source, compiled with `flags`; `joins`: the patterns it joins
    (`alternation_source`), whose parsed trees are checked instead of parsing it again."""
    source, flags = (
        (pattern, flags) if isinstance(pattern, str) else (pattern.pattern, pattern.flags)
    )
    if _parser is None or not flags & re.IGNORECASE:
        return None
    parts = []
    for found in _ESCAPE.finditer(source):
        escaped = found.group(1)
        if escaped is None:  # "(?P<name>" and "(?P=name)" keep their capital
            parts.append(found.group(0).lower().replace("(?p<", "(?P<").replace("(?p=", "(?P="))
        elif escaped.isalnum() and (not escaped.isascii() or escaped not in _SAFE_ESCAPES):
            return None  # \x41, \u0041, \N{...}, octal: a letter the text may hold in capitals
        else:
            parts.append(found.group(0))
    try:
        trees = [_tree(p.pattern, p.flags) for p in joins] or [_tree(source, flags)]
        if not all(_case_free(tree) for tree in trees):
            return None
        return re.compile("".join(parts), flags & ~re.IGNORECASE)
    except Exception:  # a parser of another version, a group name that clashes once lowered
        return None


def _case_free(items: list[tuple[Any, Any]]) -> bool:
    """Whether lower-casing the pattern's letters keeps what it matches in ASCII text."""
    for op, arg in items:
        if op in (_ops.LITERAL, _ops.NOT_LITERAL) and chr(arg) in _FOLDS_TO_ASCII:
            return False
        if op is _ops.RANGE and not _range_lowers(arg[0], arg[1]):
            return False
        if op is _ops.SUBPATTERN and arg[2] & re.IGNORECASE:
            return False  # "(?-i:...)": its capitals must stay capitals
        if not all(_case_free(list(inner)) for inner in _inner(op, arg)):
            return False
    return True


def _inner(op: Any, arg: Any) -> list[Any]:
    """The sequences an item holds (a group's, each branch's, a repeat's, a class's)."""
    if op is _ops.SUBPATTERN:
        return [arg[3]]
    if op is _ops.BRANCH:
        return list(arg[1])
    if op in (_ops.MAX_REPEAT, _ops.MIN_REPEAT, _ops.POSSESSIVE_REPEAT):
        return [arg[2]]
    if op in (_ops.ASSERT, _ops.ASSERT_NOT):
        return [arg[1]]
    if op in (_ops.ATOMIC_GROUP, _ops.IN):
        return [arg]
    if op is _ops.GROUPREF_EXISTS:
        return [branch for branch in arg[1:] if branch]
    return []


def _range_lowers(low: int, high: int) -> bool:
    """Whether a class range means the same once its ends are lower-cased: all capitals, all
    small letters, or no ASCII letter (nor a character IGNORECASE takes for one) in it."""
    if ord("A") <= low <= high <= ord("Z") or ord("a") <= low <= high <= ord("z"):
        return True
    letters = not (high < ord("A") or low > ord("Z")) or not (high < ord("a") or low > ord("z"))
    return not letters and not any(low <= ord(c) <= high for c in _FOLDS_TO_ASCII)
