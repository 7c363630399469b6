"""Load rules/*.toml once into typed objects with compiled patterns."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.alternation import alternation_source, lowered
from bot.errors import RulesError
from bot.model import FIELDS, Field
from bot.sentences import clause_pattern

Patterns = tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Cues:
    """Sentence cues: what kind of statement a sentence makes and how it is meant."""

    approval: Patterns
    hold: Patterns
    not_hold: Patterns
    reduction: Patterns
    balance: Patterns
    technical: Patterns
    boundary: Patterns
    sample: Patterns
    sample_checkpoint: Patterns
    partial: Patterns
    production: Patterns
    negation: Patterns
    negation_after: Patterns
    hedged: Patterns
    conditional_tentative: Patterns
    conditional: Patterns
    future: Patterns
    hearsay: Patterns
    not_release: Patterns
    request_question: Patterns


@dataclass(frozen=True)
class QuantityRules:
    """How counts are found and told apart (released, held, forecast, not a quantity)."""

    units: re.Pattern[str]
    plural_unit: re.Pattern[str]
    not_units: re.Pattern[str]
    lead: Patterns
    held: Patterns
    observed: Patterns
    forecast: Patterns
    not_after: re.Pattern[str]
    pack_after: re.Pattern[str]
    of_after: re.Pattern[str]
    not_before: re.Pattern[str]
    total_before: re.Pattern[str]
    held_before: re.Pattern[str]
    words: Mapping[str, int]


@dataclass(frozen=True)
class HeaderRule:
    """A never-answer rule on one header."""

    name: str
    value: re.Pattern[str]
    reason: str


@dataclass(frozen=True, eq=False)
class Rules:
    """Every rule the pure core needs, loaded from one rules folder. Compared and hashed by
    identity: a memo of what a sentence holds under these rules keys on them cheaply."""

    questions: Mapping[Field, str]
    authority_roles: frozenset[str]
    cues: Cues
    timing_now: Patterns
    quantity: QuantityRules
    revision: Patterns
    revision_bare: re.Pattern[str]
    po_number: re.Pattern[str]
    po_attachment: re.Pattern[str]
    po_document: re.Pattern[str]
    po_delivery: re.Pattern[str]
    po_quantity_column: re.Pattern[str]
    po_revision_column: re.Pattern[str]
    material: Patterns
    finish: Patterns
    trigger: Patterns
    never_headers: tuple[HeaderRule, ...]
    never_content_types: frozenset[str]
    never_local_parts: Patterns
    autoreply_subject: Patterns
    autoreply_body: Patterns
    clause_split: re.Pattern[str]
    reply_languages: tuple[str, ...]
    forward_markers: Patterns
    quote_headers: Patterns
    signature_markers: Patterns
    disclaimer_markers: Patterns
    zone_lines: Mapping[str, Patterns]
    source: Path
    languages: tuple[str, ...] = ()


class _Source:
    """The text of one rules file, to name the line a bad value is on."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def where(self, section: str, key: str, value: str | None = None) -> str:
        """`path:line` of `value` (or else of `key = `) inside `[section]`, or just `path`."""
        start = 0
        if section:
            header = re.compile(rf"^\s*\[+\s*{re.escape(section)}\s*\]+")
            start = next((i for i, line in enumerate(self.lines) if header.match(line)), 0)
        if value:
            escaped = value.replace("\\", "\\\\")
            for i in range(start, len(self.lines)):
                if value in self.lines[i] or escaped in self.lines[i]:
                    return f"{self.path}:{i + 1}"
        assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(start, len(self.lines)):
            if assign.match(self.lines[i]):
                return f"{self.path}:{i + 1}"
        return str(self.path)


