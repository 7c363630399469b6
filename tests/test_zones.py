"""Tests for bot.zones: only the sender's new text counts (release-rules.md)."""

from __future__ import annotations

import pytest

from bot.rules import Rules
from bot.zones import normalize, split_zones

GMAIL = """\
Looks good, go ahead.

On Tue, Mar 4, 2025 at 10:40 AM Printshop Quotes <quotes@printshop.example> wrote:
> Quote Q-1042: 250 units of rev C7, $4.10 each.
> Lead time 10 business days.
"""

GMAIL_WRAPPED = """\
Please hold for now.

On Tue, Mar 4, 2025 at 10:40 AM Printshop Quotes Desk <quotes@printshop.example>
wrote:
> Release 300 units of rev A, start Monday.
"""

OUTLOOK_ORIGINAL = """\
Approved.

-----Original Message-----
From: Printshop Quotes <quotes@printshop.example>
Sent: Tuesday, March 4, 2025 10:40 AM
To: Lee Park <lee.park@acme-robotics.example>
Subject: Quote Q-1042

Release 300 clamps, rev A, start Monday 3/10.
"""

OUTLOOK_UNDERSCORE = """\
Thanks!

________________________________
From: Sam Whitaker <sam.whitaker@northwind-fixtures.example>
Sent: Tuesday, March 4, 2025 9:55 AM
To: Printshop Quotes <quotes@printshop.example>
Subject: RE: Quote Q-1177 - fixture clamps

Release all 300 clamps, rev A, start Monday 3/10. PO 77120.
"""

OUTLOOK_FROM_BLOCK = """\
We are still waiting on budget.

From: Printshop Quotes <quotes@printshop.example>
Sent: Tuesday, March 4, 2025 10:40 AM
To: Lee Park <lee.park@acme-robotics.example>
Subject: Quote Q-1042

Please release 500 units of rev D2 now.
"""

GERMAN_VON = """\
Bitte warten.

Von: Printshop Quotes <quotes@printshop.example>
Gesendet: Dienstag, 4. März 2025 10:40
An: Jürgen Müller <jm@acme.example>
Betreff: Angebot Q-1042

Release 400 units of rev B, start now.
"""

GERMAN_AM = """\
Danke, wir melden uns.

Am Di., 4. März 2025 um 10:40 Uhr schrieb Printshop Quotes <quotes@printshop.example>:
> Release 400 units of rev B, start now.
"""

FRENCH = """\
Merci, nous revenons vers vous.

Le mar. 4 mars 2025 à 10:40, Printshop Quotes <quotes@printshop.example> a écrit :
> Release 400 units of rev B, start now.
"""

IPHONE = """\
Release 250 units of rev B4, start now.

Sent from my iPhone
"""

DASHES = """\
Release 250 units of rev B4, start now.

--
Lee Park | Purchasing | +1 555 010 2000
Acme Robotics, 250 Main St
"""

REGARDS = """\
Release 250 units of rev B4, start now.

Best regards,
Lee Park
Purchasing, 25 Industrial Way
"""

FORWARDED = """\
FYI, see below.

---------- Forwarded message ---------
From: Lee Park <lee.park@acme-robotics.example>
Date: Tue, Mar 4, 2025 at 10:40 AM
Subject: Q-1042
To: Dana <dana@acme-robotics.example>

Release 250 units of rev B4, start now. PO 45001.
"""

APPLE_FORWARD = """\
Passing this along.

Begin forwarded message:

From: Lee Park <lee.park@acme-robotics.example>
Subject: Q-1042
Date: March 4, 2025 at 10:40:00 AM EST

Release 250 units of rev B4, start now.
"""

DISCLAIMER = """\
Release 250 units of rev B4, start now.

CONFIDENTIALITY NOTICE: This email and any attachments are confidential and intended
only for the named recipient. Approved for release by legal counsel only.
"""

ON_MONDAY = """\
On Monday please start the run of 250 units, rev B4.

On Tue, Mar 4, 2025 at 10:40 AM Printshop Quotes <quotes@printshop.example> wrote:
> Quote Q-1042 for 250 units.
"""

HTML_OUTLOOK = """\
Looks great, please proceed.

**From:** Printshop Quotes <quotes@printshop.example>
**Sent:** Tuesday, March 4, 2025 10:40 AM
**To:** Dana Ortiz <dana.ortiz@acme-robotics.example>
**Subject:** Quote Q-1042

Quote for 250 units of rev C7.
"""

FROM_IN_PROSE = """\
Release 250 units of rev B4, start now.
From our side the PO follows today.
"""

IPHONE_ABOVE_QUOTE = """\
Approved.

Sent from my iPhone

> On Mar 4, 2025, at 10:40, Printshop Quotes <quotes@printshop.example> wrote:
>
> Quote Q-1042: 250 units of rev C7.
"""

