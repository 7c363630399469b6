"""Tests for bot.guard: the never-answer list (release-rules.md, "Never answer")."""

from __future__ import annotations

import pytest

from bot.guard import never_answer_reason
from bot.model import Message
from bot.parse import parse_message
from bot.rules import Rules

OWN = frozenset({"quotes@printshop.example", "sales@printshop.example"})
DOMAINS = ("acme-robotics.example", "northwind-fixtures.example")
BUYER = "Lee Park <lee.park@acme-robotics.example>"


def message(
    *headers: str,
    sender: str = BUYER,
    content_type: str = "text/plain",
    body: str = "Looks good, go ahead.",
) -> Message:
    """A one-part message from `sender` with extra headers."""
    lines = [
        f"From: {sender}",
        "To: Printshop Quotes <quotes@printshop.example>",
        "Subject: Re: Quote Q-1042",
        "Message-ID: <m1@acme-robotics.example>",
        *headers,
        "MIME-Version: 1.0",
    ]
    if content_type == "multipart/report":
        lines.append('Content-Type: multipart/report; report-type=delivery-status; boundary="B"')
        payload = f"--B\r\nContent-Type: text/plain\r\n\r\n{body}\r\n--B--\r\n"
    else:
        lines.append(f'Content-Type: {content_type}; charset="utf-8"')
        payload = body + "\r\n"
    return parse_message(("\r\n".join(lines) + "\r\n\r\n" + payload).encode("utf-8"))


def reason(rules: Rules, msg: Message, domains: tuple[str, ...] = DOMAINS) -> str | None:
    """The guard's answer with the test shop's addresses and customer domains."""
    return never_answer_reason(msg, rules, own_addresses=OWN, customer_domains=domains)


NEVER = [
    pytest.param(("Auto-Submitted: auto-replied",), BUYER, "text/plain", id="auto-replied"),
    pytest.param(("Auto-Submitted: auto-generated",), BUYER, "text/plain", id="auto-generated"),
    pytest.param(("Auto-Submitted: Auto-Notified",), BUYER, "text/plain", id="auto-notified"),
    pytest.param(("Precedence: bulk",), BUYER, "text/plain", id="precedence-bulk"),
    pytest.param(("Precedence: list",), BUYER, "text/plain", id="precedence-list"),
    pytest.param(("Precedence: Junk",), BUYER, "text/plain", id="precedence-junk"),
    pytest.param(
        ("List-Id: Acme news <news.acme-robotics.example>",), BUYER, "text/plain", id="list-id"
    ),
    pytest.param(
        ("List-Unsubscribe: <mailto:leave@acme-robotics.example>",),
        BUYER,
        "text/plain",
        id="list-unsubscribe",
    ),
    pytest.param((), BUYER, "multipart/report", id="multipart-report"),
    pytest.param(("Return-Path: <>",), BUYER, "text/plain", id="empty-return-path"),
    pytest.param((), "MAILER-DAEMON@mx.acme-robotics.example", "text/plain", id="mailer-daemon"),
    pytest.param((), "postmaster@acme-robotics.example", "text/plain", id="postmaster"),
    pytest.param((), "noreply@acme-robotics.example", "text/plain", id="noreply"),
    pytest.param((), "Acme <no-reply@acme-robotics.example>", "text/plain", id="no-reply"),
    pytest.param(("X-Auto-Response-Suppress: OOF",), BUYER, "text/plain", id="suppress-oof"),
    pytest.param(("X-Auto-Response-Suppress: DR, OOF",), BUYER, "text/plain", id="suppress-list"),
    pytest.param(("X-Auto-Response-Suppress: All",), BUYER, "text/plain", id="suppress-all"),
    pytest.param((), "quotes@printshop.example", "text/plain", id="own-address"),
    pytest.param((), "Quotes Desk <QUOTES@PrintShop.Example>", "text/plain", id="own-address-case"),
    pytest.param((), "sales@printshop.example", "text/plain", id="own-alias"),
    pytest.param(("X-Quotebot: clarify",), BUYER, "text/plain", id="own-message-header"),
    pytest.param((), "buyer@elsewhere.example", "text/plain", id="outside-customer-domain"),
    pytest.param((), "lee@acme-robotics.example.evil", "text/plain", id="lookalike-domain"),
]


@pytest.mark.parametrize(("headers", "sender", "content_type"), NEVER)
def test_never_answered(
    rules: Rules, headers: tuple[str, ...], sender: str, content_type: str
) -> None:
    """Automatic, list, bounce, no-reply, own and outside-domain mail gets a never-answer reason."""
    msg = message(*headers, sender=sender, content_type=content_type)
    assert reason(rules, msg)


