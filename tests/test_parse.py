"""Tests for bot.parse: raw bytes to a Message, addresses and HTML to text."""

from __future__ import annotations

import contextlib
import email
import email.policy
from datetime import UTC, datetime
from email.utils import getaddresses
from pathlib import Path

import mailparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.parse as bot_parse
from bot.errors import MessageError
from bot.parse import MAX_REFERENCES, _BodyParser, html_to_text, parse_address, parse_message


def raw(*headers: str, body: str = "Hello.\n", content_type: str = "text/plain") -> bytes:
    """A small RFC 5322 message with CRLF line ends."""
    head = [*headers, "MIME-Version: 1.0"]
    if content_type:
        head.append(f'Content-Type: {content_type}; charset="utf-8"')
    return ("\r\n".join(head) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


PLAIN = raw(
    "From: Lee Park <Lee.Park@Acme-Robotics.example>",
    "To: Printshop Quotes <quotes@printshop.example>, ops@printshop.example",
    "Cc: dana@acme-robotics.example",
    "Subject: Re: Quote Q-1042 brackets",
    "Date: Tue, 04 Mar 2025 11:02:00 -0500",
    "Message-ID: <abc.1@acme-robotics.example>",
    "In-Reply-To: <q.1@printshop.example>",
    "References: <root@printshop.example> <q.1@printshop.example>",
    "X-Custom: one",
    "X-Custom: two",
    body="Release 250 units.\nThanks,\nLee\n",
)

MULTIPART = (
    b"From: a@acme.example\r\n"
    b"Subject: files\r\n"
    b"Message-ID: <m@acme.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XX"\r\n'
    b"\r\n"
    b"--XX\r\n"
    b'Content-Type: multipart/alternative; boundary="YY"\r\n'
    b"\r\n"
    b"--YY\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Plain body wins.\r\n"
    b"--YY\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>HTML body loses.</p>\r\n"
    b"--YY--\r\n"
    b"--XX\r\n"
    b"Content-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="PO-45001.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--XX--\r\n"
)


def test_plain_message_headers() -> None:
    """A plain message gives its ids, lower-cased addresses, aware date and subject."""
    message = parse_message(PLAIN)
    assert message.message_id == "<abc.1@acme-robotics.example>"
    assert message.subject == "Re: Quote Q-1042 brackets"
    assert message.from_addr == "lee.park@acme-robotics.example"
    assert message.from_name == "Lee Park"
    assert message.to == ("quotes@printshop.example", "ops@printshop.example")
    assert message.cc == ("dana@acme-robotics.example",)
    assert message.date == datetime(2025, 3, 4, 16, 2, tzinfo=UTC)
    assert message.in_reply_to == "<q.1@printshop.example>"
    assert message.references == ("<root@printshop.example>", "<q.1@printshop.example>")
    assert message.content_type == "text/plain"
    assert message.from_html is False


def test_a_long_references_header_keeps_its_root_and_latest_ids() -> None:
    """A client that never trims References (3,000 IDs): the root and the last 19 are kept,
    in order, which is all threading and a reply's own References need."""
    ids = [f"<r{n}@acme-robotics.example>" for n in range(3000)]
    raw = PLAIN.replace(
        b"References: <root@printshop.example> <q.1@printshop.example>",
        b"References: " + " ".join(ids).encode(),
    )
    references = parse_message(raw).references
    assert references == (ids[0], *ids[-19:])
    assert len(references) == MAX_REFERENCES == 20


def test_body_has_unix_line_ends() -> None:
    """The body text keeps its lines with CRLF turned into LF."""
    text = parse_message(PLAIN).text
    assert "\r" not in text
    assert text.splitlines()[:3] == ["Release 250 units.", "Thanks,", "Lee"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("x-custom", "one"), ("X-CUSTOM", "one"), ("Subject", "Re: Quote Q-1042 brackets")],
    ids=["lower", "upper", "subject"],
)
def test_header_lookup_ignores_case(name: str, expected: str) -> None:
    """Message.header finds the first value of a header by any case of its name."""
    assert parse_message(PLAIN).header(name) == expected


def test_header_all_keeps_order() -> None:
    """Message.header_all returns every value of a repeated header in order."""
    assert parse_message(PLAIN).header_all("X-Custom") == ("one", "two")


def test_encoded_words_are_decoded() -> None:
    """RFC 2047 subjects and display names are decoded."""
    message = parse_message(
        raw(
            "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@acme.example>",
            "Subject: =?utf-8?b?RnJlaWdhYmUgUS0xMDQy?=",
            "Message-ID: <e@acme.example>",
        )
    )
    assert message.from_name == "Jürgen Müller"
    assert message.subject == "Freigabe Q-1042"


