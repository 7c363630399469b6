"""Tests for bot.extract: stage and release fields of one message's new text (release-rules.md)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.extract import extract
from bot.model import Attachment, Extraction
from bot.rules import Rules


def case(id_: str, *values: object, xfail: str | None = None) -> Any:
    """One parametrized case; `xfail` names a contract violation the code still has."""
    marks = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
    return pytest.param(*values, id=id_, marks=marks)


def run(rules: Rules, text: str, *attachments: Attachment) -> Extraction:
    """Extract from `text` with the shipped rules."""
    return extract(text, rules, attachments=attachments)


# -- stages ---------------------------------------------------------------------------------------

STAGES = [
    case("thanks", "Thanks!", "none"),
    case("info-question", "Can you send me the lead time for 500 units?", "none"),
    case("quote-request", "Please quote 200 units in black PETG.", "none"),
    case("shipping-talk", "The parts shipped yesterday, tracking to follow.", "none"),
    case("tentative-if-sample-passes", "If the sample passes we will likely approve 300.", "none"),
    case(
        "tentative-might-go-ahead",
        "We might go ahead with 300 units next month.",
        "none",
    ),
    case("looks-good-go-ahead", "Looks good, go ahead.", "unclear"),
    case("bare-approved", "Approved.", "unclear"),
    case("go-ahead-for-now", "Go ahead for now.", "unclear"),
    case("rev-approved-go-ahead", "Rev C7 approved, go ahead.", "unclear"),
    case("fit-good", "The fit is good on rev B4.", "technical"),
    case(
        "geometry-purchasing-will-follow",
        "Geometry approved, purchasing will follow with the PO.",
        "technical",
    ),
    case(
        "fit-good-but-not-production",
        "The fit is good on rev B4, but this does not release production.",
        "technical",
    ),
    case(
        "technical-standpoint-only",
        "The sample fits and is approved from a technical standpoint only; "
        "this does not release production.",
        "technical",
    ),
    case(
        "engineering-standpoint-release-to-follow",
        "Rev K1 is approved from an engineering standpoint only. Production release to follow.",
        "technical",
    ),
    case("five-sample-parts", "Please print 5 sample parts of rev A now.", "sample"),
    case("pilot-is-sample", "Approved for the 50-unit pilot, rev B, start Monday.", "sample"),
    case("lot-1-hold-rest", "Release lot 1 for 25 units now, hold the remaining 275.", "partial"),
    case(
        "first-lot-hold-balance",
        "Please release the first lot of 100 brackets, rev B4, ship by Friday; hold the balance.",
        "partial",
    ),
    case("complete-release", "Release 250 units of rev B4, start now. PO 45001.", "production"),
    case(
        "request-question-start-run",
        "Can you start the run of 400 units on rev C this week?",
        "production",
    ),
    case(
        "release-waiting-on-signoff",
        "We are releasing the order for rev K1 once the samples are signed off; "
        "quantity will be 500.",
        "production",
    ),
    case(
        "hearsay-plus-direct-instruction",
        "Purchasing approved it, so please go ahead and print the 250 brackets on rev C7.",
        "production",
    ),
    case("hold-order", "Please hold the order.", "hold"),
    case("question-pause", "Can you pause the order?", "hold"),
    case("do-not-start", "Do not start printing until we confirm.", "hold"),
    case("dont-start-yet", "Please don't start yet.", "hold"),
]


@pytest.mark.parametrize(("text", "stage"), STAGES)
def test_stage(rules: Rules, text: str, stage: str) -> None:
    """Each new text gets the one stage the contract's stage table gives it."""
    assert run(rules, text).stage == stage


@pytest.mark.parametrize(
    ("text", "bounded"),
    [
        ("Geometry approved, purchasing will follow with the PO.", True),
        ("Fit is good - purchasing will follow.", True),
        ("The fit is good on rev B4.", False),
    ],
    ids=["purchasing-will-follow", "dash-purchasing-will-follow", "no-boundary"],
)
def test_technical_boundary(rules: Rules, text: str, bounded: bool) -> None:
    """A technical approval is bounded only when it says production is not yet released."""
    result = run(rules, text)
    assert result.stage == "technical"
    assert any(s.bounded for s in result.statements) is bounded


