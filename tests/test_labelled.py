"""The labelled set: decisions on realistic buyer mail, scored against hand-written labels."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.check import check_path
from bot.config import load_config
from bot.rules import load_rules
from bot.service import context_for

DATA = Path(__file__).parent / "data" / "labelled"
CASES = tomllib.loads((DATA / "labels.toml").read_text(encoding="utf-8"))["case"]
THRESHOLD = 0.90


def _decide_all() -> dict[str, dict[str, object]]:
    config = load_config(DATA / "quotebot.toml")
    rules, ctx = load_rules(config.bot.rules_dir), context_for(config)
    results = {}
    for case in CASES:
        checked = check_path(str(DATA / case["file"]), rules, ctx)[-1]
        assert checked.decision is not None, checked.error
        d = checked.decision
        results[case["file"]] = {
            "action": d.action,
            "stage": d.stage,
            "missing": list(d.missing),
            "quantity": d.fields.quantity,
            "revision": d.fields.revision,
        }
    return results


def test_labelled_set_is_big_enough() -> None:
    """The set holds at least 60 messages covering every action."""
    assert len(CASES) >= 60
    assert {case["action"] for case in CASES} == {"clarify", "record", "ignore"}


def test_labelled_actions_score_at_least_90_percent() -> None:
    """At least 90% of labelled messages get the labelled action."""
    results = _decide_all()
    wrong = [
        f"{c['file']}: want {c['action']}, got {results[c['file']]['action']}"
        for c in CASES
        if results[c["file"]]["action"] != c["action"]
    ]
    score = 1 - len(wrong) / len(CASES)
    assert score >= THRESHOLD, f"action score {score:.0%}:\n" + "\n".join(wrong)


def test_no_false_release_in_labelled_set() -> None:
    """No message labelled clarify is recorded as a complete release (the costly error)."""
    results = _decide_all()
    false_releases = [
        c["file"]
        for c in CASES
        if c["action"] == "clarify"
        and results[c["file"]]["action"] == "record"
        and results[c["file"]]["stage"] in ("sample", "partial", "production")
    ]
    assert false_releases == []


@pytest.mark.parametrize("case", [c for c in CASES if "quantity" in c], ids=lambda c: c["file"])
def test_labelled_quantity(case: dict[str, object]) -> None:
    """The released quantity matches the label where one is given."""
    config = load_config(DATA / "quotebot.toml")
    checked = check_path(
        str(DATA / str(case["file"])), load_rules(config.bot.rules_dir), context_for(config)
    )
    decision = checked[-1].decision
    assert decision is not None
    assert decision.fields.quantity == case["quantity"]