def test_folded_subject_is_unfolded() -> None:
    """A folded header becomes one line with single spaces."""
    message = parse_message(
        raw("From: a@acme.example", "Subject: Quote Q-1042\r\n   bracket run", "Message-ID: <f@x>")
    )
    assert message.subject == "Quote Q-1042 bracket run"


def test_multipart_prefers_plain_and_lists_attachments() -> None:
    """multipart/alternative gives the plain part; attachments are kept by name and type."""
    message = parse_message(MULTIPART)
    assert "Plain body wins." in message.text
    assert "HTML body loses" not in message.text
    assert message.from_html is False
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("PO-45001.pdf", "application/pdf")
    ]


def test_html_only_message_becomes_text_with_quote_marks() -> None:
    """An HTML-only body is converted to text and a blockquote stays visible as '>' lines."""
    message = parse_message(
        raw(
            "From: a@acme.example",
            "Subject: html",
            "Message-ID: <h@acme.example>",
            body="<html><body><p>Looks great,&nbsp;please proceed.</p>"
            "<blockquote><p>Quote Q-1 for 250 units</p></blockquote></body></html>",
            content_type="text/html",
        )
    )
    assert message.from_html is True
    assert "Looks great, please proceed." in message.text
    assert any(
        line.lstrip().startswith(">") and "Quote Q-1" in line for line in message.text.splitlines()
    )
    assert "<p>" not in message.text


def test_missing_message_id_gets_a_stable_fingerprint() -> None:
    """Without a Message-ID the same bytes always get the same synthetic id."""
    data = raw("From: a@acme.example", "Subject: no id")
    first, second = parse_message(data), parse_message(data)
    assert first.message_id == second.message_id
    assert first.message_id.endswith("@quotebot.invalid>")


def test_report_content_type_is_kept() -> None:
    """A delivery report keeps its multipart/report content type for the guard."""
    data = (
        b"From: MAILER-DAEMON@mx.acme.example\r\nSubject: Undelivered\r\nMessage-ID: <r@x>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"'
        b"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--B--\r\n"
    )
    assert parse_message(data).content_type == "multipart/report"


@pytest.mark.parametrize("data", [b"", b"  \r\n\r\n "], ids=["empty", "blank"])
def test_empty_input_raises_message_error(data: bytes) -> None:
    """Empty bytes raise MessageError instead of giving an empty Message."""
    with pytest.raises(MessageError):
        parse_message(data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Lee Park <Lee.Park@Acme.example>", ("Lee Park", "lee.park@acme.example")),
        ("quotes@printshop.example", ("", "quotes@printshop.example")),
        ('"Park, Lee" <lee@acme.example>', ("Park, Lee", "lee@acme.example")),
        ("a@acme.example, b@acme.example", ("", "")),
        ("not an address", ("not an address", "")),
        ("", ("", "")),
    ],
    ids=["name-and-addr", "bare", "quoted-comma-name", "two-addresses", "garbage", "empty"],
)
def test_parse_address(value: str, expected: tuple[str, str]) -> None:
    """parse_address gives (name, lower-cased address) and no address when it is unsafe."""
    name, addr = parse_address(value)
    assert addr == expected[1]
    if expected[1]:
        assert name == expected[0]


@pytest.mark.parametrize(
    ("html", "present", "absent"),
    [
        ("<p>One&nbsp;two</p>", "One two", "&nbsp;"),
        ('<p>See <a href="http://x.example/y">the file</a></p>', "the file", "http://x.example"),
        ('<p>Hi<img src="cid:logo" alt="logo"></p>', "Hi", "cid:logo"),
        ("<div>Start now</div><blockquote>old quote</blockquote>", "> old quote", "<blockquote>"),
    ],
    ids=["nbsp", "link-dropped", "image-dropped", "blockquote"],
)
def test_html_to_text(html: str, present: str, absent: str) -> None:
    """html_to_text keeps the words, drops markup, links and images, and marks quotes."""
    text = html_to_text(html)
    assert present in text
    assert absent not in text


@pytest.mark.parametrize(
    ("raw_subject", "expected"),
    [
        ("Réponse automatique : Devis Q-1042".encode(), "Réponse automatique : Devis Q-1042"),
        ("Freigabe Gehäuse".encode("latin-1"), "Freigabe Gehäuse"),
    ],
    ids=["utf-8 (RFC 6532)", "latin-1"],
)
def test_raw_8bit_headers_are_decoded(raw_subject: bytes, expected: str) -> None:
    """A header written in raw 8-bit is read as UTF-8, else as Windows-1252, never as '�'."""
    raw = (
        b"From: a@acme.example\r\nSubject: " + raw_subject + b"\r\nMessage-ID: <8@a>\r\n\r\nok\r\n"
    )
    assert parse_message(raw).subject == expected


