"""Tests for bot.decide: one message and its thread to an action (release-rules.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.decide import Context, decide, reply_suppressed
from bot.model import Contact, Decision, Message, ThreadState
from bot.parse import parse_message
from bot.rules import Rules

LEE = "lee.park@acme-robotics.example"  # purchasing
DANA = "dana.ortiz@acme-robotics.example"  # technical
SAM = "sam.whitaker@northwind-fixtures.example"  # owner
NEW = "new.person@acme-robotics.example"  # not in the directory
SHOP = "quotes@printshop.example"

CTX = Context(
    own_addresses=frozenset({SHOP}),
    customer_domains=("acme-robotics.example", "northwind-fixtures.example"),
    contacts={
        LEE: Contact(LEE, "Lee Park", "purchasing"),
        DANA: Contact(DANA, "Dana Ortiz", "technical"),
        SAM: Contact(SAM, "Sam Whitaker", "owner"),
    },
)

_counter = iter(range(1, 10_000))


def mail(
    body: str,
    sender: str = LEE,
    *headers: str,
    subject: str = "Re: Quote Q-1042 brackets",
    attachment: str | None = None,
) -> Message:
    """A message from `sender` with a unique Message-ID, optionally with one attachment."""
    head = [
        f"From: {sender}",
        f"To: {SHOP}",
        f"Subject: {subject}",
        f"Message-ID: <m{next(_counter)}@test.example>",
        *headers,
        "MIME-Version: 1.0",
    ]
    if attachment:
        head.append('Content-Type: multipart/mixed; boundary="B"')
        payload = (
            f'--B\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n{body}\r\n'
            f"--B\r\nContent-Type: application/pdf\r\n"
            f'Content-Disposition: attachment; filename="{attachment}"\r\n\r\n%PDF-1.4\r\n--B--\r\n'
        )
    else:
        head.append('Content-Type: text/plain; charset="utf-8"')
        payload = body.replace("\n", "\r\n") + "\r\n"
    return parse_message(("\r\n".join(head) + "\r\n\r\n" + payload).encode("utf-8"))


def case(id_: str, *values: object, xfail: str | None = None) -> Any:
    """One parametrized case; `xfail` names a contract violation the code still has."""
    marks = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
    return pytest.param(*values, id=id_, marks=marks)


def one(rules: Rules, message: Message, state: ThreadState | None = None) -> Decision:
    """The decision for one message in a fresh (or given) thread."""
    decision, _ = decide(message, state or ThreadState(key="t"), CTX, rules)
    return decision


def thread(rules: Rules, *messages: Message) -> tuple[list[Decision], ThreadState]:
    """Decide messages in order within one thread; every decision and the final state."""
    state = ThreadState(key="t")
    decisions = []
    for message in messages:
        decision, state = decide(message, state, CTX, rules)
        decisions.append(decision)
    return decisions, state


QUOTED_RELEASE = """\
Thanks!

Sam

________________________________
From: Printshop Quotes <quotes@printshop.example>
Sent: Tuesday, March 4, 2025 10:40 AM
To: Sam Whitaker <sam.whitaker@northwind-fixtures.example>
Subject: RE: Quote Q-1177 - fixture clamps

Confirmed: 300 x clamp_v2.step rev A, printing starts Monday 3/10.

-----Original Message-----
From: Sam Whitaker <sam.whitaker@northwind-fixtures.example>
Sent: Tuesday, March 4, 2025 9:55 AM
To: Printshop Quotes <quotes@printshop.example>
Subject: RE: Quote Q-1177 - fixture clamps

Release all 300 clamps, rev A, start Monday 3/10. PO 77120.
"""

GO_AHEAD_ABOVE_QUOTE = """\
Looks good, go ahead.

On Tue, Mar 4, 2025 at 10:40 AM Printshop Quotes <quotes@printshop.example> wrote:
> Quote Q-1042: 250 units of rev C7 at $4.10 each. PO required to start.
"""

PO_ONLY_IN_QUOTE = """\
Release 250 units of rev B4, start now.

On Tue, Mar 4, 2025 at 10:40 AM Lee Park <lee.park@acme-robotics.example> wrote:
> Our PO 4500123 covers this quote.
"""

FORWARDED_RELEASE = """\
FYI, see below.

