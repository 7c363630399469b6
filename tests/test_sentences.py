"""Tests for bot.sentences: text to sentences, sentences to clauses."""

from __future__ import annotations

import pytest

from bot.rules import Rules
from bot.sentences import split_clauses, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Approved. Start now.", ["Approved.", "Start now."]),
        ("Rev. A is approved. Start now.", ["Rev. A is approved.", "Start now."]),
        ("We need approx. 5 parts. Go ahead!", ["We need approx. 5 parts.", "Go ahead!"]),
        ("PO no. 4500123 attached. Thanks!", ["PO no. 4500123 attached.", "Thanks!"]),
        ("Can you start? We are ready.", ["Can you start?", "We are ready."]),
        ("Hi Lee\nApproved", ["Hi Lee", "Approved"]),
        ("First line.\n\n\nSecond line.", ["First line.", "Second line."]),
        (
            "Please release the first lot of 25 brackets for the December\n8 shipment.",
            ["Please release the first lot of 25 brackets for the December 8 shipment."],
        ),
        (
            "- Release 250 units\n- Rev B4\n- Start now",
            ["Release 250 units", "Rev B4", "Start now"],
        ),
        ("1) 250 units\n2) rev B4", ["250 units", "rev B4"]),
        # phone mail starts sentences in lower case: "pls hold ... the date. will confirm"
        ("the 0.2 mm layer is fine. ok", ["the 0.2 mm layer is fine.", "ok"]),
    ],
    ids=[
        "two-sentences",
        "rev-abbreviation",
        "approx-abbreviation",
        "po-no-abbreviation",
        "question",
        "short-lines",
        "blank-lines",
        "client-wrapped-line",
        "dash-bullets",
        "numbered-list",
        "lower-case-after-stop",
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    """Sentences end at . ! ? before a capital, not after abbreviations; wrapped lines rejoin."""
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Looks good, go ahead.", ["Looks good", "go ahead."]),
        (
            "Release lot 1 for 25 units but hold the rest.",
            ["Release lot 1 for 25 units", "hold the rest."],
        ),
        ("Approved; do not start production.", ["Approved", "do not start production."]),
        ("Ship 50 now and hold the balance.", ["Ship 50 now", "hold the balance."]),
        ("Black and white parts are fine.", ["Black and white parts are fine."]),
        ("Fit is good - purchasing will follow.", ["Fit is good", "purchasing will follow."]),
    ],
    ids=["comma-go-ahead", "but-hold", "semicolon", "and-hold", "plain-and", "dash"],
)
def test_split_clauses(rules: Rules, sentence: str, expected: list[str]) -> None:
    """A sentence splits where a new instruction starts, and nowhere else."""
    assert split_clauses(sentence, rules.clause_split) == expected