def test_po_attachment_is_a_sample_release(rules: Rules) -> None:
    """A PO attached for prototypes releases a sample and marks the PO as attached."""
    result = run(
        rules,
        "Attached is our PO for the prototypes.",
        Attachment("PO-45001.pdf", "application/pdf", 1000),
    )
    assert result.stage == "sample"
    assert result.fields.po_attached is True


# -- quantity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("Release 250 units of rev B4 now.", 250),
        ("Please release the 50-unit pilot of rev B4 now.", 50),
        ("Release lot 1 for 25 units of rev B4 now.", 25),
        ("Please print 5 sample parts of rev A now.", 5),
        ("Please release twelve brackets of rev B4 now.", 12),
        ("Release 1,200 units of rev B4 now.", 1200),
        ("Release 250 units of rev B4 now, 25 per bag.", 250),
        ("Release rev B4 now, PO 4500123 for 250 units.", 250),
    ],
    ids=[
        "units",
        "n-unit-pilot",
        "lot-1-for-n",
        "sample-parts",
        "word-number",
        "thousands-comma",
        "count-beside-pack-count",
        "count-beside-po",
    ],
)
def test_released_quantity(rules: Rules, text: str, quantity: int) -> None:
    """An explicit count released now is the quantity."""
    assert run(rules, text).fields.quantity == quantity


NOT_QUANTITY = [
    case("rate-per-week", "Please go ahead with production of rev B4; we use 1200 units/week."),
    case("rate-a-day", "Please go ahead with production of rev B4, about 50 parts a day."),
    case("pack-per-bag", "Please go ahead with production of rev B4. They come 25 per bag."),
    case(
        "pack-pcs-per-bag",
        "Please go ahead with production of rev B4. They come 25 pcs per bag.",
    ),
    case(
        "pack-parts-per-box",
        "Please go ahead with production of rev B4, packed 10 parts per box.",
    ),
    case("date-slash", "Please go ahead with production of rev B4, ship by 12/15."),
    case("date-month", "Please go ahead with production of rev B4 for the December 8 shipment."),
    case("date-iso", "Please release rev B4 now, delivery on 2025-12-08."),
    case("po-number", "Please go ahead with production of rev B4 under PO 4500123."),
    case("m3", "Please go ahead with production of rev B4. Use M3 inserts."),
    case("four-x-m3", "Please go ahead with production of rev B4, 4 x M3 screws per part."),
    case("layer-mm", "Please go ahead with production of rev B4 at 0.2 mm layers."),
    case("wall-mm", "Please release rev B4 now; the wall is 1.5 mm thick."),
    case("price-each", "Please go ahead with production of rev B4 at $4.10 each."),
    case("price-total", "Please release rev B4 now, the quote was $1,250."),
    case(
        "lead-days",
        "Please go ahead with production of rev B4; lead time 10 business days is fine.",
    ),
    case("lead-weeks", "Please release rev B4 now; we need them in 3 weeks."),
    case("phone-spaces", "Please go ahead with production of rev B4, call me at 555 0123."),
    case("phone-intl", "Please release rev B4 now. Call me at +1 (614) 555-0139."),
    case(
        "forecast",
        "Please go ahead with production of rev B4; we forecast 2000 units per year.",
    ),
    case("quoted", "Please go ahead with production of rev B4 as quoted, 500 units quoted."),
    case("revision-number", "Please go ahead with production of rev 2."),
    case("quote-number", "Go ahead with quote Q-1042 for rev B4 now."),
    case("pressure", "Please release the run of rev B4 now, 2 bar leak test passed."),
]


@pytest.mark.parametrize("text", NOT_QUANTITY)
def test_numbers_that_are_not_released_quantities(rules: Rules, text: str) -> None:
    """Pack counts, dates, PO numbers, sizes, prices, lead times, phones and forecasts are not
    the quantity."""
    assert run(rules, text).fields.quantity is None


