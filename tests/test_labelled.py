"""The labelled sets: decisions on realistic buyer mail, scored against hand-written labels.

`tests/data/labelled` to `labelled4` are the tuning part: the rules were tuned on them
(`labelled4` was the first held-out part until its misses were studied; it moved here then).
`tests/data/heldout2` and `heldout3` were written apart from the rules and are never tuned on;
failures name only tuning cases and give held-out misses as a count, to keep it that way. The
thresholds of issue 3 hold on the whole set.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from bot.config import load_config
from bot.evaluate import Outcome, Report, evaluate
from bot.rules import load_rules
from bot.service import context_for

DATA = Path(__file__).parent / "data"
TUNING = ("labelled", "labelled2", "labelled3", "labelled4")
HELD_OUT = ("heldout2", "heldout3")
PARTS = (*TUNING, *HELD_OUT)


@cache
def report(part: str) -> Report:
    folder = DATA / part
    config = load_config(folder / "quotebot.toml")
    return evaluate(folder, load_rules(config.bot.rules_dir), context_for(config))


def outcomes(*parts: str) -> list[Outcome]:
    return [o for part in parts for o in report(part).outcomes]


def _check(rows: list[tuple[Outcome, bool]], threshold: float, what: str) -> None:
    assert rows, f"no labelled {what}"
    wrong = [o for o, right in rows if not right]
    score = 1 - len(wrong) / len(rows)
    hidden = {id(o) for o in outcomes(*HELD_OUT)}
    held_out = sum(id(o) in hidden for o in wrong)
    names = [o.case.name for o in wrong if id(o) not in hidden]
    assert score >= threshold, (
        f"{what}: {score:.1%} on the whole set, below {threshold:.0%}; "
        f"{held_out} held-out misses; tuning misses: {names}"
    )


def test_set_size_and_held_out_share() -> None:
    """At least 250 labelled messages and 20 threads; the held-out part is at least a fifth."""
    labelled = len(outcomes(*PARTS))
    assert labelled >= 250
    assert sum(report(p).threads for p in PARTS) >= 20
    assert len(outcomes(*HELD_OUT)) >= labelled / 5
    assert {o.case.label["action"] for o in outcomes(*PARTS)} == {"clarify", "record", "ignore"}


def test_no_false_release() -> None:
    """No message is recorded as a complete release unless its label says it is one (held-out
    false releases are counted, not named)."""
    tuning = [o.case.name for p in TUNING for o in report(p).false_releases()]
    held_out = sum(len(report(p).false_releases()) for p in HELD_OUT)
    assert (tuning, held_out) == ([], 0)


def test_actions_at_least_95_percent() -> None:
    rows = [
        (o, o.got is not None and o.got["action"] == o.case.label["action"])
        for o in outcomes(*PARTS)
    ]
    _check(rows, 0.95, "actions")


def test_missing_questions_exact_in_90_percent_of_clarifications() -> None:
    rows = [
        (o, o.got is not None and list(o.got["missing"]) == list(o.case.label["missing"]))
        for o in outcomes(*PARTS)
        if o.case.label["action"] == "clarify"
    ]
    _check(rows, 0.90, "missing questions")


@pytest.mark.parametrize("field", ["quantity", "revision", "po_number"])
def test_fields_at_least_95_percent(field: str) -> None:
    """Quantity, revision and PO number are right in 95% of the cases that state them."""
    _check([row for part in PARTS for row in report(part).scored(field)], 0.95, field)
