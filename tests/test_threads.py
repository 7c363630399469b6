"""Tests for bot.threads: grouping by references, then quote number, then subject."""

from __future__ import annotations

import pytest

from bot.model import Message
from bot.parse import parse_message
from bot.threads import normalized_subject, quote_number, thread_ids, thread_key


def message(subject: str, *headers: str, message_id: str = "<new@acme.example>") -> Message:
    """A small message with a subject and optional threading headers."""
    lines = [
        "From: lee@acme.example",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        *headers,
    ]
    return parse_message(("\r\n".join(lines) + "\r\n\r\nHello.\r\n").encode("utf-8"))


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Quote Q-1042 brackets", "Q-1042"),
        ("RE: FW: q-1177 - fixture clamps", "Q-1177"),
        ("Quote Q1042", "Q-1042"),
        ("Bracket run for next week", None),
        ("Invoice 1042", None),
    ],
    ids=["re-quote", "lower-case-with-prefixes", "no-dash", "no-number", "bare-number"],
)
def test_quote_number(subject: str, expected: str | None) -> None:
    """A quote number like Q-1042 is read from the subject in one canonical spelling."""
    assert quote_number(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: RE: Fwd: Bracket  Run", "bracket run"),
        ("AW: WG: Angebot Halter", "angebot halter"),
        ("Re[2]: Bracket run", "bracket run"),
        ("SV: TR: RV: Bracket run", "bracket run"),
        ("Bracket run", "bracket run"),
        ("Re: Regarding the run", "regarding the run"),
    ],
    ids=[
        "english-prefixes",
        "german-prefixes",
        "counted-re",
        "nordic-french-spanish",
        "none",
        "re-word",
    ],
)
def test_normalized_subject(subject: str, expected: str) -> None:
    """Reply and forward prefixes in several languages are dropped and the rest lower-cased."""
    assert normalized_subject(subject) == expected


KNOWN = {"<root@printshop.example>": "quote:Q-1042", "<q2@printshop.example>": "thread-7"}


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        pytest.param(
            message("Re: something else Q-9999", "In-Reply-To: <q2@printshop.example>"),
            "thread-7",
            id="known-in-reply-to-beats-quote-number",
        ),
        pytest.param(
            message(
                "Re: hi",
                "References: <root@printshop.example> <unknown@acme.example>",
                "In-Reply-To: <unknown@acme.example>",
            ),
            "quote:Q-1042",
            id="known-reference",
        ),
        pytest.param(message("Re: Quote Q-1042 brackets"), "quote:Q-1042", id="quote-number"),
        pytest.param(
            message("Re: Bracket run", "References: <first@acme.example>"),
            "ref:<first@acme.example>",
            id="unknown-references-root",
        ),
        pytest.param(message("RE: Fwd: Bracket run"), "subject:bracket run", id="subject"),
        pytest.param(
            message("", message_id="<lonely@acme.example>"),
            "message:<lonely@acme.example>",
            id="nothing",
        ),
    ],
)
def test_thread_key(msg: Message, expected: str) -> None:
    """Known references win, then the quote number, then the root reference, then the subject."""
    assert thread_key(msg, KNOWN) == expected


def test_same_subject_with_and_without_prefix_share_a_thread() -> None:
    """'Bracket run' and 'Re: Bracket run' with no references are one thread."""
    assert thread_key(message("Bracket run"), {}) == thread_key(message("Re: Bracket run"), {})


def test_same_quote_number_shares_a_thread() -> None:
    """Two messages with the same quote number in different subjects are one thread."""
    first = message("Quote Q-1042 - brackets")
    second = message("Re: Q-1042 release")
    assert thread_key(first, {}) == thread_key(second, {})


def test_thread_ids_list_every_id_once() -> None:
    """A message's own id, its references and its parent all point at its thread, once each."""
    msg = message(
        "Re: x",
        "References: <a@x> <b@x>",
        "In-Reply-To: <b@x>",
        message_id="<c@x>",
    )
    assert thread_ids(msg) == ("<c@x>", "<a@x>", "<b@x>")
