"""A multipart/alternative message is parsed without its HTML copy, and reads the same."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import parse
from bot.errors import MessageError
from bot.model import Message
from bot.plain_first import without_html

PLAIN = "Looks good, please go ahead with 250 units of rev C7 on Monday."
HTML = "<div>Looks good, please go ahead with <b>250 units</b> of rev C7 on Monday.</div>"


def _alternative(
    parts: list[tuple[str, str]], *, boundary: str = "b1", eol: str = "\n", outer: str = ""
) -> bytes:
    lines = [
        "From: Dana Ortiz <dana@acme.example>",
        "To: quotes@printshop.example",
        "Subject: Re: Quote Q-1042",
        "Message-ID: <alt-1@acme.example>",
        "MIME-Version: 1.0",
        outer or f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        "preamble",
    ]
    for ctype, body in parts:
        lines += [f"--{boundary}", f"Content-Type: {ctype}; charset=utf-8", "", body]
    lines += [f"--{boundary}--", "epilogue", ""]
    return eol.join(lines).encode()


def _whole(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> Message | str:
    """parse_message without the cut: every part parsed."""
    with monkeypatch.context() as patched:
        patched.setattr(parse, "without_html", lambda data, end: None)
        try:
            return parse.parse_message(raw)
        except MessageError as exc:
            return str(exc)


def _ours(raw: bytes) -> Message | str:
    try:
        return parse.parse_message(raw)
    except MessageError as exc:
        return str(exc)


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_the_everyday_shape_is_cut_and_reads_the_same(
    eol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _alternative([("text/plain", PLAIN), ("text/html", HTML)], eol=eol)
    trimmed = without_html(raw, parse._header_end(raw))
    assert trimmed is not None
    assert b"<b>250 units</b>" not in trimmed.data and b"epilogue" in trimmed.data
    ours = parse.parse_message(raw)
    assert ours == _whole(raw, monkeypatch)
    assert ours.text == PLAIN and not ours.from_html


@pytest.mark.parametrize(
    "raw",
    [
        _alternative([("text/html", HTML), ("text/plain", PLAIN)]),  # HTML first
        _alternative([("text/plain", PLAIN), ("text/html", HTML), ("text/html", HTML)]),
        _alternative([("text/plain", PLAIN), ("text/enriched", PLAIN)]),
        _alternative(
            [("text/plain", PLAIN), ("text/html", HTML)],
            outer='Content-Type: multipart/mixed; boundary="b1"',
        ),
    ],
    ids=["html-first", "three-parts", "not-html", "not-alternative"],
)
def test_other_shapes_are_not_cut(raw: bytes) -> None:
    assert without_html(raw, parse._header_end(raw)) is None


@pytest.mark.parametrize(
    "raw",
    [
        _alternative([("text/plain", "   "), ("text/html", HTML)]),  # words only in the HTML
        _alternative([("text/plain", PLAIN), ("text/html", HTML)]).replace(
            b'boundary="b1"',
            b'boundary="b1"; boundary="b2"',  # the parser may see another
        ),
        _alternative([("text/plain", PLAIN), ("text/html", HTML)]).replace(
            b"Content-Type: multipart", b"Content-Type: text/plain\nContent-Type: multipart"
        ),
    ],
    ids=["blank-plain-part", "two-boundaries", "two-content-types"],
)
def test_a_cut_the_parse_does_not_bear_out_reads_the_whole_message(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the bytes misled the cut, or the plain part has no words, the message is parsed
    whole: the answer is the same as without the cut."""
    assert _ours(raw) == _whole(raw, monkeypatch)


def _all_the_same(files: list[Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for path in files:
        raw = path.read_bytes()
        if _ours(raw) != _whole(raw, monkeypatch):
            yield path.name


def test_every_bundled_message_reads_the_same(
    bundled_mail: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every message of the example mailbox and the test data: the same Message, field for
    field (text, attachments, headers, defects), with and without the cut."""
    cut = sum(
        without_html(raw, parse._header_end(raw)) is not None
        for raw in (p.read_bytes() for p in bundled_mail)
    )
    assert cut > 50  # the cut was made
    assert list(_all_the_same(bundled_mail, monkeypatch)) == []


@pytest.mark.corpus
def test_every_corpus_message_reads_the_same(
    corpus_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert list(_all_the_same(corpus_files, monkeypatch)) == []