---------- Forwarded message ---------
From: Lee Park <lee.park@acme-robotics.example>
Date: Tue, Mar 4, 2025 at 10:40 AM
Subject: Q-1042
To: Dana <dana.ortiz@acme-robotics.example>

Release 250 units of rev B4, start now. PO 4500123.
"""

SINGLE = [
    case(
        "vague-go-ahead-technical",
        DANA,
        "Looks good, go ahead.",
        "clarify",
        "unclear",
        ("quantity", "revision", "authority"),
    ),
    case(
        "bare-approved-purchasing",
        LEE,
        "Approved.",
        "clarify",
        "unclear",
        ("quantity", "revision", "timing"),
    ),
    case(
        "go-ahead-for-now-owner",
        SAM,
        "Go ahead for now.",
        "clarify",
        "unclear",
        ("quantity", "revision"),
    ),
    case(
        "approved-thanks-technical",
        DANA,
        "Approved. Thanks!",
        "clarify",
        "unclear",
        ("quantity", "revision", "timing", "authority"),
    ),
    case(
        "quoted-revision-does-not-count",
        DANA,
        GO_AHEAD_ABOVE_QUOTE,
        "clarify",
        "unclear",
        ("quantity", "revision", "authority"),
    ),
    case(
        "technical-no-boundary",
        DANA,
        "The fit is good on rev B4.",
        "clarify",
        "technical",
        ("quantity", "timing", "authority"),
    ),
    case(
        "technical-bounded",
        DANA,
        "Geometry on rev C7 approved, purchasing will follow with the PO.",
        "record",
        "technical",
        (),
    ),
    case(
        "technical-bounded-from-owner",
        SAM,
        "The fit on rev A is approved, but this does not release production yet.",
        "record",
        "technical",
        (),
    ),
    case("hold-purchasing", LEE, "Please hold the order.", "record", "hold", ()),
    case("hold-without-authority", DANA, "Can you pause the order?", "record", "hold", ()),
    case(
        "complete-purchasing",
        LEE,
        "Release 250 units of rev B4, start now.",
        "record",
        "production",
        (),
    ),
    case(
        "complete-owner",
        SAM,
        "Please print 300 clamps of rev A, ship them by Friday.",
        "record",
        "production",
        (),
    ),
    case(
        "complete-po-in-text",
        DANA,
        "Release 250 units of rev B4, start now. PO 4500123.",
        "record",
        "production",
        (),
    ),
    case(
        "missing-authority",
        DANA,
        "Release 250 units of rev B4, start now.",
        "clarify",
        "production",
        ("authority",),
    ),
    case(
        "po-only-in-quoted-history",
        DANA,
        PO_ONLY_IN_QUOTE,
        "clarify",
        "production",
        ("authority",),
    ),
    case(
        "unknown-contact",
        NEW,
        "Release 250 units of rev B4, start now.",
        "clarify",
        "production",
        ("authority",),
    ),
    case(
        "missing-revision",
        LEE,
        "Release 250 units, start now.",
        "clarify",
        "production",
        ("revision",),
    ),
    case(
        "missing-timing", LEE, "Release 250 units of rev B4.", "clarify", "production", ("timing",)
    ),
    case(
        "pack-count-not-quantity",
        LEE,
        "Please go ahead with production of rev B4, they come 25 per bag.",
        "clarify",
        "production",
        ("quantity",),
    ),
    case(
        "release-waiting-on-signoff",
        LEE,
        "We are releasing the order for rev K1 once the samples are signed off; "
        "quantity will be 500.",
        "clarify",
        "production",
        ("timing",),
    ),
    case(
        "partial-complete",
        LEE,
        "Release lot 1 for 25 units of rev B4 now, hold the remaining 275.",
        "record",
        "partial",
        (),
    ),
    case(
        "sample-complete", LEE, "Please print 5 sample parts of rev A now.", "record", "sample", ()
    ),
    case(
        "pilot-complete",
        SAM,
        "Approved for the 50-unit pilot, rev B, start Monday.",
        "record",
        "sample",
        (),
    ),
    case("thanks", DANA, "Thanks!", "ignore", "none", ()),
    case("thanks-above-quoted-release", SAM, QUOTED_RELEASE, "ignore", "none", ()),
    case("forwarded-release-fyi", DANA, FORWARDED_RELEASE, "ignore", "none", ()),
    case(
        "tentative", LEE, "If the sample passes we will likely approve 300.", "ignore", "none", ()
    ),
    case("quote-request", LEE, "Could you quote 500 more in white PETG?", "ignore", "none", ()),
]


@pytest.mark.parametrize(("sender", "body", "action", "stage", "missing"), SINGLE)
def test_single_message_decision(
    rules: Rules, sender: str, body: str, action: str, stage: str, missing: tuple[str, ...]
) -> None:
    """Each message gets the action, stage and ordered missing fields of the contract."""
    decision = one(rules, mail(body, sender))
    assert (decision.action, decision.stage, decision.missing) == (action, stage, missing)


def test_po_attachment_gives_authority(rules: Rules) -> None:
    """A technical contact's complete release with a PO attached has authority and is recorded."""
    message = mail("Release 250 units of rev B4, start now.", DANA, attachment="PO-4500123.pdf")
    decision = one(rules, message)
    assert (decision.action, decision.missing) == ("record", ())
    assert decision.authority


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        case("auto-submitted", LEE, ("Auto-Submitted: auto-replied",)),
        case("precedence-bulk", LEE, ("Precedence: bulk",)),
        case("list-id", LEE, ("List-Id: <news.acme-robotics.example>",)),
        case("oof-suppress", LEE, ("X-Auto-Response-Suppress: OOF",)),
        case("own-address", "Quotes@PrintShop.example", ()),
        case("outside-domain", "buyer@elsewhere.example", ()),
        case("noreply", "noreply@acme-robotics.example", ()),
    ],
)
def test_never_answered_release_is_ignored(
    rules: Rules, sender: str, headers: tuple[str, ...]
) -> None:
    """Even a complete release is ignored, with nothing missing, when it is on the never list."""
    decision = one(rules, mail("Release 250 units of rev B4, start now.", sender, *headers))
    assert (decision.action, decision.missing) == ("ignore", ())


