"""Tests for bot.trust: Authentication-Results parsing and whether our server vouches for a sender."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import Message
from bot.parse import parse_message
from bot.trust import aligned, parse_authentication_results, verify_sender

OURS = "mx.printshop.example"
LEE = "lee.park@acme-robotics.example"

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@acme-robotics.example header.s=s1 header.b=AbCdEf12;\r\n"
    "       spf=pass (google.com: domain of lee.park@acme-robotics.example designates "
    "203.0.113.5 as permitted sender) smtp.mailfrom=lee.park@acme-robotics.example;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=acme-robotics.example"
)
M365 = (
    "spf=pass (sender IP is 203.0.113.5) smtp.mailfrom=acme-robotics.example; dkim=pass "
    "(signature was verified) header.d=acme-robotics.example;dmarc=pass action=none "
    "header.from=acme-robotics.example;compauth=pass reason=100"
)
FASTMAIL = (
    "mx3.messagingengine.com;\r\n"
    "    arc=none (no signatures found);\r\n"
    "    dkim=pass (2048-bit rsa key sha256) header.d=acme-robotics.example "
    "header.i=@acme-robotics.example header.b=AbCdEf12 header.a=rsa-sha256 header.s=fm1 "
    "x-bits=2048;\r\n"
    "    dmarc=pass policy.published-domain-policy=reject policy.applied-disposition=none "
    "policy.evaluated-disposition=none (p=reject,d=none,d.eval=none) policy.policy-from=p "
    "header.from=acme-robotics.example;\r\n"
    "    iprev=pass smtp.remote-ip=203.0.113.5 (mail.acme-robotics.example);\r\n"
    "    spf=pass smtp.mailfrom=lee.park@acme-robotics.example smtp.helo=mail.acme-robotics.example"
)
RSPAMD = (
    "mx.printshop.example;\r\n"
    "\tdkim=pass header.d=acme-robotics.example header.s=dkim header.b=AbCd1234;\r\n"
    "\tdmarc=pass (policy=reject) header.from=acme-robotics.example;\r\n"
    "\tspf=pass (mx.printshop.example: domain of lee.park@acme-robotics.example designates "
    "203.0.113.5 as permitted sender) smtp.mailfrom=lee.park@acme-robotics.example"
)
OPENDMARC = "mx.printshop.example; dmarc=fail (p=reject dis=none) header.from=acme-robotics.example"
OPENDKIM = (
    "mx.printshop.example; dkim=pass (2048-bit key; unprotected) header.d=acme-robotics.example "
    'header.i=@acme-robotics.example header.b="AbC;dmarc=pass"; dkim-atps=neutral'
)
RFC_COMMENTS = (
    "foo.example.net (foobar) 1 (baz); dkim (Because I like it) / 1 (One yay) = (wait for it) "
    "fail policy (A dot can go here) . (like that) expired (this surprised me) = (as I wasn't "
    "expecting it) 1362471462"
)
SHOUTING = 'MX.PrintShop.Example 1; DKIM = Pass Header.D = "acme-robotics.example"; DMARC=FAIL'
REASONS = (
    'mx.printshop.example; dkim=fail reason="signature verification failed (bad; body hash)" '
    'header.d=acme-robotics.example; dmarc=none reason="no policy" header.from=acme-robotics.example'
)


@pytest.mark.parametrize(
    ("value", "authserv_id", "version", "results"),
    [
        (GMAIL, "mx.google.com", None, [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]),
        (
            M365,
            "",
            None,
            [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass"), ("compauth", "pass")],
        ),
        (
            FASTMAIL,
            "mx3.messagingengine.com",
            None,
            [
                ("arc", "none"),
                ("dkim", "pass"),
                ("dmarc", "pass"),
                ("iprev", "pass"),
                ("spf", "pass"),
            ],
        ),
        (RSPAMD, OURS, None, [("dkim", "pass"), ("dmarc", "pass"), ("spf", "pass")]),
        (OPENDMARC, OURS, None, [("dmarc", "fail")]),
        (OPENDKIM, OURS, None, [("dkim", "pass"), ("dkim-atps", "neutral")]),
        (RFC_COMMENTS, "foo.example.net", 1, [("dkim", "fail")]),
        (SHOUTING, OURS, 1, [("dkim", "pass"), ("dmarc", "fail")]),
        (REASONS, OURS, None, [("dkim", "fail"), ("dmarc", "none")]),
        ("example.com 1; none", "example.com", 1, []),
        ('"mx.printshop.example" ; spf=none', OURS, None, [("spf", "none")]),
    ],
    ids=[
        "gmail",
        "m365-no-authserv-id",
        "fastmail",
        "rspamd",
        "opendmarc",
        "opendkim-quoted-semicolon",
        "rfc-comments-everywhere",
        "case-and-spaces",
        "reason-properties",
        "none",
        "quoted-authserv-id",
    ],
)
def test_parse_realistic_headers(
    value: str, authserv_id: str, version: int | None, results: list[tuple[str, str]]
) -> None:
    """Each server's header yields its authserv-id, version and method=result pairs in order."""
    parsed = parse_authentication_results(value)
    assert parsed is not None
    assert (parsed.authserv_id, parsed.version) == (authserv_id, version)
    assert [(r.method, r.result) for r in parsed.results] == results


