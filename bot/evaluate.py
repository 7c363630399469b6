"""`quotebot eval`: score decisions on a labelled folder of mail (pure over check results).

A labelled folder holds .eml and .mbox files, a `labels.toml` beside them and optionally a
`quotebot.toml` with the contacts the labels assume. `labels.toml` has one `[[case]]` per
labelled message:

    [[case]]
    file = "thread.mbox"     # the mail file, relative to the folder
    message = 2              # 1-based index in an mbox; default the last message
    action = "clarify"       # clarify | record | ignore
    stage = "unclear"        # none | technical | sample | partial | production | hold | unclear
    missing = ["quantity"]   # in the order quantity, revision, timing, authority
    quantity = 250           # optional: count released now
    held_quantity = 125      # optional: count held back
    revision = "B4"          # optional: controlling revision or file
    po_number = "4500-1182"  # optional
    material = "black PETG"  # optional
    note = "why"             # free text
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.check import check_path
from bot.decide import Context
from bot.errors import ConfigError
from bot.model import ACTIONS, STAGES, Decision
from bot.rules import Rules

RELEASES = ("sample", "partial", "production")
SCORED = (
    "action",
    "stage",
    "missing",
    "quantity",
    "held_quantity",
    "revision",
    "po_number",
    "material",
)


@dataclass(frozen=True)
class Case:
    """One labelled message."""

    file: str
    message: int | None
    label: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.file if self.message is None else f"{self.file}#{self.message}"


@dataclass(frozen=True)
class Outcome:
    """A case and what the bot decided for it (None when the message could not be read)."""

    case: Case
    got: Mapping[str, Any] | None
    error: str | None = None


def _norm_code(value: Any) -> str:
    text = str(value).strip().upper()
    for prefix in ("REVISION", "REV.", "REV"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    return text


def _norm_text(value: Any) -> str:
    return " ".join(str(value).lower().split())


_SAME: Mapping[str, Callable[[Any, Any], bool]] = {
    "revision": lambda want, got: got is not None and _norm_code(want) == _norm_code(got),
    "po_number": lambda want, got: (
        got is not None and _norm_code(want).replace(" ", "") == _norm_code(got).replace(" ", "")
    ),
    "material": lambda want, got: got is not None and _norm_text(want) in _norm_text(got),
    "missing": lambda want, got: list(want) == list(got),
}


def same(name: str, want: Any, got: Any) -> bool:
    """Whether a decided field matches its label."""
    compare = _SAME.get(name)
    return compare(want, got) if compare else bool(want == got)


@dataclass(frozen=True)
class Report:
    """Every outcome of one labelled folder, with the scores derived from them."""

    folder: Path
    outcomes: tuple[Outcome, ...]
    messages: int = 0
    threads: int = 0

    def scored(self, name: str) -> list[tuple[Outcome, bool]]:
        """(outcome, right) for every case whose label has the field."""
        rows = []
        for outcome in self.outcomes:
            if name not in outcome.case.label:
                continue
            got = outcome.got
            right = got is not None and same(name, outcome.case.label[name], got.get(name))
            rows.append((outcome, right))
        return rows

    def accuracy(self, name: str) -> tuple[int, int]:
        rows = self.scored(name)
        return sum(right for _, right in rows), len(rows)

    def missing_in_clarifications(self) -> tuple[int, int]:
        """Clarifications (by label) whose missing list the bot got exactly right."""
        rows = [
            (o, right) for o, right in self.scored("missing") if o.case.label["action"] == "clarify"
        ]
        return sum(right for _, right in rows), len(rows)

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter(
            (o.case.label["action"], o.got["action"] if o.got else "error") for o in self.outcomes
        )

    def false_releases(self) -> list[Outcome]:
        """The bot recorded a complete release where the label does not."""
        return [
            o
            for o in self.outcomes
            if o.got
            and o.got["action"] == "record"
            and o.got["stage"] in RELEASES
            and not (o.case.label["action"] == "record" and o.case.label["stage"] in RELEASES)
        ]

    def needless_questions(self) -> list[Outcome]:
        """The bot asks where the label records."""
        return [
            o
            for o in self.outcomes
            if o.got and o.got["action"] == "clarify" and o.case.label["action"] == "record"
        ]


def _as_fields(decision: Decision) -> dict[str, Any]:
    f = decision.fields
    return {
        "action": decision.action,
        "stage": decision.stage,
        "missing": list(decision.missing),
        "quantity": f.quantity,
        "held_quantity": f.held_quantity,
        "revision": f.revision,
        "po_number": f.po_number,
        "material": f.material,
    }


def load_cases(folder: Path) -> list[Case]:
    """The cases of `folder/labels.toml`, checked for shape."""
    path = folder / "labels.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no labels file; see `quotebot eval --help`") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    cases = []
    for index, entry in enumerate(data.get("case", []), start=1):
        where = f"{path}: case {index}"
        if not isinstance(entry.get("file"), str) or not (folder / entry["file"]).is_file():
            raise ConfigError(f"{where}: file {entry.get('file')!r} is not in {folder}")
        if entry.get("action") not in ACTIONS or entry.get("stage") not in STAGES:
            raise ConfigError(f"{where}: action and stage must be one of {ACTIONS} / {STAGES}")
        message = entry.get("message")
        if message is not None and (not isinstance(message, int) or message < 1):
            raise ConfigError(f"{where}: message must be a 1-based index")
        cases.append(Case(entry["file"], message, entry))
    if not cases:
        raise ConfigError(f"{path}: no [[case]] entries")
    return cases


def evaluate(folder: Path, rules: Rules, ctx: Context) -> Report:
    """Decide every labelled file once (threads in order) and pair decisions with labels."""
    cases = load_cases(folder)
    files = sorted({c.file for c in cases})
    decided = {name: check_path(str(folder / name), rules, ctx) for name in files}
    outcomes = []
    for case in cases:
        results = decided[case.file]
        index = (case.message or len(results)) - 1
        if index >= len(results):
            raise ConfigError(
                f"{folder / 'labels.toml'}: {case.name}: the file holds {len(results)} messages"
            )
        item = results[index]
        if item.decision is None:
            outcomes.append(Outcome(case, None, item.error))
        else:
            outcomes.append(Outcome(case, _as_fields(item.decision)))
    return Report(
        folder,
        tuple(outcomes),
        messages=sum(len(r) for r in decided.values()),
        threads=sum(len(r) > 1 for r in decided.values()),
    )


def _pct(right: int, total: int) -> str:
    return f"{right}/{total} ({right / total:.1%})" if total else "n/a"


def format_report(report: Report, *, show_wrong: bool = False) -> str:
    """The plain-text report `quotebot eval` prints."""
    lines = [
        f"{report.folder}: {len(report.outcomes)} labelled messages "
        f"({report.messages} messages in the files, {report.threads} threads)",
        "",
        "field accuracy (cases whose label has the field):",
    ]
    for name in SCORED:
        right, total = report.accuracy(name)
        if total:
            lines.append(f"  {name:<14} {_pct(right, total)}")
    lines.append(f"  {'missing (clarify)':<14} {_pct(*report.missing_in_clarifications())}")
    lines += ["", "actions (rows: label, columns: bot):"]
    columns = [*ACTIONS, "error"]
    confusion = report.confusion()
    lines.append("  " + " " * 9 + "".join(f"{c:>9}" for c in columns))
    for row in ACTIONS:
        lines.append(f"  {row:<9}" + "".join(f"{confusion[(row, c)]:>9}" for c in columns))
    false = report.false_releases()
    lines += ["", f"false releases: {len(false)}"]
    for o in false:
        got = o.got or {}
        lines.append(
            f"  {o.case.name}: labelled {o.case.label['action']} {o.case.label['stage']}, "
            f"bot recorded a {got.get('stage')} release"
        )
    lines.append(f"needless questions: {len(report.needless_questions())}")
    if show_wrong:
        lines += ["", "wrong:"]
        for name in SCORED:
            for o, right in report.scored(name):
                if not right:
                    value = o.got.get(name) if o.got else o.error
                    lines.append(
                        f"  {o.case.name}: {name} want {o.case.label[name]!r} got {value!r}"
                    )
    return "\n".join(lines)
