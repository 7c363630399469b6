"""Where mail-parser-reply puts a body's first quote header, without its full read.

The library's `read()` splits a body at every quote header ("On ... wrote:", an Outlook
From:/Sent: block, in each configured language) and runs a signature and a disclaimer search
over every part. The zones need only the header of its second part: the first quoted message.
Here its own pattern runs only where a match can start (every alternative begins at a line
start or a line break) and stops after two parts, with the library's own rules for which
headers open a part. In a backlog this was the largest cost of reading a message (1.1 ms of
a 1.5 KB body with the eight languages of rules/zones.toml, against about 0.1 ms here);
tests/test_fast_paths.py checks it against `read()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from mailparser_reply import EmailReplyParser
from mailparser_reply.parser import EmailMessage


@cache
def known_languages(languages: tuple[str, ...]) -> tuple[str, ...]:
    """The configured languages the library knows (its parser drops the others)."""
    return tuple(EmailReplyParser(languages=list(languages)).languages)


def body(text: str, languages: tuple[str, ...]) -> EmailMessage:
    """The library's view of a body: its lines normalised as `read()` sees them, with the
    header pattern of its languages (built once: the library builds it for each body)."""
    return EmailMessage(
        text=text,
        languages=list(known_languages(languages)),
        _header_regex=_header_pattern(languages),
    )


@cache
def _header_pattern(languages: tuple[str, ...]) -> re.Pattern[str]:
    pattern: re.Pattern[str] = EmailMessage(
        text="", languages=list(known_languages(languages))
    ).HEADER_REGEX
    return pattern


def library_header(text: str, languages: tuple[str, ...]) -> str:
    """The header of the second part `read()` makes of `text` ("" when it makes one part or
    the header is blank): `read(text).replies[1].headers`."""
    message = body(text, languages)
    pattern = message.HEADER_REGEX
    if pattern.groups < 2:  # findall would hand back strings: the library's own read, then
        replies = message.read().replies
        return replies[1].headers if len(replies) > 1 else ""
    return _second_part_header(message.text, _headers(pattern, message.text))


def _headers(pattern: re.Pattern[str], text: str) -> Iterator[str]:
    """`chain.from_iterable(pattern.findall(text))` without the empty groups, lazily."""
    for match in _line_matches(pattern, text):
        yield from (group for group in match.groups() if group)


def _line_matches(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)` for a pattern whose matches start only at a line start or at a
    line break: tried at those positions alone."""
    pos = _candidate(text, 0)
    while pos != -1 and pos <= len(text):
        match = pattern.match(text, pos)
        if match is None:
            pos = _candidate(text, pos + 1)
            continue
        yield match
        pos = _candidate(text, match.end() if match.end() > pos else pos + 1)


def _candidate(text: str, pos: int) -> int:
    """The first position from `pos` at a line start or a line break (-1: none)."""
    if pos >= len(text) or pos == 0 or text[pos - 1] == "\n" or text[pos] == "\n":
        return pos
    return text.find("\n", pos)


def _second_part_header(text: str, headers: Iterator[str]) -> str:
    """What `read()` gives as the second part's header, from the headers in order: a part
    runs from one header's first occurrence to the next's, and a blank one is dropped."""
    parts, current, previous = 0, 0, ""
    for header in headers:
        position = text.find(header, current + 1 if current > 0 else current)
        content = text[current:position]
        opened_by, previous = previous, header
        current = position if position >= 0 else 0
        if not content.strip():
            continue
        parts += 1
        if parts == 2:
            return opened_by.strip()
        if position >= 0 and not header[:1].isspace():
            # the next part starts with this header's own first character: it is not blank,
            # so this header is the answer whatever follows (a quoted history is long)
            return header.strip()
    return previous.strip() if parts == 1 else ""