@pytest.mark.parametrize(
    ("headers", "sender", "domains"),
    [
        pytest.param((), BUYER, DOMAINS, id="plain-buyer"),
        pytest.param(("Auto-Submitted: no",), BUYER, DOMAINS, id="auto-submitted-no"),
        pytest.param(
            ("Return-Path: <lee.park@acme-robotics.example>",), BUYER, DOMAINS, id="return-path"
        ),
        pytest.param(("X-Auto-Response-Suppress: DR",), BUYER, DOMAINS, id="suppress-dr-only"),
        pytest.param(("Precedence: first-class",), BUYER, DOMAINS, id="precedence-other"),
        pytest.param((), "LEE.PARK@ACME-ROBOTICS.EXAMPLE", DOMAINS, id="upper-case-customer"),
        pytest.param((), "buyer@elsewhere.example", (), id="no-domains-configured"),
        pytest.param((), "sam.whitaker@northwind-fixtures.example", DOMAINS, id="second-domain"),
    ],
)
def test_answerable(
    rules: Rules, headers: tuple[str, ...], sender: str, domains: tuple[str, ...]
) -> None:
    """An ordinary customer message, including Auto-Submitted: no, may be answered."""
    assert reason(rules, message(*headers, sender=sender), domains) is None


def test_subject_prefix_alone_is_not_proof(rules: Rules) -> None:
    """An 'Automatic reply:' subject without auto headers does not block an answer by itself."""
    msg = parse_message(
        b"From: lee.park@acme-robotics.example\r\nSubject: Automatic reply: Quote Q-1042\r\n"
        b"Message-ID: <a@acme-robotics.example>\r\n\r\nRelease 250 units.\r\n"
    )
    assert reason(rules, msg) is None


def test_own_addresses_compare_case_insensitively(rules: Rules) -> None:
    """Own addresses given in any case still match the sender."""
    msg = message(sender="quotes@printshop.example")
    found = never_answer_reason(
        msg, rules, own_addresses={"Quotes@PrintShop.EXAMPLE"}, customer_domains=()
    )
    assert found


def test_reason_names_the_header(rules: Rules) -> None:
    """The reason says which rule matched, so the digest can explain the silence."""
    found = reason(rules, message("Auto-Submitted: auto-replied"))
    assert found is not None
    assert "auto-replied" in found.lower()


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Automatic reply: Re: Quote Q-1042",
            "I am currently out of the office with limited access to email.",
        ),
        (
            "Auto reply: Quote Q-1042",
            "I'm on vacation until Monday and will get back to you when I return.",
        ),
        (
            "Abwesenheitsnotiz: AW: Angebot Q-1042",
            "Ich bin bis 10.03. nicht im Büro und habe keinen Zugriff.",
        ),
        ("Réponse automatique : Devis Q-1042", "Je suis actuellement en congés jusqu'au 12 mars."),
    ],
    ids=["exchange-en", "icloud-en", "outlook-de", "outlook-fr"],
)
def test_out_of_office_without_headers_is_never_answered(
    rules: Rules, subject: str, body: str
) -> None:
    """An out-of-office notice with none of the headers is caught by its subject and text."""
    msg = parse_message(_raw(subject, body))
    assert reason(rules, msg) == "out-of-office notice (by its subject and text)"


def _raw(subject: str, body: str) -> bytes:
    return (
        f"From: {BUYER}\r\nTo: quotes@printshop.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <ooo@acme-robotics.example>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/plain; charset="utf-8"\r\n\r\n{body}\r\n'
    ).encode()


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Re: Quote Q-1042 (out of office next week)",
            "Looks good, go ahead with 200 of rev B now.",
        ),
        (
            "Re: Quote Q-1042",
            "I am out of the office tomorrow, so please start the 200 of rev B today.",
        ),
    ],
    ids=["subject-only", "body-only"],
)
def test_one_out_of_office_hint_alone_is_not_enough(rules: Rules, subject: str, body: str) -> None:
    """A subject hint or an away sentence alone never stops a buyer's real answer."""
    assert reason(rules, parse_message(_raw(subject, body))) is None


def test_every_list_header_means_a_list(rules: Rules) -> None:
    """Any List-* header (RFC 2369) marks list mail, not just List-Id."""
    for header in ("List-Help: <mailto:help@lists.example>", "List-Archive: <https://x.example>"):
        assert "mailing list" in (reason(rules, message(header)) or "")
