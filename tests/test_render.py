"""Tests for bot.render: the clarification reply (release-rules.md, "The reply")."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.decide import Context, decide
from bot.errors import TemplateError
from bot.model import Contact, Decision, Message, ThreadState
from bot.parse import parse_message
from bot.render import Sender, header_safe, render_reply, render_template
from bot.rules import Rules

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
SHOP = Sender("quotes@printshop.example", "Printshop Quotes")
DANA = "dana.ortiz@acme-robotics.example"
LEE = "lee.park@acme-robotics.example"
CTX = Context(
    own_addresses=frozenset({SHOP.address}),
    customer_domains=("acme-robotics.example",),
    contacts={
        DANA: Contact(DANA, "Dana Ortiz", "technical"),
        LEE: Contact(LEE, "Lee Park", "purchasing"),
    },
)
ALL_QUESTIONS = (
    "How many units are released now?",
    "Which file or revision controls the run?",
    "Should the batch start now, or is it waiting on another checkpoint?",
    "Is this release authorized by purchasing or the buyer who can approve the spend?",
)


def mail(body: str, *headers: str, sender: str = f"Dana Ortiz <{DANA}>") -> Message:
    """A buyer's message with the given threading headers."""
    lines = [
        f"From: {sender}",
        f"To: {SHOP.address}",
        *headers,
        'Content-Type: text/plain; charset="utf-8"',
    ]
    return parse_message(("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode("utf-8"))


def clarify(rules: Rules, message: Message) -> Decision:
    """The decision for `message`, which the test expects to be a clarification."""
    decision, _ = decide(message, ThreadState(key="t"), CTX, rules)
    assert decision.action == "clarify"
    return decision


def reply_for(rules: Rules, templates_dir: Path, message: Message) -> EmailMessage:
    """The rendered reply to `message`."""
    decision = clarify(rules, message)
    return render_reply(message, decision, rules, sender=SHOP, templates=templates_dir, now=NOW)


def bodies(reply: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of a reply."""
    text = reply.get_body(preferencelist=("plain",))
    html = reply.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


REPLY_TO_THREAD = (
    "Subject: Re: Quote Q-1042 brackets",
    "Message-ID: <m2@acme-robotics.example>",
    "In-Reply-To: <q1@printshop.example>",
    "References: <root@printshop.example> <q1@printshop.example>",
)


def test_reply_threads_under_the_message(rules: Rules, templates_dir: Path) -> None:
    """The reply carries In-Reply-To, References ending in the message, and the Re: subject."""
    reply = reply_for(rules, templates_dir, mail("Looks good, go ahead.", *REPLY_TO_THREAD))
    assert reply["In-Reply-To"] == "<m2@acme-robotics.example>"
    assert reply["References"].split() == [
        "<root@printshop.example>",
        "<q1@printshop.example>",
        "<m2@acme-robotics.example>",
    ]
    assert reply["Subject"] == "Re: Quote Q-1042 brackets"
    assert reply["To"] == DANA


def test_references_fall_back_to_in_reply_to(rules: Rules, templates_dir: Path) -> None:
    """Without References, the reply's References are the parent and the message."""
    message = mail(
        "Looks good, go ahead.",
        "Subject: Quote Q-1042",
        "Message-ID: <m3@acme-robotics.example>",
        "In-Reply-To: <q1@printshop.example>",
    )
    reply = reply_for(rules, templates_dir, message)
    assert reply["References"].split() == ["<q1@printshop.example>", "<m3@acme-robotics.example>"]
    assert reply["Subject"] == "Re: Quote Q-1042"


def test_a_reply_to_a_very_long_thread_stays_a_short_header(
    rules: Rules, templates_dir: Path
) -> None:
    """A buyer's client that never trims References (3,000 IDs, 100 KB): the reply names
    the thread's root, the latest 19 and the message, far under a server's header limit."""
    ids = [f"<r{n}@acme-robotics.example>" for n in range(3000)]
    message = mail(
        "Looks good, go ahead.",
        "Subject: Quote Q-1042",
        "Message-ID: <m4@acme-robotics.example>",
        f"In-Reply-To: {ids[-1]}",
        f"References: {' '.join(ids)}",
    )
    reply = reply_for(rules, templates_dir, message)
    assert reply["References"].split() == [ids[0], *ids[-19:], "<m4@acme-robotics.example>"]
    assert len(str(reply["References"])) < 1000


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: Quote Q-1042", "RE: Quote Q-1042"),
        ("re: Quote Q-1042", "re: Quote Q-1042"),
        ("Quote Q-1042", "Re: Quote Q-1042"),
        ("", "Re: your message"),
    ],
    ids=["outlook-re", "lower-re", "no-prefix", "empty"],
)
def test_subject_gets_one_re_prefix(
    rules: Rules, templates_dir: Path, subject: str, expected: str
) -> None:
    """The subject gets one Re: prefix, never two."""
    message = mail("Approved.", f"Subject: {subject}", "Message-ID: <s@acme-robotics.example>")
    assert reply_for(rules, templates_dir, message)["Subject"] == expected


def test_rfc3834_headers(rules: Rules, templates_dir: Path) -> None:
    """The reply is marked Auto-Submitted: auto-replied and has its own Date and Message-ID."""
    reply = reply_for(rules, templates_dir, mail("Looks good, go ahead.", *REPLY_TO_THREAD))
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Date"]
    assert reply["Message-ID"].endswith("@printshop.example>")
    assert SHOP.address in reply["From"]


def test_reply_has_text_and_html_parts(rules: Rules, templates_dir: Path) -> None:
    """The reply is multipart/alternative with a text and an HTML part."""
    reply = reply_for(rules, templates_dir, mail("Looks good, go ahead.", *REPLY_TO_THREAD))
    assert reply.get_content_type() == "multipart/alternative"
    text, html = bodies(reply)
    assert "Hello Dana," in text
    assert "<html" in html.lower()


@pytest.mark.parametrize(
    ("body", "sender", "asked"),
    [
        pytest.param("Approved. Thanks!", f"Dana <{DANA}>", (0, 1, 2, 3), id="all-four"),
        pytest.param("Looks good, go ahead.", f"Dana <{DANA}>", (0, 1, 3), id="no-timing"),
        pytest.param("Release 250 units of rev B4.", f"Lee <{LEE}>", (2,), id="timing-only"),
        pytest.param(
            "Release 250 units of rev B4, start now.", f"Dana <{DANA}>", (3,), id="authority-only"
        ),
    ],
)
def test_asks_only_missing_questions_in_contract_wording(
    rules: Rules, templates_dir: Path, body: str, sender: str, asked: tuple[int, ...]
) -> None:
    """Each missing question appears in both parts, worded exactly as the contract; no others."""
    message = mail(body, *REPLY_TO_THREAD, sender=sender)
    text, html = bodies(reply_for(rules, templates_dir, message))
    for index, question in enumerate(ALL_QUESTIONS):
        for part in (text, html):
            assert (question in part) is (index in asked), (question, part)


def test_quotes_the_sentence_it_is_about(rules: Rules, templates_dir: Path) -> None:
    """The reply quotes the buyer's approval sentence."""
    text, html = bodies(
        reply_for(rules, templates_dir, mail("Hi Rosa,\nLooks good, go ahead.", *REPLY_TO_THREAD))
    )
    assert "> Looks good, go ahead." in text
    assert "Looks good, go ahead." in html


def test_html_escapes_the_buyer_text(rules: Rules, templates_dir: Path) -> None:
    """Buyer text is escaped in the HTML part."""
    message = mail("Approved <b>now</b> & thanks.", *REPLY_TO_THREAD)
    _, html = bodies(reply_for(rules, templates_dir, message))
    assert "<b>now</b>" not in html
    assert "&lt;b&gt;" in html


def test_greeting_without_display_name(rules: Rules, templates_dir: Path) -> None:
    """A sender without a display name is greeted generically."""
    message = mail("Approved.", *REPLY_TO_THREAD, sender=DANA)
    text, _ = bodies(reply_for(rules, templates_dir, message))
    assert text.startswith("Hello there,")


def test_no_in_reply_to_for_synthetic_message_id(rules: Rules, templates_dir: Path) -> None:
    """A message without a Message-ID gets no In-Reply-To pointing at a made-up id."""
    message = mail("Approved.", "Subject: Quote Q-1042")
    reply = reply_for(rules, templates_dir, message)
    assert reply["In-Reply-To"] is None


def test_missing_template_raises_template_error(rules: Rules, tmp_path: Path) -> None:
    """A templates folder without the clarify templates raises TemplateError naming the file."""
    message = mail("Approved.", *REPLY_TO_THREAD)
    decision = clarify(rules, message)
    with pytest.raises(TemplateError, match="clarify.txt.j2"):
        render_reply(message, decision, rules, sender=SHOP, templates=tmp_path, now=NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Quote\r\nBcc: victim@example.com", "Quote Bcc: victim@example.com"),
        ("a\u2028b\x00c", "a b c"),
        ("x" * 300, "x" * 200),
    ],
    ids=["crlf-injection", "unicode-separators", "length-cap"],
)
def test_header_safe(value: str, expected: str) -> None:
    """Values copied into headers lose line breaks and NULs and are capped in length."""
    assert header_safe(value) == expected


def test_shop_edited_templates_run_in_a_sandbox(tmp_path: Path) -> None:
    """A template that reaches for Python internals fails with a TemplateError, not code."""
    (tmp_path / "clarify.txt.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TemplateError):
        render_template(tmp_path, "clarify.txt.j2", {})
