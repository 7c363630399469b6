"""The standard parser's multipart boundary lines, matched without a regex compiled for each.

`email.feedparser` compiles `(?P<sep>--BOUNDARY)(?P<end>--)?(?P<ws>[ \\t]*)(?P<linesep>...)?$`
for every multipart part it reads. A boundary is unique to its message, so `re`'s cache never
hits, and the compile (Python's own regex parser over an escaped 40 to 70 character literal)
costs 0.29 ms: a third of the standard parse of the bench's mail (0.6 of 1.8 s for 3,000
messages, 2,069 compiles). mail-parser, and so the bot, parses with `email.feedparser`.

`install()` hands the feedparser a `re` whose `compile` recognises that one pattern, by its
exact text, and returns a `BoundaryLine`: `str.startswith` on the separator, then one
precompiled pattern for the rest of the line. It matches the same lines with the same `end`
and `linesep` groups, the only ones the feedparser reads; any other use of it falls back to
the compiled pattern. Any other pattern, or the boundary pattern in a form a later Python
writes differently, is compiled as before. tests/test_boundaries.py checks the two agree on
generated lines and that every corpus file parses to the same tree either way.
"""

from __future__ import annotations

import email.feedparser
import re
import types
from functools import cached_property
from typing import Any

# The feedparser's pattern around the escaped separator, as CPython 3.11 writes it.
_HEAD, _TAIL_TEXT = "(?P<sep>", r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_STDLIB_FORM = re.compile(re.escape(_HEAD) + "(.*)" + re.escape(_TAIL_TEXT), re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)  # re.escape puts a backslash before a character
_TAIL = re.compile(_TAIL_TEXT[1:])  # what follows the separator


class BoundaryLine:
    """A compiled boundary pattern's `match(line)`, for one separator ("--" + boundary)."""

    def __init__(self, pattern: str, separator: str) -> None:
        self.pattern = pattern
        self.separator = separator

    def match(self, line: str, *args: Any) -> re.Match[str] | None:
        if args:
            return self.compiled.match(line, *args)
        if not line.startswith(self.separator):
            return None
        return _TAIL.match(line, len(self.separator))

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def __getattr__(self, name: str) -> Any:  # search, fullmatch, groupindex...: the real one
        return getattr(self.compiled, name)


def boundary_line(pattern: str) -> BoundaryLine | None:
    """The matcher for `pattern` if it is the feedparser's boundary pattern, else None."""
    form = _STDLIB_FORM.fullmatch(pattern)
    if form is None:
        return None
    return BoundaryLine(pattern, _ESCAPED.sub(r"\1", form.group(1)))


def _compile(pattern: Any, flags: int = 0) -> Any:
    if flags == 0 and isinstance(pattern, str):
        found = boundary_line(pattern)
        if found is not None:
            return found
    return re.compile(pattern, flags)


def install() -> None:
    """Give email.feedparser the boundary matcher (once; the rest of `re` is untouched)."""
    feedparser: Any = email.feedparser  # its `re` is not in the typeshed stubs
    if not isinstance(feedparser.re, _FeedparserRe):
        feedparser.re = _FeedparserRe()


class _FeedparserRe(types.ModuleType):
    """`re` as the feedparser sees it: every name is re's, but `compile`."""

    def __init__(self) -> None:
        super().__init__("re")
        self.compile = _compile

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)