def test_auto_submitted_no_is_answerable(rules: Rules) -> None:
    """Auto-Submitted: no is a person writing; the message is decided normally."""
    decision = one(rules, mail("Looks good, go ahead.", DANA, "Auto-Submitted: no"))
    assert decision.action == "clarify"


# -- threads --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "earlier",
    [
        case("fit-looks-good", "The fit on rev C7 looks good."),
        case(
            "bounded-technical", "Geometry on rev C7 approved, purchasing will follow with the PO."
        ),
        case("bare-revision-approval", "Rev C7 approved."),
    ],
)
def test_revision_carried_from_single_approved_revision(rules: Rules, earlier: str) -> None:
    """A release may take its revision from an earlier message that approved exactly one."""
    decisions, _ = thread(rules, mail(earlier, DANA), mail("Release 250 units, start now.", LEE))
    last = decisions[-1]
    assert (last.action, last.missing, last.fields.revision) == ("record", (), "C7")


@pytest.mark.parametrize(
    "earlier",
    [
        case("two-revisions-approved", ("Rev C7 and rev C8 both look good.",)),
        case("later-message-names-another", ("Rev C7 approved.", "We are also trying rev C8.")),
        case("no-approval", ("Can you tell me the lead time for rev C7?",)),
    ],
)
def test_revision_not_carried(rules: Rules, earlier: tuple[str, ...]) -> None:
    """No carry when two revisions were approved, a later message named another, or none was
    approved."""
    decisions, _ = thread(
        rules, *(mail(body, DANA) for body in earlier), mail("Release 250 units, start now.", LEE)
    )
    assert (decisions[-1].action, decisions[-1].missing) == ("clarify", ("revision",))


def test_quantity_timing_authority_are_not_carried(rules: Rules) -> None:
    """Quantity, timing and authority must come from the releasing message itself."""
    decisions, _ = thread(
        rules,
        mail("Release 250 units of rev B4, start now.", LEE),
        mail("Please hold the order.", LEE),
        mail("Approved.", DANA),
    )
    last = decisions[-1]
    assert last.action == "clarify"
    assert {"quantity", "timing", "authority"} <= set(last.missing)


def test_complete_release_lifts_hold(rules: Rules) -> None:
    """A later complete release supersedes a hold and releases the thread."""
    decisions, state = thread(
        rules,
        mail("Please hold the order.", LEE),
        mail("Release 250 units of rev B4, start now.", LEE),
    )
    assert decisions[0].action == "record"
    assert decisions[-1].action == "record"
    assert state.status == "released"
    assert state.released_quantity == 250


