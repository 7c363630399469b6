"""The boundary matcher the standard parser gets (bot.boundaries) reads what its regex reads."""

from __future__ import annotations

import email
import email.feedparser
import email.policy
import re
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bot.parse  # noqa: F401  # installs the matcher, as the bot does
from bot.boundaries import BoundaryLine, boundary_line


def _stdlib_pattern(boundary: str) -> str:
    """The pattern email.feedparser compiles for `boundary` (its text, as it writes it)."""
    return (
        "(?P<sep>"
        + re.escape("--" + boundary)
        + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
    )


# RFC 2046's boundary characters, and what a careless or hostile sender puts there too
_BOUNDARY = st.text(
    st.sampled_from("abcXYZ019'()+_,-./:=? \t\\[]{}*|^$&~#\r\n\u00e9\udcff"),
    min_size=1,
    max_size=30,
)
_TAIL = st.text(st.sampled_from("-- \t\r\nx="), max_size=6)


@given(boundary=_BOUNDARY, tail=_TAIL, cut=st.integers(0, 40))
def test_a_line_matches_as_the_compiled_pattern_matches_it(
    boundary: str, tail: str, cut: int
) -> None:
    pattern = _stdlib_pattern(boundary)
    fast, real = boundary_line(pattern), re.compile(pattern)
    assert isinstance(fast, BoundaryLine)
    separator = "--" + boundary
    for line in (separator + tail, separator[:cut] + tail, tail + separator, "x" + separator):
        ours, theirs = fast.match(line), real.match(line)
        assert (ours is None) == (theirs is None), line
        if ours is not None and theirs is not None:
            assert ours.group("end") == theirs.group("end")
            assert ours.group("linesep") == theirs.group("linesep")
            assert ours.end() == theirs.end()


def test_other_uses_and_other_patterns_go_to_the_compiled_pattern() -> None:
    pattern = _stdlib_pattern("b1")
    fast = boundary_line(pattern)
    assert fast is not None
    found = fast.search("x --b1--\n")
    assert found is not None and found.group("sep") == "--b1"
    assert fast.match("--b1\n", 0) is not None
    assert boundary_line(pattern.replace("(?P<ws>", "(?P<space>")) is None
    assert boundary_line(r"(?P<sep>--b1)$") is None


def test_the_standard_parser_reads_its_boundaries_with_the_matcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fails when a Python writes the pattern otherwise: the 0.2 ms a message is back."""
    made: list[object] = []
    compile_ = email.feedparser.re.compile

    def compiling(*args: object) -> object:
        made.append(compile_(*args))
        return made[-1]

    monkeypatch.setattr(email.feedparser.re, "compile", compiling)
    raw = (
        b'Content-Type: multipart/mixed; boundary="==b 1=="\r\n\r\npreamble\r\n'
        b"--==b 1==\r\nContent-Type: text/plain\r\n\r\nhello\r\n--==b 1==--\r\nepilogue\r\n"
    )
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert [type(m) for m in made] == [BoundaryLine]
    assert [p.get_payload() for p in message.get_payload()] == ["hello"]
    assert (message.preamble, message.epilogue) == ("preamble", "epilogue\r\n")


def _tree(message: Message) -> Iterator[object]:
    """Everything the parse gives: each part's headers, payload, preamble, epilogue, defects."""
    for part in message.walk():
        payload = part.get_payload()
        yield (
            part.items(),
            None if part.is_multipart() else payload,
            part.preamble,
            part.epilogue,
            [type(d).__name__ for d in part.defects],
        )


def _trees(files: list[Path]) -> list[list[object]]:
    return [
        list(_tree(email.message_from_bytes(p.read_bytes(), policy=email.policy.compat32)))
        for p in files
    ]


def _same_with_the_stock_parser(files: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ours = _trees(files)
    with monkeypatch.context() as stock:
        stock.setattr(email.feedparser, "re", re)
        theirs = _trees(files)
    assert [f for f, a, b in zip(files, ours, theirs, strict=True) if a != b] == []


def test_the_examples_and_labelled_mail_parse_to_the_same_tree(
    bundled_mail: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = bundled_mail
    assert len(files) > 500
    _same_with_the_stock_parser(files, monkeypatch)


@pytest.mark.corpus
def test_every_corpus_file_parses_to_the_same_tree(
    corpus_files: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Malformed MIME: missing, repeated and unterminated boundaries, odd line ends."""
    files = corpus_files
    assert len(files) > 90
    _same_with_the_stock_parser(files, monkeypatch)