def _same_body_as_stock_mail_parser(path: Path) -> bool:
    """Whether the bot's walk (mail-parser without its header analysis) reads `path`'s body
    text, HTML and attachments as stock mail-parser 4.8.0 does. Unreadable for both: True."""
    raw = path.read_bytes()
    std = email.message_from_bytes(raw, policy=email.policy.compat32)
    try:
        stock = mailparser.MailParser(email.message_from_bytes(raw, policy=email.policy.compat32))
    except Exception:
        with contextlib.suppress(Exception):
            _BodyParser(std)
            return False  # the bot's walk read what stock mail-parser could not
        return True
    ours = _BodyParser(std)
    return (stock.text_plain, stock.text_html, stock.attachments) == (
        ours.text_plain,
        ours.text_html,
        ours.attachments,
    )


def test_the_body_walk_is_stock_mail_parsers_on_the_examples_and_labelled_mail(
    bundled_mail: list[Path],
) -> None:
    """The header analysis the bot skips changes nothing mail-parser reads from the parts."""
    files = bundled_mail
    assert len(files) > 500
    assert [p for p in files if not _same_body_as_stock_mail_parser(p)] == []


@pytest.mark.corpus
def test_the_body_walk_is_stock_mail_parsers_on_every_corpus_file(
    corpus_files: list[Path],
) -> None:
    """Malformed MIME, bad charsets, odd attachments: the same text, HTML and attachments."""
    files = corpus_files
    assert len(files) > 90
    assert [p for p in files if not _same_body_as_stock_mail_parser(p)] == []


@pytest.mark.parametrize(
    "value",
    [
        "plain value",
        " folded\r\n\tvalue ",
        "nul\x00 and\x07bell",
        "=?utf-8?q?caf=C3=A9?=",
        "caf\u00e9",
    ],
)
def test_a_header_value_is_decoded_cleaned_and_scrubbed(value: str) -> None:
    """The ASCII fast path gives what the full path gives (8-bit, encoded words, scrubbing)."""
    full = bot_parse._scrub(
        bot_parse.clean_header(bot_parse.decode_words(bot_parse.raw_8bit(value)))
    )
    assert bot_parse._header_value("Subject", value) == full


# Address lists: the everyday forms are read without the standard parser, with its answer

_ADDRESS_PIECES = st.sampled_from(
    ["Lee", "Park", "lee.park", "@", "<", ">", ",", " ", "\t", "\r\n ", ".", "x@y.example",
     "a-b", '"', "(c)", ":", ";", "[1.2.3.4]", "ö", "\xa0", "\\", "=?utf-8?q?x?=", "o'n",
     "..", "-", "_", "a@b", "<a@b.example>", "Dana Ortiz <dana@acme.example>", "\x01", "\x0b",
     "\x1c", "\u2003"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None, derandomize=True, database=None)
@given(st.lists(_ADDRESS_PIECES, max_size=12).map("".join))
def test_address_lists_read_as_the_standard_parser_reads_them(value: str) -> None:
    assert bot_parse._getaddresses(value) == getaddresses([value])


@pytest.mark.parametrize(
    ("value", "pairs"),
    [
        ("Lee Park <lee@acme.example>", [("Lee Park", "lee@acme.example")]),
        (" Lee \t Park\r\n <lee@acme.example> ", [("Lee Park", "lee@acme.example")]),
        ("lee@acme.example, Dana <dana@acme.example>", [("", "lee@acme.example"), ("Dana", "dana@acme.example")]),
        ("=?utf-8?q?J=C3=B6rg?= <j@acme.example>", [("=?utf-8?q?J=C3=B6rg?=", "j@acme.example")]),
    ],
)  # fmt: skip
def test_everyday_addresses_skip_the_standard_parser(
    value: str, pairs: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(values: list[str]) -> list[tuple[str, str]]:
        raise AssertionError("the standard parser was asked")

    monkeypatch.setattr(bot_parse, "getaddresses", refuse)
    assert bot_parse._getaddresses(value) == pairs


def test_other_address_forms_go_to_the_standard_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str]] = []

    def recording(values: list[str]) -> list[tuple[str, str]]:
        asked.append(values)
        return getaddresses(values)

    monkeypatch.setattr(bot_parse, "getaddresses", recording)
    for value in [
        '"Park, Lee" <lee@acme.example>',
        "Lee <lee@acme.example> (work)",
        "",
        "a@b,",
        "Team: a@b, c@d;",
        "Lee <a@[1.2.3.4]>",
        "Lee\xa0Park <lee@acme.example>",
    ]:
        assert bot_parse._getaddresses(value) == getaddresses([value]), value
        assert asked[-1] == [value], value