def test_hold_after_release_freezes_thread(rules: Rules) -> None:
    """A later hold freezes a released thread."""
    decisions, state = thread(
        rules,
        mail("Release 250 units of rev B4, start now.", LEE),
        mail("Please pause the order.", LEE),
    )
    assert (decisions[-1].action, decisions[-1].stage) == ("record", "hold")
    assert state.status == "hold"


def test_later_complete_release_supersedes(rules: Rules) -> None:
    """A later complete release of a new revision replaces the earlier release."""
    _, state = thread(
        rules,
        mail("Release 250 units of rev B4, start now.", LEE),
        mail("Release 300 units of rev B5, start now.", LEE),
    )
    assert (state.status, state.released_revision, state.released_quantity) == (
        "released",
        "B5",
        300,
    )


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        case(
            "names-new-revision",
            "We updated the part, please use rev B5.",
            ("quantity", "timing", "authority"),
        ),
        case("approves-new-revision", "Rev B5 approved, go ahead.", ("quantity", "authority")),
    ],
)
def test_new_revision_after_release_reopens(
    rules: Rules, body: str, missing: tuple[str, ...]
) -> None:
    """A new revision named after a release, without a complete release of it, reopens sign-off."""
    decisions, state = thread(
        rules, mail("Release 250 units of rev B4, start now.", LEE), mail(body, DANA)
    )
    last = decisions[-1]
    assert (last.action, last.missing) == ("clarify", missing)
    assert state.status != "released"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        case("thanks", (), "Thanks!"),
        case("out-of-office", ("Auto-Submitted: auto-replied",), "I am out of the office."),
        case("shipping-question", (), "Which carrier will you use?"),
    ],
)
def test_ignored_message_keeps_release(rules: Rules, headers: tuple[str, ...], body: str) -> None:
    """A thanks, an out-of-office or a question after a release leaves the thread released."""
    decisions, state = thread(
        rules, mail("Release 250 units of rev B4, start now.", LEE), mail(body, LEE, *headers)
    )
    assert decisions[-1].action == "ignore"
    assert state.status == "released"


def test_conflict_needs_release_from_contact_with_authority(rules: Rules) -> None:
    """After one person releases and another holds, only a contact with authority lifts the hold."""
    decisions, state = thread(
        rules,
        mail("Release 250 units of rev B4, start now.", LEE),
        mail("Please hold, do not start.", DANA),
        mail("Release 250 units of rev B4, start now. PO 4500123.", DANA),
    )
    assert decisions[-1].action == "clarify"
    assert "authority" in decisions[-1].missing
    assert state.status != "released"
    decision, state = decide(
        mail("Release 250 units of rev B4, start now.", LEE), state, CTX, rules
    )
    assert decision.action == "record"
    assert state.status == "released"


def test_shop_sentences_pasted_back_do_not_count(rules: Rules) -> None:
    """A line the shop sent, pasted back without quote marks, is not the buyer's statement."""
    shop_line = "Please release 250 units of rev C7 now so we can start."
    decisions, _ = thread(
        rules,
        mail(f"Hi Lee,\n{shop_line}\nRosa", SHOP),
        mail(f"Thanks, we will review internally.\n{shop_line}", LEE),
    )
    assert (decisions[-1].action, decisions[-1].stage) == ("ignore", "none")


# -- rate limit -----------------------------------------------------------------------------------

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@pytest.mark.parametrize(
    ("last_at", "last_to", "sender", "suppressed"),
    [
        case("first-clarify", None, None, DANA, False),
        case("other-sender-within-interval", NOW - timedelta(hours=1), LEE, DANA, True),
        case("same-sender-writes-again", NOW - timedelta(hours=1), DANA, DANA, False),
        case("interval-passed", NOW - timedelta(hours=25), LEE, DANA, False),
        case("exactly-interval", NOW - DAY, LEE, DANA, False),
    ],
)
def test_reply_rate_limit(
    rules: Rules, last_at: datetime | None, last_to: str | None, sender: str, suppressed: bool
) -> None:
    """At most one clarification per thread per interval, unless the person asked writes again."""
    message = mail("Looks good, go ahead.", sender)
    state = ThreadState(key="t", last_clarify_at=last_at, last_clarify_to=last_to)
    decision = one(rules, message, state)
    assert decision.action == "clarify"
    found = reply_suppressed(decision, message, state, interval=DAY, now=NOW)
    assert bool(found) is suppressed