INTERLEAVED = """\
Answers inline below.

On Tue, Mar 4, 2025 at 10:40 AM Printshop Quotes <quotes@printshop.example> wrote:
> 1. How many units are released now?
1. 250 units
> 2. Which file or revision controls the run?
2. rev B4
> 3. Should the batch start now, or is it waiting on another checkpoint?
3. Start now
"""

INTERLEAVED_NO_HEADER = """\
> How many units are released now?
250 units
> Which file or revision controls the run?
rev B4
"""


@pytest.mark.parametrize(
    ("text", "new_text", "zone", "in_zone"),
    [
        (GMAIL, "Looks good, go ahead.", "quoted", "250 units of rev C7"),
        (GMAIL_WRAPPED, "Please hold for now.", "quoted", "Release 300 units"),
        (OUTLOOK_ORIGINAL, "Approved.", "quoted", "Release 300 clamps"),
        (OUTLOOK_UNDERSCORE, "Thanks!", "quoted", "Release all 300 clamps"),
        (OUTLOOK_FROM_BLOCK, "We are still waiting on budget.", "quoted", "500 units"),
        (GERMAN_VON, "Bitte warten.", "quoted", "Release 400 units"),
        (GERMAN_AM, "Danke, wir melden uns.", "quoted", "Release 400 units"),
        (FRENCH, "Merci, nous revenons vers vous.", "quoted", "Release 400 units"),
        (IPHONE, "Release 250 units of rev B4, start now.", "signature", "Sent from my iPhone"),
        (DASHES, "Release 250 units of rev B4, start now.", "signature", "250 Main St"),
        (REGARDS, "Release 250 units of rev B4, start now.", "signature", "Lee Park"),
        (FORWARDED, "FYI, see below.", "forwarded", "PO 45001"),
        (APPLE_FORWARD, "Passing this along.", "forwarded", "Release 250 units"),
        (DISCLAIMER, "Release 250 units of rev B4, start now.", "disclaimer", "legal counsel"),
        (ON_MONDAY, "On Monday please start the run of 250 units, rev B4.", "quoted", "Q-1042"),
        (HTML_OUTLOOK, "Looks great, please proceed.", "quoted", "rev C7"),
        (FROM_IN_PROSE, FROM_IN_PROSE.strip(), "quoted", ""),
        (IPHONE_ABOVE_QUOTE, "Approved.", "quoted", "rev C7"),
    ],
    ids=[
        "gmail-on-wrote",
        "gmail-on-wrote-wrapped",
        "outlook-original-message",
        "outlook-underscore-from-sent",
        "outlook-from-sent-block",
        "german-von-gesendet",
        "german-am-schrieb",
        "french-a-ecrit",
        "sent-from-iphone",
        "dash-dash-signature",
        "regards-signature",
        "gmail-forwarded",
        "apple-forwarded",
        "disclaimer",
        "on-monday-is-not-a-quote-header",
        "html-outlook-bold-from-block",
        "from-in-prose-is-new-text",
        "iphone-signature-above-quote",
    ],
)
def test_history_signature_forward_and_disclaimer_leave_new_text(
    rules: Rules, text: str, new_text: str, zone: str, in_zone: str
) -> None:
    """Quoted history, signatures, forwarded copies and disclaimers are split off the new text."""
    zones = split_zones(text, rules)
    assert zones.new_text == new_text
    assert in_zone in getattr(zones, zone)


@pytest.mark.parametrize(
    "text",
    [INTERLEAVED, INTERLEAVED_NO_HEADER],
    ids=["under-on-wrote-header", "without-header"],
)
def test_answers_between_quoted_questions_are_new_text(rules: Rules, text: str) -> None:
    """Unquoted answers written between '>' quoted questions count as the sender's new text."""
    zones = split_zones(text, rules)
    assert "250 units" in zones.new_text
    assert "rev B4" in zones.new_text
    assert "How many units are released now?" not in zones.new_text
    assert "How many units are released now?" in zones.quoted


def test_plain_message_is_all_new_text(rules: Rules) -> None:
    """A message without history, signature or footer is new text and nothing else."""
    zones = split_zones("Please hold the order.\nWe need to check the budget.\n", rules)
    assert zones.new_text == "Please hold the order.\nWe need to check the budget."
    assert (zones.quoted, zones.signature, zones.forwarded, zones.disclaimer) == ("",) * 4


def test_bare_quote_lines_are_quoted(rules: Rules) -> None:
    """'>' lines without a header are history, the other lines are new text."""
    zones = split_zones("Not yet.\n> Release 250 units, start now.\n", rules)
    assert zones.new_text == "Not yet."
    assert "Release 250 units" in zones.quoted


