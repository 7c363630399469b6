"""Load rules/*.toml once into typed objects with compiled patterns."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import RulesError
from bot.model import FIELDS, Field

Patterns = tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Cues:
    """Sentence cues: what kind of statement a sentence makes and how it is meant."""

    approval: Patterns
    hold: Patterns
    not_hold: Patterns
    balance: Patterns
    technical: Patterns
    boundary: Patterns
    sample: Patterns
    partial: Patterns
    production: Patterns
    negation: Patterns
    hedged: Patterns
    conditional_tentative: Patterns
    conditional: Patterns
    future: Patterns
    hearsay: Patterns
    request_question: Patterns


@dataclass(frozen=True)
class QuantityRules:
    """How counts are found and told apart (released, held, forecast, not a quantity)."""

    units: re.Pattern[str]
    plural_unit: re.Pattern[str]
    not_units: re.Pattern[str]
    lead: Patterns
    held: Patterns
    forecast: Patterns
    not_after: re.Pattern[str]
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


@dataclass(frozen=True)
class Rules:
    """Every rule the pure core needs, loaded from one rules folder."""

    questions: Mapping[Field, str]
    authority_roles: frozenset[str]
    cues: Cues
    timing_now: Patterns
    quantity: QuantityRules
    revision: Patterns
    revision_bare: re.Pattern[str]
    po_number: re.Pattern[str]
    po_attachment: re.Pattern[str]
    material: Patterns
    finish: Patterns
    trigger: Patterns
    never_headers: tuple[HeaderRule, ...]
    never_content_types: frozenset[str]
    never_local_parts: Patterns
    reply_languages: tuple[str, ...]
    forward_markers: Patterns
    quote_headers: Patterns
    signature_markers: Patterns
    disclaimer_markers: Patterns
    source: Path


class _Table:
    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix

    def sub(self, key: str) -> _Table:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise RulesError(f"{self.path}: [{self.prefix}{key}] is missing or not a table")
        return _Table(self.path, value, f"{self.prefix}{key}.")

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise RulesError(f"{self.path}: {self.prefix}{key} must be a string, got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RulesError(f"{self.path}: {self.prefix}{key} must be a list of strings")
        return tuple(value)

    def pattern(self, key: str, value: str | None = None) -> re.Pattern[str]:
        source = self.text(key) if value is None else value
        try:
            return re.compile(source, re.IGNORECASE)
        except re.error as exc:
            raise RulesError(
                f"{self.path}: {self.prefix}{key}: bad regular expression {source!r}: {exc}"
            ) from None

    def patterns(self, key: str) -> Patterns:
        return tuple(self.pattern(key, v) for v in self.strings(key))


def _read(path: Path) -> _Table:
    try:
        return _Table(path, tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise RulesError(
            f"{path}: rules file missing; restore it from the quotebot sources"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None


def _cues(table: _Table) -> Cues:
    return Cues(**{name: table.patterns(name) for name in Cues.__dataclass_fields__})


def _header_rules(table: _Table) -> tuple[HeaderRule, ...]:
    rules = []
    entries = table.data.get("header", [])
    for index, entry in enumerate(entries):
        row = _Table(table.path, entry, f"header[{index}].")
        rules.append(HeaderRule(row.text("name").lower(), row.pattern("value"), row.text("reason")))
    return tuple(rules)


def load_rules(folder: Path) -> Rules:
    """Read release.toml, never_answer.toml and zones.toml from `folder`."""
    release = _read(folder / "release.toml")
    never = _read(folder / "never_answer.toml")
    zones = _read(folder / "zones.toml")
    questions = release.sub("questions")
    qty = release.sub("quantity")
    words = qty.data.get("words", {})
    if not all(isinstance(v, int) for v in words.values()):
        raise RulesError(f"{release.path}: quantity.words must map words to whole numbers")
    return Rules(
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
            forecast=qty.patterns("forecast"),
            not_after=qty.pattern("not_after"),
            not_before=qty.pattern("not_before"),
            total_before=qty.pattern("total_before"),
            held_before=qty.pattern("held_before"),
            words={k.lower(): v for k, v in words.items()},
        ),
        revision=release.sub("revision").patterns("patterns"),
        revision_bare=release.sub("revision").pattern("bare"),
        po_number=release.sub("po").pattern("number"),
        po_attachment=release.sub("po").pattern("attachment"),
        material=release.sub("material").patterns("patterns"),
        finish=release.sub("material").patterns("finish"),
        trigger=release.sub("material").patterns("trigger"),
        never_headers=_header_rules(never),
        never_content_types=frozenset(never.sub("content_types").strings("never")),
        never_local_parts=never.sub("senders").patterns("local_part"),
        reply_languages=zones.sub("reply").strings("languages"),
        forward_markers=zones.sub("forward").patterns("markers"),
        quote_headers=zones.sub("quote").patterns("headers"),
        signature_markers=zones.sub("signature").patterns("markers"),
        disclaimer_markers=zones.sub("disclaimer").patterns("markers"),
        source=folder,
    )


def any_match(patterns: Patterns, text: str) -> re.Match[str] | None:
    """The first match of any pattern in `text`, or None."""
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found
    return None