def test_held_count_is_not_released(rules: Rules) -> None:
    """In a partial release the released count is the quantity and the held count is held."""
    fields = run(rules, "Release lot 1 for 25 units now, hold the remaining 275.").fields
    assert (fields.quantity, fields.held_quantity) == (25, 275)


@pytest.mark.parametrize(
    "text",
    [
        "Please hold all 300 units of rev B4.",
        "Do not start the 500 brackets yet.",
    ],
    ids=["hold-all", "do-not-start"],
)
def test_held_count_in_a_hold_is_not_a_quantity(rules: Rules, text: str) -> None:
    """A count the message explicitly holds is never the released quantity."""
    result = run(rules, text)
    assert result.stage == "hold"
    assert result.fields.quantity is None


@pytest.mark.parametrize(
    "text",
    [
        case(
            "k1-once-signed-off",
            "We are releasing the order for rev K1 once the samples are signed off; "
            "quantity will be 500.",
        ),
        case("once-budget-clears", "Release 250 units of rev B4 once budget clears."),
        case("pending-po", "Release 250 units of rev B4, pending the PO."),
        case("after-sign-off", "Release 250 units of rev B4 after sign-off."),
    ],
)
def test_release_waiting_on_condition_keeps_count_without_timing(rules: Rules, text: str) -> None:
    """A definite release that waits on a condition is a release with its count and no timing."""
    result = run(rules, text)
    assert result.stage == "production"
    assert result.fields.quantity is not None
    assert result.fields.timing is None


# -- revision -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "revision"),
    [
        ("Release 250 units of revision B4 now.", "B4"),
        ("Release 250 units of rev C7 now.", "C7"),
        ("Release 250 units of Rev. A now.", "A"),
        ("Release 250 units of rev c7 now.", "C7"),
        ("Release 250 units of bracket_v3.step now.", "bracket_v3.step"),
        ("Release 250 units of drawing 1234-002 rev A now.", "A"),
    ],
    ids=["revision-word", "rev", "rev-dot", "lower-case", "step-file", "drawing-rev"],
)
def test_revision(rules: Rules, text: str, revision: str) -> None:
    """The controlling revision or file named in the new text is the revision."""
    assert run(rules, text).fields.revision == revision


def test_two_revisions_are_both_listed(rules: Rules) -> None:
    """A message naming two revisions lists both, in order."""
    fields = run(rules, "Rev B4 is approved, rev B5 is not.").fields
    assert fields.revisions == ("B4", "B5")


@pytest.mark.parametrize(
    "text",
    ["Release 250 units now.", "Release 250 units, revision to follow, start now."],
    ids=["no-revision", "revision-to-follow"],
)
def test_no_revision(rules: Rules, text: str) -> None:
    """Without a named revision or file the revision is missing."""
    assert run(rules, text).fields.revision is None


# -- timing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Release 250 units of rev B4, start now.",
        "Release 250 units of rev B4, please proceed.",
        "Release 250 units of bracket_v3.step, go ahead and schedule it.",
        "Please start 250 units of rev B4 on Monday 12/1.",
        "Release 250 units of revision B4, ship them by Friday.",
        "Release 250 units of rev B4 this week.",
        "Release 250 units of Rev. A for the December 8 shipment.",
        "Looks good, go ahead.",
    ],
    ids=[
        "start-now",
        "please-proceed",
        "go-ahead-schedule",
        "start-monday-date",
        "ship-by-friday",
        "this-week",
        "for-shipment",
        "go-ahead-counts",
    ],
)
def test_timing_present(rules: Rules, text: str) -> None:
    """Start now, a start date, a ship or delivery date, 'go ahead' and 'proceed' are timing."""
    assert run(rules, text).fields.timing is not None