def test_parse_properties_reason_and_quoted_values() -> None:
    """Properties keep their values (a quoted `;` included) and `reason=` is kept apart."""
    dkim = parse_authentication_results(OPENDKIM)
    assert dkim is not None
    assert dkim.results[0].prop("header.b") == "AbC;dmarc=pass"
    assert dkim.results[0].prop("Header.I") == "@acme-robotics.example"
    reasons = parse_authentication_results(REASONS)
    assert reasons is not None
    assert reasons.results[0].reason == "signature verification failed (bad; body hash)"
    assert reasons.results[0].prop("header.d") == "acme-robotics.example"
    assert reasons.results[0].prop("reason") is None
    comments = parse_authentication_results(RFC_COMMENTS)
    assert comments is not None
    assert comments.results[0].prop("policy.expired") == "1362471462"
    shouting = parse_authentication_results(SHOUTING)
    assert shouting is not None
    assert shouting.results[0].prop("header.d") == "acme-robotics.example"


GARBAGE = [
    *(
        "",
        "   ",
        "(((",
        ")))",
        '"',
        "; ; ;",
        "=;=;=",
        "a; =pass",
        "a; dkim",
        "a; .=x",
        "\x00\r\n\t",
    ),
    *("x" * 200_000, "a; " + "k" * 100_000 + "=", "a; " + "(" * 50_000, 'a; "' + "\\" * 9_999),
]


@pytest.mark.parametrize(
    "value",
    GARBAGE,
    ids=lambda v: repr(v[:12]),
)
def test_garbage_never_raises(value: str) -> None:
    """Garbage parses to nothing usable and never verifies a sender."""
    parsed = parse_authentication_results(value)
    assert parsed is None or not [r for r in parsed.results if r.result == "pass"]
    assert not verify_sender(message(value), {OURS}).verified


@settings(database=None, derandomize=True, max_examples=300)
@given(st.text(max_size=400))
def test_any_text_never_raises(value: str) -> None:
    """Whatever the header holds, parsing returns and verification says yes or no."""
    parse_authentication_results(value)
    assert isinstance(verify_sender(message(f"{OURS}; {value}"), {OURS}).verified, bool)


@pytest.mark.parametrize(
    ("signer", "author", "expected"),
    [
        ("acme-robotics.example", "acme-robotics.example", True),
        ("ACME-Robotics.example.", "acme-robotics.example", True),
        ("mail.acme-robotics.example", "acme-robotics.example", True),
        ("acme-robotics.example", "eu.acme-robotics.example", True),
        ("evil.example", "acme-robotics.example", False),
        ("acme-robotics.example.evil.example", "acme-robotics.example", False),
        ("notacme-robotics.example", "acme-robotics.example", False),
        ("example", "acme-robotics.example", False),
        ("", "acme-robotics.example", False),
    ],
    ids=[
        *("same", "case-and-dot", "signer-subdomain", "author-subdomain", "other"),
        *("suffix-trick", "no-label-boundary", "single-label", "empty"),
    ],
)
def test_alignment(signer: str, author: str, expected: bool) -> None:
    """Relaxed alignment: the same domain or one a subdomain of the other, on label boundaries."""
    assert aligned(signer, author) is expected


def message(*results: str, sender: str = LEE, extra: tuple[str, ...] = ()) -> Message:
    """A message from `sender` with these Authentication-Results values, topmost first."""
    head = [f"Authentication-Results: {r}" for r in results]
    head += [f"From: Lee Park <{sender}>", *extra, "To: quotes@printshop.example", "Subject: Q"]
    head += ["Message-ID: <t@test.example>", "Content-Type: text/plain"]
    return parse_message(("\r\n".join(head) + "\r\n\r\nRelease 250 units.\r\n").encode())


PASS = f"{OURS}; spf=pass smtp.mailfrom={LEE}; dmarc=pass header.from=acme-robotics.example"


