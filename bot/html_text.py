"""An HTML body as the plain text the zones and extraction read: lxml's parser (libxml2, in C)
and one walk over the tree.

What comes out is what a reader sees: one line per block (paragraph, div, list item, table
row, line break), a blank line between paragraphs, `>` before the lines of a <blockquote> (one
more a level), "* " before a bulleted item and "1. " before a numbered one, no markup, images,
links' targets, scripts, styles or head. Character references are decoded as written
("St&uuml;ck" is "Stück"), a no-break space is a space and typographic quotes are plain ones,
as in the text/plain part of the same mail. Everything from a mail client's quote container
on (Outlook's reply header box, say) is history: its lines come out quoted, below the rest.

A table row is a line, its cells run together as the markup has them ("<td>Clip
hooks</td><td>4 pcs</td>" is "Clip hooks4 pcs"), as html2text wrote them: a number in a cell
is not read as a count. Most tables in buyers' mail are measurements ("Clip hooks | 4 pcs | 4
pcs | OK", tests/data/labelled3/u021), and a count the bot cannot read is asked for, where one
it misreads would be taken as released.

Until the eighth session html2text did this, with the standard library's HTMLParser finding
the quote container in a scan of its own: both tokenise in pure Python, and html2text wrote
Markdown the bot then undid. The bench's 2,408 HTML bodies took 5.0 to 6.7 s that way and 0.9
to 1.2 s here (docs/performance.md).
"""

from __future__ import annotations

import re
from html import unescape

from lxml import etree

from bot.alternation import IGNORECASE_ASCII

# Closed and opened with a blank line, like a paragraph.
_PARAGRAPHS = frozenset(
    (
        *("p", "div", "blockquote", "pre", "table", "ul", "ol", "dl", "dir", "menu", "center"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "address", "form", "fieldset"),
        *("section", "article", "header", "footer", "nav", "aside", "main"),
        *("figure", "figcaption", "details", "summary"),
    )
)
_LISTS = frozenset(("ul", "ol", "dir", "menu"))
_LINES = frozenset(("li", "tr", "dt", "dd", "caption"))  # each on its own line
_BLOCKS = _PARAGRAPHS | _LINES | {"br", "hr"}  # what the walk does more for than its text
# Never read: what the page is about rather than what it says, and code.
_SKIPPED = frozenset(
    ("head", "title", "style", "script", "noscript", "template", "xml", "svg", "math")
)
_SPACES = re.compile(r"[ \t\n\r\f\v]+")  # HTML's white space: a no-break space is not one
_CHARACTERS = (
    ("\u00a0", " "),  # no-break space
    ("\u2018", "'"),
    ("\u2019", "'"),  # the apostrophe of "let\u2019s", as typographic quotes write it
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u200e", ""),  # left-to-right and right-to-left marks
    ("\u200f", ""),
)

# Markup that mail clients put above or around the message they quote, found by structure and
# not by words, so any language is covered: Outlook desktop (the border-top header box), Outlook
# on the web and new Outlook (#appendonsend, #divRplyFwdMsg, the reference container), old
# Outlook, Hotmail, Yahoo and Zimbra. Gmail, Apple Mail and Thunderbird quote in <blockquote>,
# which stays where it is: answers written between its quotes are new text.
QUOTE_CONTAINERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "id",
        re.compile(
            r"^(appendonsend|divRplyFwdMsg|mail-editor-reference-message-container|stopSpelling"
            r"|zwchr)$",
            re.I,
        ),
    ),
    ("class", re.compile(r"\b(OutlookMessageHeader|yahoo_quoted)\b", re.I)),
    ("style", re.compile(r"border-top:\s*solid\s+\S+\s+[\d.]+pt;?\s*padding:\s*3(\.0)?pt", re.I)),
)
# Words one of those attribute values must hold: a body without any of them (its character
# references decoded, as an attribute's value is) has no container, and its elements'
# attributes are not looked at.
_CONTAINER_WORDS = (
    "appendonsend",
    "divrplyfwdmsg",
    "mail-editor-reference-message-container",
    "stopspelling",
    "zwchr",
    "outlookmessageheader",
    "yahoo_quoted",
    "border-top",
)
# The characters outside ASCII that re.IGNORECASE takes for an ASCII letter (str.lower leaves
# the dotless i and the long s as they are, and makes the dotted capital I two characters);
# replaced one by one, as str.translate takes 0.25 ms a body
_IGNORECASE_ASCII = tuple(IGNORECASE_ASCII.items())


def may_hold_container(html: str) -> bool:
    """Whether `html` holds a container's word as QUOTE_CONTAINERS would match it (case folded
    as by re.IGNORECASE): a few microseconds, where looking at every element is not."""
    text = unescape(html)
    if not text.isascii():
        for char, letter in _IGNORECASE_ASCII:
            text = text.replace(char, letter)
    text = text.lower()
    return any(word in text for word in _CONTAINER_WORDS)


def _is_container(element: etree._Element) -> bool:
    for key, pattern in QUOTE_CONTAINERS:
        value = element.get(key)
        if value and pattern.search(value):
            return True
    return False