def test_own_sentence_is_moved_out_of_new_text(rules: Rules) -> None:
    """A line the bot itself sent, pasted back without '>' marks, is not the sender's statement."""
    own = "How many units are released now?"
    text = f"Approved, start now.\n{own}\n"
    zones = split_zones(text, rules, own_sentences=frozenset({normalize(own)}))
    assert zones.new_text == "Approved, start now."
    assert own in zones.quoted


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("> Release 250 units.", "release 250 units"),
        ("  How MANY   units? ", "how many units"),
        ("- Start now!", "start now"),
    ],
    ids=["quote-mark", "case-and-space", "punctuation"],
)
def test_normalize(sentence: str, expected: str) -> None:
    """normalize drops quote marks, case, extra spaces and edge punctuation."""
    assert normalize(sentence) == expected


FIELD_ANSWERS = """\
Here is what we need:

Quantity: 250 units
Revision: B4
Start: now
"""

PHONE_IN_SENTENCE = """\
Hi,

Please release 250 units of rev B4, and call me at +1 555 010 2000 with questions.
Lee
"""


@pytest.mark.parametrize(
    ("text", "new_text", "zone", "in_zone"),
    [
        (
            "Approved.\n\n -----------------------------\n\n*From:* Shop [mailto:q@shop.example]\n"
            "*Sent:* Tuesday, March 4, 2025 10:40 AM\n*To:* Lee\n*Subject:* Q-1042\n\nRelease 250.\n",
            "Approved.",
            "quoted",
            "------",
        ),
        (
            "Approved.\n\n2025年3月4日(火) 10:40 Printshop Quotes <quotes@printshop.example>:\n"
            "> Release 250 units of rev C7.\n",
            "Approved.",
            "quoted",
            "2025年3月4日",
        ),
        (
            "Hold for now.\n\nOn Dec 16, 2011, at 12:47 PM, Printshop Quotes\n"
            "<quotes@printshop.example>\nwrote:\n\n> Release 250 units of rev C7.\n",
            "Hold for now.",
            "quoted",
            "<quotes@printshop.example>",
        ),
        (
            "Hi,\nOn Tue, 2025-03-04 at 10:40 +0100, Printshop Quotes wrote:\n> Release 250?\n\n"
            "Yes, release 250.\n",
            "Hi,\n\nYes, release 250.",
            "quoted",
            "Release 250?",
        ),
        (
            "Approved, start now.\n\nVon meinem iPhone gesendet\n",
            "Approved, start now.",
            "signature",
            "iPhone",
        ),
        (
            "Here is another email\n\nSent from my desk, is much easier than my phone.\n",
            "Here is another email\n\nSent from my desk, is much easier than my phone.",
            "signature",
            "",
        ),
        (
            "Oh thanks, go ahead.\n\n-Abhishek Kona\n",
            "Oh thanks, go ahead.",
            "signature",
            "-Abhishek Kona",
        ),
        (
            "> Which revision controls the run?\nRev B4\n\n-- \nLee Park | Acme Robotics\n",
            "Rev B4",
            "signature",
            "Lee Park | Acme Robotics",
        ),
        (
            "Release 250 units of rev B4, start now.\n\nAcme Robotics\nT +1 (555) 010-2000\n"
            "250 Main Street, Springfield\n",
            "Release 250 units of rev B4, start now.",
            "signature",
            "250 Main Street",
        ),
        (
            "Start now.\n\n_______________________________________________\n"
            "riak-users mailing list\nriak-users@lists.example.com\n",
            "Start now.",
            "disclaimer",
            "mailing list",
        ),
        (FIELD_ANSWERS, FIELD_ANSWERS.strip(), "quoted", ""),
        (PHONE_IN_SENTENCE, PHONE_IN_SENTENCE.strip(), "quoted", ""),
    ],
    ids=[
        "separator-above-outlook-star-header",
        "attribution-in-any-language-above-quote",
        "attribution-wrapped-over-three-lines",
        "greeting-above-header-stays-new-text",
        "german-iphone-signature",
        "sent-from-in-a-sentence-is-new-text",
        "dash-name-signature",
        "signature-below-an-answer",
        "contact-block-signature",
        "mailing-list-footer",
        "field-style-answers-are-new-text",
        "phone-in-a-sentence-is-new-text",
    ],
)
def test_more_client_shapes(
    rules: Rules, text: str, new_text: str, zone: str, in_zone: str
) -> None:
    """Separators, attributions, sign-offs and footers go to their zone; answers stay new text."""
    zones = split_zones(text, rules)
    assert zones.new_text == new_text
    assert in_zone in getattr(zones, zone)


def test_sender_name_last_first_starts_signature(rules: Rules) -> None:
    """A sender shown as "Park, Lee" who signs "Lee" has that line in the signature."""
    zones = split_zones("Approved, go ahead.\n\nLee\n", rules, sender_name="Park, Lee")
    assert zones.new_text == "Approved, go ahead."
    assert zones.signature == "Lee"