@pytest.mark.parametrize(
    ("results", "ids", "expected", "why"),
    [
        ((PASS,), {OURS}, True, "dmarc=pass from mx.printshop.example"),
        ((RSPAMD,), {OURS}, True, "dmarc=pass"),
        ((OPENDMARC,), {OURS}, False, "dmarc=fail"),
        ((), {OURS}, False, "no Authentication-Results from mx.printshop.example"),
        ((GMAIL,), {OURS}, False, "no Authentication-Results"),
        ((M365,), {OURS}, False, "no Authentication-Results"),
        ((GMAIL,), {"MX.Google.com"}, True, "dmarc=pass from mx.google.com"),
        ((PASS,), {"mx1.printshop.example", OURS}, True, "dmarc=pass"),
        (
            (f"{OURS}; dkim=pass header.d=mail.acme-robotics.example", PASS),
            {OURS},
            True,
            "dkim=pass",
        ),
        ((f"{OURS}; dkim=pass header.i=lee@acme-robotics.example",), {OURS}, True, "dkim=pass"),
        ((f"{OURS}; dkim=pass header.d=evil.example",), {OURS}, False, "not aligned"),
        (
            (f"{OURS}; dkim=pass header.d=evil.example; dkim=fail header.d=acme-robotics.example",),
            {OURS},
            False,
            "not aligned",
        ),
        ((f"{OURS}; dmarc=none header.from=acme-robotics.example",), {OURS}, False, "dmarc=none"),
        ((f"{OURS}; dmarc=none; dkim=pass header.d=acme-robotics.example",), {OURS}, True, "dkim"),
        ((f"{OURS}; dmarc=fail; dkim=pass header.d=acme-robotics.example",), {OURS}, False, "fail"),
        ((f"{OURS}; dmarc=pass header.from=evil.example",), {OURS}, False, "for evil.example"),
        ((f"{OURS}; dmarc=pass; dmarc=none",), {OURS}, False, "dmarc=none, dmarc=pass"),
        ((f"{OURS}; dmarc=fail", PASS), {OURS}, False, "dmarc=fail"),
        ((PASS, f"{OURS}; dmarc=fail"), {OURS}, True, "dmarc=pass"),
        ((f"{OURS}; none", PASS), {OURS}, False, "no dmarc or dkim result"),
        ((f"{OURS} 1; DMARC=Pass Header.From=Acme-Robotics.Example",), {OURS}, True, "dmarc=pass"),
    ],
    ids=[
        "dmarc-pass",
        "rspamd-pass",
        "dmarc-fail",
        "no-header",
        "only-another-server",
        "m365-without-id-never-matches",
        "configured-other-id-case-insensitive",
        "one-of-two-mx",
        "aligned-dkim-subdomain",
        "aligned-dkim-header-i",
        "unaligned-dkim",
        "aligned-dkim-failed",
        "dmarc-none-alone",
        "dmarc-none-aligned-dkim",
        "dmarc-fail-beats-aligned-dkim",
        "dmarc-pass-for-another-from",
        "conflicting-dmarc",
        "topmost-fail-wins-over-pass-below",
        "topmost-pass-wins-over-fail-below",
        "topmost-none-wins",
        "case-insensitive",
    ],
)
def test_verify_sender(results: tuple[str, ...], ids: set[str], expected: bool, why: str) -> None:
    """Only the topmost header with one of our authserv-ids counts: dmarc=pass for the From
    domain, or an aligned dkim=pass when DMARC did not fail."""
    verdict = verify_sender(message(*results), ids)
    assert verdict.verified is expected
    assert why in verdict.why


@pytest.mark.parametrize(
    ("signers", "ids", "results", "expected", "why"),
    [
        (("acme-robotics.example",), set(), (), True, "signature of acme-robotics.example"),
        (("mail.acme-robotics.example",), set(), (), True, "verified by quotebot"),
        (("attacker.example",), set(), (), False, "(signed by attacker.example)"),
        ((), set(), (), False, "no DKIM signature aligned with acme-robotics.example"),
        (("acme-robotics.example",), {OURS}, (OPENDMARC,), True, "verified by quotebot"),
        ((), {OURS}, (OPENDMARC,), False, "dmarc=fail from mx.printshop.example"),
        (None, {OURS}, (PASS,), True, "dmarc=pass"),
    ],
    ids=[
        "own-domain",
        "subdomain-aligned",
        "other-domain",
        "no-signature",
        "own-check-beats-header",
        "both-fail-say-both",
        "not-checked",
    ],
)
def test_own_dkim_check(
    signers: tuple[str, ...] | None,
    ids: set[str],
    results: tuple[str, ...],
    expected: bool,
    why: str,
) -> None:
    """The bot's own DKIM check (Message.dkim_pass) vouches for an aligned signer, alone or
    where the receiving server's header does not."""
    checked = replace(message(*results), dkim_pass=signers)
    verdict = verify_sender(checked, ids)
    assert (verdict.verified, why in verdict.why) == (expected, True), verdict.why


def test_own_dkim_check_never_rescues_two_from_headers() -> None:
    """A signature cannot vouch for a message with two From headers."""
    forged = message(extra=("From: someone@evil.example",))
    assert not verify_sender(replace(forged, dkim_pass=("acme-robotics.example",)), ()).verified


def test_two_from_headers_are_never_verified() -> None:
    """A second From header could be the one DMARC judged; such a message is not vouched for."""
    forged = message(PASS, extra=("From: someone@evil.example",))
    assert not verify_sender(forged, {OURS}).verified


def test_no_from_address_is_never_verified() -> None:
    """A message whose From has no address cannot be aligned with anything."""
    assert not verify_sender(message(PASS, sender="undisclosed"), {OURS}).verified


def test_encoded_word_in_a_property_cannot_add_a_result() -> None:
    """An encoded-word in smtp.mailfrom (attacker-chosen) does not become a dkim=pass result."""
    smuggled = (
        f"{OURS}; dkim=none; spf=pass smtp.mailfrom="
        "=?us-ascii?q?x=3B_dkim=3Dpass_header=2Ed=3Dacme-robotics=2Eexample=3B?=@evil.example"
    )
    assert not verify_sender(message(smuggled), {OURS}).verified