class _Writer:
    """The text of a walk: blocks ask for line breaks, which are written (or merged with the
    ones before) when the next text comes, so empty blocks leave no blank lines."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.breaks = 0  # line breaks asked for since the last text
        self.breaks_quote = 0  # the <blockquote> depth when the first of them was asked for
        self.space = False  # a space is due before the next text on this line
        self.empty = True  # nothing written yet (since the quote container)
        self.line_open = False  # the current line has text
        self.quote = 0  # <blockquote> depth
        self.lists: list[int | None] = []  # open lists: the next number, or None (bullets)
        self.item = ""  # the marker of a list item whose text has not come yet
        self.pre = 0  # <pre> depth: white space kept
        self.history: int | None = None  # where the quote container's text starts in parts

    def block(self, breaks: int) -> None:
        if not self.breaks:
            self.breaks_quote = self.quote
        if breaks > self.breaks:
            self.breaks = breaks

    def newline(self) -> None:
        """A line break (<br>): written now, so two in a row leave a blank line."""
        if self.breaks:
            self._flush_breaks()
        self.parts.append("\n")
        self.line_open = False
        self.empty = False

    def text(self, data: str) -> None:
        trailing = False
        if not self.pre:
            data = _SPACES.sub(" ", data)
            if data[0] == " ":
                self.space = True
                data = data[1:]
                if not data:
                    return
            if data[-1] == " ":
                trailing = True
                data = data[:-1]
        if self.breaks:
            self._flush_breaks()
        if not self.line_open:
            self.parts.append(self._prefix())
            self.line_open = True
        elif self.space:
            self.parts.append(" ")
        if self.pre and "\n" in data:
            data = data.replace("\n", "\n" + self._prefix())
        self.parts.append(data)
        self.space = trailing
        self.empty = False

    def history_starts(self) -> None:
        """What follows is the quoted message: it starts on a line of its own."""
        self.history = len(self.parts)
        self.breaks, self.space, self.empty, self.line_open = 0, False, True, False

    def _prefix(self) -> str:
        quote = ">" * self.quote + " " if self.quote else ""
        indent = "  " * (len(self.lists) - 1) if len(self.lists) > 1 else ""
        item, self.item = self.item, ""
        return quote + indent + item

    def _flush_breaks(self) -> None:
        if not self.empty:
            blank = ">" * min(self.quote, self.breaks_quote)  # a quote's own lines only
            if self.line_open:
                self.parts.append("\n")
            self.parts.append((blank + "\n") * (self.breaks - 1))
            self.line_open = False
        self.breaks = 0
        self.space = False

    def result(self) -> str:
        if self.history is None:
            return _finished(self.parts) + "\n"
        own = _finished(self.parts[: self.history])
        history = _finished(self.parts[self.history :]).split("\n")
        quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in history)
        return f"{own}\n\n{quoted}\n"


def _finished(parts: list[str]) -> str:
    text = "".join(parts)
    if not text.isascii():
        for char, replacement in _CHARACTERS:
            text = text.replace(char, replacement)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _start(out: _Writer, tag: str) -> None:
    if tag in _PARAGRAPHS:
        out.block(1 if out.lists and tag in _LISTS else 2)  # a list inside an item: no gap
        if tag == "blockquote":
            out.quote += 1
        elif tag in _LISTS:
            out.lists.append(1 if tag == "ol" else None)
        elif tag == "pre":
            out.pre += 1
    elif tag in _LINES:
        out.block(1)
        if tag == "li" and out.lists:
            number = out.lists[-1]
            out.item = "* " if number is None else f"{number}. "
            if number is not None:
                out.lists[-1] = number + 1
    elif tag == "br":
        out.newline()
    elif tag == "hr":
        out.block(2)
        out.text("* * *")
        out.block(2)


def _end(out: _Writer, tag: str) -> None:
    if tag in _PARAGRAPHS:
        out.block(2)
        if tag == "blockquote":
            out.quote -= 1
        elif tag in _LISTS and out.lists:
            out.lists.pop()
        elif tag == "pre":
            out.pre -= 1
    elif tag in _LINES:
        out.block(1)


def html_text(html: str, *, containers: bool | None = None) -> str:
    """The text of an HTML document or fragment (see the module's docstring). `containers`:
    look for a quote container at every element (None: only when `may_hold_container`).
    Raises ValueError when there is nothing to parse, or what lxml raises on markup it
    refuses."""
    if containers is None:
        containers = may_hold_container(html)
    parser = etree.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True
    )
    root = etree.fromstring(html.encode("utf-8", "replace"), parser)
    if root is None:
        raise ValueError("no HTML to read")
    out = _Writer()
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, element in walk:
        tag = element.tag
        if not isinstance(tag, str):  # an entity lxml kept as a node
            continue
        if event == "start":
            if tag in _SKIPPED:
                walk.skip_subtree()
                continue
            if containers and out.history is None and _is_container(element):
                out.history_starts()
            if tag in _BLOCKS:
                _start(out, tag)
            if element.text:
                out.text(element.text)
            continue
        if tag in _BLOCKS:
            _end(out, tag)
        if element.tail:
            out.text(element.tail)
    return out.result()
