"""Tests for bot.sentences: text to sentences, sentences to clauses."""

from __future__ import annotations

import pytest

from bot.rules import Rules
from bot.sentences import (
    MEMO_CHARS,
    _line_sentences,
    _remembered,
    split_clauses,
    split_sentences,
)


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


def test_remembered_lines_give_what_a_fresh_split_gives() -> None:
    """The memo of lines already split (bot.sentences.MEMO_ITEMS) answers a line met again,
    as a quoted history brings it back, with what splitting it afresh gives; a line longer
    than MEMO_CHARS is split afresh and never remembered."""
    quoted = "Quote Q-20952 is attached. Lead time: approx. 10 days. Rev. C7 controls."
    long = " ".join(["Please print the brackets. Rev. B2 is fine."] * 40)
    assert len(long) > MEMO_CHARS
    _remembered.cache_clear()
    split = [split_sentences(text) for text in (quoted, f"> {quoted}", long, quoted, long)]
    assert split[0] == split[1] == split[3] == list(_line_sentences(quoted))
    assert split[2] == split[4] == list(dict.fromkeys(_line_sentences(long)))
    assert _remembered.cache_info().hits == 2  # the quoted line, twice; never the long one
    assert _remembered.cache_info().currsize == 1