def test_rate_limit_never_touches_record(rules: Rules) -> None:
    """The rate limit applies to clarifications only; the decision itself is never changed."""
    message = mail("Release 250 units of rev B4, start now.", LEE)
    state = ThreadState(key="t", last_clarify_at=NOW, last_clarify_to=DANA)
    decision = one(rules, message, state)
    assert decision.action == "record"
    assert reply_suppressed(decision, message, state, interval=DAY, now=NOW) is None


def test_answer_to_the_bots_questions_is_the_release(rules: Rules) -> None:
    """A reply that only answers the questions ("3 prototypes, ship by Friday 2/20")
    continues the release the bot asked about; outside such a thread it states nothing."""
    answer = "3 prototypes, ship by Friday 2/20."
    decisions, _ = thread(rules, mail("Let's do the prototypes.", SAM), mail(answer, SAM))
    assert decisions[0].action == "clarify"
    assert (decisions[1].stage, decisions[1].fields.quantity, decisions[1].missing) == (
        "sample",
        3,
        ("revision",),
    )
    alone = one(rules, mail(answer, SAM))
    assert (alone.action, alone.stage) == ("ignore", "none")


def test_count_start_and_file_in_one_sentence_is_an_order(rules: Rules) -> None:
    """ "60 more of coaster_v2.3mf asap" orders without approval words."""
    d = one(rules, mail("60 more of coaster_v2.3mf asap, same wood PLA as before.", SAM))
    assert (d.action, d.stage, d.fields.quantity, d.fields.revision) == (
        "record",
        "production",
        60,
        "coaster_v2.3mf",
    )


def test_a_revision_alone_does_not_answer(rules: Rules) -> None:
    """Naming a revision is no release, even while the bot waits for answers."""
    decisions, _ = thread(rules, mail("Approved.", DANA), mail("We are also trying rev C8.", DANA))
    assert decisions[1].stage == "none"


def test_bare_code_of_a_quoted_revision_is_the_revision(rules: Rules) -> None:
    """After the shop quoted rev B2, "300 of B2" names the revision; a code the shop never
    quoted is not read as one."""
    quote = mail("Here is quote Q-1042: clamp rev B2, PA12, 300 pcs.", SHOP)
    decisions, state = thread(rules, quote, mail("Confirmed. 300 of B2, start now.", LEE))
    assert state.quoted_revisions == frozenset({"B2"})
    assert (decisions[1].action, decisions[1].fields.revision) == ("record", "B2")
    other = one(rules, mail("Confirmed. 300 of B2, start now.", LEE))
    assert other.missing == ("revision",)


def test_hold_naming_the_released_revision_is_a_hold_not_a_reopen(rules: Rules) -> None:
    """A hold after a release freezes the thread; it does not ask the release questions."""
    decisions, state = thread(
        rules,
        mail("Release 250 units of rev C7, start now.", LEE),
        mail("Hold on - please don't start, the pin spacing is off on rev C7.", DANA),
    )
    assert (decisions[1].action, decisions[1].stage, decisions[1].missing) == ("record", "hold", ())
    assert state.status == "conflict"


OUR_MX = "mx.printshop.example"
VERIFIED_CTX = Context(
    own_addresses=CTX.own_addresses,
    customer_domains=CTX.customer_domains,
    contacts=CTX.contacts,
    authserv_ids=frozenset({OUR_MX}),
)
RELEASE = "Release 250 units of rev B4, start now."
AR = "Authentication-Results: "
GENUINE_PASS = (
    f"{AR}{OUR_MX}; spf=pass smtp.mailfrom={LEE}; dmarc=pass header.from=acme-robotics.example"
)
GENUINE_FAIL = (
    f"{AR}{OUR_MX}; spf=fail smtp.mailfrom={LEE}; dmarc=fail header.from=acme-robotics.example"
)
FORGED_PASS = f"{AR}mx.attacker.example; dkim=pass header.d=acme-robotics.example; dmarc=pass header.from=acme-robotics.example"


def verified(rules: Rules, message: Message, state: ThreadState | None = None) -> Decision:
    """The decision for one message when the shop trusts mx.printshop.example's results."""
    decision, _ = decide(message, state or ThreadState(key="t"), VERIFIED_CTX, rules)
    return decision