class _Table:
    """One TOML table; every key read is remembered so that unknown keys can be refused."""

    def __init__(
        self,
        source: _Source,
        data: Mapping[str, Any],
        prefix: str = "",
        origins: Mapping[str, _Source] | None = None,
    ) -> None:
        self.source, self.data, self.prefix = source, data, prefix
        self.origins: Mapping[str, _Source] = origins or {}
        self.used: set[str] = set()
        self.children: list[_Table] = []

    def _fail(self, key: str, problem: str, value: str | None = None) -> RulesError:
        source = self.origins.get(value, self.source) if value else self.source
        where = source.where(self.prefix.rstrip("."), key, value)
        return RulesError(f"{where}: {self.prefix}{key}: {problem}")

    def get(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def sub(self, key: str) -> _Table:
        for child in self.children:
            if child.prefix == f"{self.prefix}{key}.":
                return child
        value = self.get(key)
        if not isinstance(value, dict):
            raise RulesError(f"{self.source.path}: [{self.prefix}{key}] is missing or not a table")
        child = _Table(self.source, value, f"{self.prefix}{key}.", self.origins)
        self.children.append(child)
        return child

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self._fail(key, f"must be a string, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "must be a list of strings")
        return tuple(value)

    def pattern(self, key: str, value: str | None = None) -> re.Pattern[str]:
        source = self.text(key) if value is None else value
        try:
            return re.compile(source, re.IGNORECASE)
        except re.error as exc:
            raise self._fail(key, f"bad regular expression {source!r}: {exc}", source) from None

    def patterns(self, key: str) -> Patterns:
        return tuple(self.pattern(key, v) for v in self.strings(key))

    def refuse_unknown(self) -> None:
        """Raise for a key nobody read: a typo would otherwise switch a rule off silently."""
        for key in self.data:
            if key not in self.used:
                raise self._fail(key, "unknown key (a typo?)")
        for child in self.children:
            child.refuse_unknown()


def _parse(path: Path) -> tuple[_Source, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(
            f"{path}: rules file missing; restore it from the quotebot sources"
        ) from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{path}: not UTF-8: {exc}") from None
    try:
        return _Source(path, text), tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None


def _read(path: Path) -> _Table:
    source, data = _parse(path)
    return _Table(source, data)


def _merge(
    base: dict[str, Any],
    extra: Mapping[str, Any],
    source: _Source,
    origins: dict[str, _Source],
    prefix: str = "",
) -> None:
    """Add one language file's phrases to the base tables (lists grow, patterns alternate)."""
    for key, value in extra.items():
        name = f"{prefix}{key}"
        have = base.get(key)
        if have is None:
            raise RulesError(
                f"{source.where(prefix.rstrip('.'), key)}: {name}: "
                f"unknown key (a language file only adds to keys of release.toml)"
            )
        if isinstance(have, dict) and isinstance(value, dict):
            if all(isinstance(v, int) for v in value.values()):  # number words
                base[key] = {**have, **value}
            else:
                _merge(have, value, source, origins, f"{name}.")
        elif isinstance(have, list) and isinstance(value, list):
            origins.update({v: source for v in value if isinstance(v, str)})
            base[key] = [*have, *value]
        elif isinstance(have, str) and isinstance(value, str) and key != "bare":
            try:
                re.compile(value)
            except re.error as exc:
                raise RulesError(
                    f"{source.where(prefix.rstrip('.'), key, value)}: {name}: "
                    f"bad regular expression {value!r}: {exc}"
                ) from None
            base[key] = f"(?:(?:{have})|(?:{value}))"
        else:
            raise RulesError(
                f"{source.where(prefix.rstrip('.'), key)}: {name}: "
                f"must have the same type as in release.toml"
            )


def _release(folder: Path) -> tuple[_Table, tuple[str, ...]]:
    """release.toml with every rules/lang/*.toml merged in (one file per language)."""
    source, data = _parse(folder / "release.toml")
    origins: dict[str, _Source] = {}
    languages = []
    for path in sorted((folder / "lang").glob("*.toml")):
        lang_source, extra = _parse(path)
        _merge(data, extra, lang_source, origins)
        languages.append(path.stem)
    return _Table(source, data, origins=origins), tuple(languages)


def _cues(table: _Table) -> Cues:
    return Cues(**{name: table.patterns(name) for name in Cues.__dataclass_fields__})


def _header_rules(table: _Table) -> tuple[HeaderRule, ...]:
    rules = []
    entries = table.data.get("header", [])
    for index, entry in enumerate(entries):
        row = _Table(table.source, entry, f"header[{index}].")
        rules.append(HeaderRule(row.text("name").lower(), row.pattern("value"), row.text("reason")))
    return tuple(rules)


def _clause_split(table: _Table) -> re.Pattern[str]:
    parts = [list(table.strings(k)) for k in ("contrast", "starters", "and_starters")]
    for key, words in zip(("contrast", "starters", "and_starters"), parts, strict=True):
        for word in words:
            table.pattern(key, word)  # each fragment must compile on its own (names its line)
    return table.pattern("clauses", clause_pattern(*parts))


def load_rules(folder: Path) -> Rules:
    """Read release.toml (with the phrases of rules/lang/*.toml), never_answer.toml and
    zones.toml from `folder`; a wrong value or an unknown key names its file and line."""
    release, languages = _release(folder)
    never = _read(folder / "never_answer.toml")
    zones = _read(folder / "zones.toml")
    questions = release.sub("questions")
    qty = release.sub("quantity")
    words = qty.get("words") or {}
    if not isinstance(words, dict) or not all(isinstance(v, int) for v in words.values()):
        raise qty._fail("words", "must map words to whole numbers")
    rules = Rules(
        questions={name: questions.text(name) for name in FIELDS},
        authority_roles=frozenset(release.sub("authority").strings("roles")),
        cues=_cues(release.sub("cues")),
        timing_now=release.sub("timing").patterns("now"),
        quantity=QuantityRules(
            units=qty.pattern("units"),
            plural_unit=qty.pattern("plural_unit"),
            not_units=qty.pattern("not_units"),
            lead=qty.patterns("lead"),
            held=qty.patterns("held"),
            observed=qty.patterns("observed"),
            forecast=qty.patterns("forecast"),
            not_after=qty.pattern("not_after"),
            pack_after=qty.pattern("pack_after"),
            of_after=qty.pattern("of_after"),
            not_before=qty.pattern("not_before"),
            total_before=qty.pattern("total_before"),
            held_before=qty.pattern("held_before"),
            words={k.lower(): v for k, v in words.items()},
        ),
        revision=release.sub("revision").patterns("patterns"),
        revision_bare=release.sub("revision").pattern("bare"),
        po_number=release.sub("po").pattern("number"),
        po_attachment=release.sub("po").pattern("attachment"),
        po_document=release.sub("po").pattern("document"),
        po_delivery=release.sub("po").pattern("delivery"),
        po_quantity_column=release.sub("po").pattern("quantity_column"),
        po_revision_column=release.sub("po").pattern("revision_column"),
        material=release.sub("material").patterns("patterns"),
        finish=release.sub("material").patterns("finish"),
        trigger=release.sub("material").patterns("trigger"),
        clause_split=_clause_split(release.sub("clauses")),
        never_headers=_header_rules(never),
        never_content_types=frozenset(never.sub("content_types").strings("never")),
        never_local_parts=never.sub("senders").patterns("local_part"),
        autoreply_subject=never.sub("autoreply").patterns("subject"),
        autoreply_body=never.sub("autoreply").patterns("body"),
        reply_languages=zones.sub("reply").strings("languages"),
        forward_markers=zones.sub("forward").patterns("markers"),
        quote_headers=zones.sub("quote").patterns("headers"),
        signature_markers=zones.sub("signature").patterns("markers"),
        disclaimer_markers=zones.sub("disclaimer").patterns("markers"),
        zone_lines={
            k: zones.sub("lines").patterns(k)
            for k in ("separator", "from_block", "attribution", "contact")
        },
        source=folder,
        languages=languages,
    )
    release.refuse_unknown()
    return rules


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")
_CONTEXT = re.compile(r"\(\?<?[=!]|\^|\$|\\[AZ]")  # lookarounds and anchors see past a clause


@dataclass(frozen=True)
class _Joined:
    """What is worked out once for a rule list: the list as one alternation (most texts match
    none of a list, and one search says so), and whether a match in a clause is one in its
    sentence too (`clause_local`)."""

    patterns: Patterns  # kept alive with its entry, so its id stays its own
    source: str | None  # of the joined pattern
    flags: int
    local: bool
    lowered: re.Pattern[str] | None = None  # `combined` for lower-cased ASCII text

    @cached_property
    def combined(self) -> re.Pattern[str] | None:
        """The joined pattern, compiled at its first use: where there is a lower-cased copy
        only text outside ASCII needs it (and compiling a long list takes milliseconds)."""
        if self.source is None:
            return None
        try:
            return re.compile(self.source, self.flags)
        except re.error:
            return None


# keyed by the list's id: hashing a tuple of patterns hashes their compiled code, every call
_JOINED: dict[int, _Joined] = {}


def _combine(patterns: Patterns) -> str | None:
    """The source of one pattern that matches where any of `patterns` does (bot.alternation:
    quick on long lists), or None when they cannot be joined (different flags, numbered
    back-references). One that does not compile (repeated group names) is left to
    `_Joined.combined` and `lowered`, which then give None."""
    flags = {p.flags for p in patterns}
    if len(flags) != 1 or any(_BACKREFERENCE.search(p.pattern) for p in patterns):
        return None
    return alternation_source(patterns, flags.pop())


def _joined(patterns: Patterns) -> _Joined:
    entry = _JOINED.get(id(patterns))
    if entry is None or entry.patterns is not patterns:
        if len(_JOINED) >= 512:  # only lists built on the fly could get here
            _JOINED.clear()
        local = not any(_CONTEXT.search(p.pattern) for p in patterns)
        source, flags = _combine(patterns), patterns[0].flags
        quick = None if source is None else lowered(source, flags, joins=patterns)
        entry = _JOINED[id(patterns)] = _Joined(patterns, source, flags, local, quick)
    return entry


def clause_local(patterns: Patterns) -> bool:
    """Whether a match of `patterns` in a clause is one in its sentence too: clauses are cut
    at spaces and punctuation, so a pattern sees the same text and word boundaries in both,
    unless it looks around or anchors. Then a sentence without a match rules out its
    clauses."""
    return _joined(patterns).local


def warm(rules: Rules) -> None:
    """Join every rule list now rather than at its first use (a parse worker does this before
    it takes work, so the pass never waits on it)."""
    groups = (vars(rules), vars(rules.cues), vars(rules.quantity), rules.zone_lines)
    for value in (v for group in groups for v in group.values()):
        if isinstance(value, tuple) and len(value) > 1 and isinstance(value[0], re.Pattern):
            _joined(value)


def any_match(patterns: Patterns, text: str) -> re.Match[str] | None:
    """The first match of the first pattern (in list order) that matches `text`, or None."""
    if len(patterns) > 1:
        entry = _JOINED.get(id(patterns))  # _joined(patterns), inline: ~80 calls a message
        if entry is None or entry.patterns is not patterns:
            entry = _joined(patterns)
        if entry.lowered is not None and text.isascii():
            if entry.lowered.search(text.lower()) is None:
                return None  # the common case: no pattern of the list matches
        elif entry.combined is not None and entry.combined.search(text) is None:
            return None
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found
    return None