@pytest.mark.parametrize(
    "text",
    [
        "Release 250 units of rev B4.",
        "250 units of rev B4 are approved.",
        "250 units of rev B4 released.",
        "Release 250 units of rev B4 once budget clears.",
        "Release 250 units of rev B4, pending the PO.",
        "Release 250 units of rev B4 after sign-off.",
        "Approved.",
    ],
    ids=[
        "release-alone",
        "bare-approved",
        "bare-released",
        "once-budget-clears",
        "pending-po",
        "after-sign-off",
        "approved-alone",
    ],
)
def test_timing_absent(rules: Rules, text: str) -> None:
    """A bare 'approved' or 'released', or a condition that has not happened, is not timing."""
    assert run(rules, text).fields.timing is None


# -- PO and material ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "po"),
    [
        ("Release 250 units of rev B4 now. PO 4500123.", "4500123"),
        ("Release 250 units of rev B4 now, P.O. #A-7781.", "A-7781"),
        ("Release 250 units of rev B4 now on purchase order 77120.", "77120"),
        ("Which PO number 4500123 or 4500124 should we use?", None),
    ],
    ids=["po", "po-dotted-hash", "purchase-order", "question-is-not-issuing"],
)
def test_po_number(rules: Rules, text: str, po: str | None) -> None:
    """A PO number issued in the new text is found; one inside a question is not issued."""
    assert run(rules, text).fields.po_number == po


@pytest.mark.parametrize(
    ("filename", "attached"),
    [("PO-45001.pdf", True), ("purchase_order.pdf", True), ("drawing_rev_B.pdf", False)],
    ids=["po-file", "purchase-order-file", "drawing"],
)
def test_po_attachment(rules: Rules, filename: str, attached: bool) -> None:
    """An attachment named like a purchase order counts as a PO attachment."""
    fields = run(
        rules,
        "Release 250 units of rev B4 now.",
        Attachment(filename, "application/pdf", 1000),
    ).fields
    assert fields.po_attached is attached


def test_material_is_read(rules: Rules) -> None:
    """A material named in the release is kept with its colour."""
    fields = run(rules, "Please print 300 units of rev A in black PETG, start now.").fields
    assert fields.material == "black PETG"


def test_evidence_names_the_sentence(rules: Rules) -> None:
    """Each found field points at the sentence it came from."""
    fields = run(rules, "Thanks for the samples. Release 250 units of rev B4 now.").fields
    assert fields.evidence_for("quantity") == "Release 250 units of rev B4 now."


GERMAN = [
    case(
        "de-negation-after-verb",
        "Die Bohrung Rev. C passt nicht zum Gegenstück.",
        "none",
        None,
        "C",
    ),
    case(
        "de-production",
        "Freigabe für 250 Stück, Rev. B4, bitte sofort starten.",
        "production",
        250,
        "B4",
    ),
    case(
        "de-hold", "Bitte noch nicht produzieren, wir warten auf den Einkauf.", "hold", None, None
    ),
    case(
        "de-technical-bounded",
        "Die Passform von Rev. C2 ist gut, aber das ist noch keine Freigabe für die Produktion.",
        "technical",
        None,
        "C2",
    ),
    case(
        "de-sample",
        "Bitte 5 Musterteile von Rev. A drucken, Lieferung bis Freitag.",
        "sample",
        5,
        "A",
    ),
    case(
        "de-pack-count",
        "Freigabe Rev. B4 sofort, verpackt 25 Stück pro Beutel.",
        "unclear",
        None,
        "B4",
    ),
]


@pytest.mark.parametrize(("text", "stage", "quantity", "revision"), GERMAN)
def test_german_statements(
    rules: Rules, text: str, stage: str, quantity: int | None, revision: str | None
) -> None:
    """German mail (rules/lang/de.toml) is read with the same four fields."""
    found = run(rules, text)
    assert (found.stage, found.fields.quantity, found.fields.revision) == (
        stage,
        quantity,
        revision,
    )


def test_not_later_than_is_no_refusal(rules: Rules) -> None:
    """English negation is read before the cue only: "go ahead, not later than Friday" releases."""
    found = run(rules, "Please go ahead, not later than Friday, 250 units of rev B4.")
    assert (found.stage, found.fields.quantity) == ("production", 250)