@pytest.mark.parametrize(
    "headers",
    [
        case("dmarc-fail", (GENUINE_FAIL,)),
        case("no-authentication-results", ()),
        case("forged-pass-below-the-real-one", (GENUINE_FAIL, FORGED_PASS)),
        case("forged-pass-above-the-real-one", (FORGED_PASS, GENUINE_FAIL)),
        case("only-a-forged-pass", (FORGED_PASS,)),
        case("our-id-forged-below-the-real-one", (GENUINE_FAIL, GENUINE_PASS)),
    ],
)
def test_forged_release_from_purchasing_lacks_authority(
    rules: Rules, headers: tuple[str, ...]
) -> None:
    """A release "from" a purchasing contact that our server does not vouch for asks for authority
    and says the sender is unverified."""
    decision = verified(rules, mail(RELEASE, LEE, *headers))
    assert (decision.action, decision.stage, decision.missing) == (
        "clarify",
        "production",
        ("authority",),
    )
    assert decision.authority is None
    assert decision.sender_verified is False
    assert "unverified sender" in decision.reason


@pytest.mark.parametrize(
    "headers",
    [
        case("genuine-pass", (GENUINE_PASS,)),
        case("genuine-pass-above-a-forged-fail", (GENUINE_PASS, FORGED_PASS, GENUINE_FAIL)),
        case("aligned-dkim", (f"{AR}{OUR_MX}; dkim=pass header.d=acme-robotics.example",)),
    ],
)
def test_verified_release_is_recorded_as_before(rules: Rules, headers: tuple[str, ...]) -> None:
    """The same release with our server's topmost dmarc=pass is recorded with the contact's
    authority."""
    message = mail(RELEASE, LEE, *headers)
    decision = verified(rules, message)
    assert (decision.action, decision.missing) == ("record", ())
    assert decision.authority == "purchasing contact Lee Park"
    assert decision.sender_verified is True
    assert "unverified" not in decision.reason
    plain = one(rules, message)
    assert (plain.action, plain.authority, plain.reason) == (
        decision.action,
        decision.authority,
        decision.reason,
    )


def test_without_authserv_id_nothing_is_checked(rules: Rules) -> None:
    """With no [security] authserv_id the directory counts as written and nothing is flagged."""
    decision = one(rules, mail(RELEASE, LEE, GENUINE_FAIL))
    assert (decision.action, decision.sender_verified, decision.verification) == (
        "record",
        None,
        "",
    )


def test_po_from_an_unverified_sender_counts_but_is_flagged(rules: Rules) -> None:
    """A PO number still gives authority (release-rules.md), marked as resting on an unverified
    sender so the digest and `quotebot check` show it."""
    decision = verified(rules, mail(f"{RELEASE} PO 4500123.", LEE, GENUINE_FAIL))
    assert (decision.action, decision.missing) == ("record", ())
    assert decision.authority == "PO 4500123 (unverified sender)"
    assert decision.sender_verified is False
    assert "unverified sender: dmarc=fail from mx.printshop.example" in decision.reason


def test_unverified_contact_cannot_settle_a_conflict(rules: Rules) -> None:
    """After a release and a hold, only a verified contact with authority releases again."""
    state = ThreadState(key="t")
    for message in (
        mail(RELEASE, LEE, GENUINE_PASS),
        mail("Please hold, do not start.", DANA, GENUINE_PASS),
    ):
        _, state = decide(message, state, VERIFIED_CTX, rules)
    assert state.status == "conflict"
    forged, after = decide(mail(f"{RELEASE} PO 4500123.", LEE), state, VERIFIED_CTX, rules)
    assert (forged.action, after.status) == ("clarify", "conflict")
    genuine, after = decide(mail(RELEASE, LEE, GENUINE_PASS), state, VERIFIED_CTX, rules)
    assert (genuine.action, after.status) == ("record", "released")


def test_never_answered_message_carries_the_verification(rules: Rules) -> None:
    """A message on the never-answer list still records whether its sender was vouched for."""
    decision = verified(rules, mail(RELEASE, LEE, "Precedence: bulk"))
    assert (decision.action, decision.sender_verified) == ("ignore", False)
    assert "no Authentication-Results" in decision.verification
