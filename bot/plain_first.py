"""A multipart/alternative message read without its HTML copy.

Most mail is multipart/alternative: the same words as text/plain, then as text/html. The bot
reads the plain part whenever it has words, so parsing the HTML one (often the larger: quoted
history in markup) is work for nothing. Here the HTML part's body is cut from the raw bytes
before the standard parser sees them, when the message is the everyday shape: a top-level
multipart/alternative of exactly two parts, text/plain then text/html. The parse checks what
it got (`Trimmed.holds`) and the caller parses the whole message when the shape was not what
the bytes suggested, or when the plain part turns out to have no words.

On the bench's mail this is 12% of a message's parse (2.70 against 2.38 s for 3,000).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message as StdMessage

_ALTERNATIVE = re.compile(rb"^content-type:\s*multipart/alternative\s*;", re.I | re.M)
# a boundary parameter, quoted or not (bot.parse lists every boundary of a message with it)
BOUNDARY = re.compile(rb'\bboundary\s*=\s*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))', re.I)
_TYPE = re.compile(rb"^content-type:\s*([\w.+-]+/[\w.+-]+)", re.I | re.M)
_BLANK = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class Trimmed:
    """The message's bytes without the HTML part's body, and the boundary they were cut at."""

    data: bytes
    boundary: str

    def holds(self, std: StdMessage) -> bool:
        """Whether the parsed message is the shape the cut assumed, its HTML part now empty."""
        if std.get_content_type() != "multipart/alternative" or std.get_boundary() != self.boundary:
            return False
        parts = std.get_payload()
        if not isinstance(parts, list) or len(parts) != 2:
            return False
        plain, html = parts
        return (
            isinstance(plain, StdMessage)
            and isinstance(html, StdMessage)
            and plain.get_content_type() == "text/plain"
            and html.get_content_type() == "text/html"
            and not html.get_payload()
        )


def without_html(raw: bytes, header_end: int) -> Trimmed | None:
    """`raw` with the body of its text/html alternative cut out, or None when the message is
    not a top-level multipart/alternative of a text/plain then a text/html part (as far as its
    bytes tell: `Trimmed.holds` checks the parse). `header_end`: where its header ends."""
    head = raw[:header_end]
    if not _ALTERNATIVE.search(head):
        return None
    found = BOUNDARY.search(head)
    if found is None:
        return None
    boundary = found[1] or found[2]
    delimiter = b"\n--" + boundary
    close = raw.rfind(delimiter + b"--")
    if close < 0:
        return None
    if raw[close - 1 : close] == b"\r":
        close -= 1  # the line break before a delimiter is the delimiter's
    opening = _delimiter_lines(raw, delimiter, close)
    if len(opening) != 2:
        return None
    first_head = _part_head(raw, opening[0], opening[1])
    last_head = _part_head(raw, opening[1], close)
    if first_head is None or last_head is None:
        return None
    first_type, last_type = _TYPE.search(raw, *first_head), _TYPE.search(raw, *last_head)
    if first_type is not None and first_type[1].lower() != b"text/plain":
        return None
    if last_type is None or last_type[1].lower() != b"text/html":
        return None
    return Trimmed(raw[: last_head[1]] + raw[close:], boundary.decode("ascii", "replace"))


def _delimiter_lines(raw: bytes, delimiter: bytes, close: int) -> list[int]:
    """Where the lines that open a part start (before `close`; a third is not looked for).
    No regular expression: one with the boundary in it would be compiled for each message."""
    found: list[int] = []
    at = raw.find(delimiter, 0, close)
    while at >= 0 and len(found) < 3:
        end = at + len(delimiter)
        while raw[end : end + 1] in (b" ", b"\t"):
            end += 1
        if raw[end : end + 1] == b"\n" or raw[end : end + 2] == b"\r\n":
            found.append(at)
        at = raw.find(delimiter, end, close)
    return found


def _part_head(raw: bytes, start: int, end: int) -> tuple[int, int] | None:
    """Where a part's header runs, from its delimiter line to the blank line (None: no body)."""
    head_start = raw.find(b"\n", start + 1) + 1
    blank = _BLANK.search(raw, head_start - 1, end)
    if head_start <= 0 or blank is None:
        return None
    return head_start, blank.end()
