"""Raw bytes to a `Message`: mail-parser first, the standard library where it fails."""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message as StdMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import mailparser

from bot import boundaries
from bot.errors import MessageError
from bot.html_text import html_text
from bot.model import Attachment, Message
from bot.pdf import pdf_text
from bot.plain_first import BOUNDARY, Trimmed, without_html
from bot.sentences import MAX_TEXT_CHARS, clip_text

log = logging.getLogger(__name__)
boundaries.install()  # the standard parser's boundary lines without a regex compile each

# Bounds on what one message may cost, whatever arrives (tests/test_bad_input.py).
MAX_MESSAGE_BYTES = 25_000_000  # [mailbox] max_message_bytes; parsing costs ~9x the size
TRUNCATED_BODY_BYTES = 256 * 1024  # of an oversized message's body, as the IMAP adapter fetches
MAX_HEADER_BYTES = 256 * 1024  # Postfix stops at 100 KB (header_size_limit)
MAX_CONTAINERS = 64  # multipart/* and message/* parts; deeper nesting overflows the parser's stack
MAX_PARTS = 1_000  # MIME parts parsed and walked; each costs the parser a Message object
MAX_HTML_CHARS = 1_000_000  # of HTML converted to text
MAX_PDFS = 3  # attached PDFs read for a purchase order
# Message-IDs kept of a References header: the first (the thread's root) and the last 19, as
# RFC 5322 3.6.4 lets a client drop the middle. A reply carries no more, and no more are
# linked to the thread: a buyer's client that never trims (3,000 IDs, 100 KB) made the bot's
# reply a header over Postfix's 100 KB limit, and a row in the database for each ID
MAX_REFERENCES = 20

_MSGID = re.compile(r"<[^<>\s]+>")
_SURROGATE = re.compile("[\udc80-\udcff]")  # a raw 8-bit byte, escaped by the email package
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# The email package ends a line at CR, LF or CRLF: so do these (matching from the line end
# before, which keeps them fast), or a CR-only message slips by.
_LINE = rb"[\r\n]"
_CONTAINER = re.compile(_LINE + rb"content-type:\s*(?:multipart|message)/", re.I)
_ODD_BOUNDARY = re.compile(rb"\bboundary\*", re.I)  # RFC 2231-encoded: no client writes it
_ANY_DELIMITER = re.compile(_LINE + rb"--")
_PDF_TYPE = re.compile(rb"application/pdf", re.I)  # a PDF part without a .pdf name has it
_PDF_HINT = re.compile(rb"/[Pp][Dd][Ff]")  # led by "/": found fast, unlike _PDF_TYPE (23 us)


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words in a header value; never raises."""
    if "=?" not in value:  # no encoded-word: the value as it is (most headers, fast)
        return value
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        return value


def raw_8bit(value: str) -> str:
    """A header written in raw 8-bit (RFC 6532 UTF-8, or an old client's Latin-1) arrives with
    its bytes escaped as surrogates; decode them as UTF-8, else as Windows-1252."""
    if not _SURROGATE.search(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def clean_header(value: str) -> str:
    """Unfold a header value and drop control characters."""
    return _CONTROL.sub("", " ".join(value.split()))


def html_to_text(html: str) -> str:
    """HTML body to plain text (bot.html_text): blockquotes become `>` lines so quotes stay
    visible, and so does everything from a client's quote container on (Outlook's reply
    header, for one)."""
    try:
        return html_text(html)
    except Exception:  # lxml refuses a few broken documents (or finds none): the words
        return re.sub(r"<[^>]+>", " ", html).replace("\u00a0", " ")


_ADDR_OK = re.compile(r"^[^\s@<>()\[\],;:\\\"]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")


# An address list in its everyday form: "Name <local@domain>" or "local@domain", comma
# separated, with no quotes, comments, groups, routes or literals. For these the standard
# parser's answer is the words of the name joined by one space and the address as written;
# anything else goes to it (tests/test_parse.py checks the two agree on generated values).
_FWS = "[ \t\r\n]"
_WORDS = rf"[^\s()<>@,:;\"\[\]\\]+(?:{_FWS}+[^\s()<>@,:;\"\[\]\\]+)*"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE = re.compile(rf"{_FWS}*(?:(?:({_WORDS}){_FWS}*)?<({_ADDR})>|({_ADDR})){_FWS}*")
_NOT_SIMPLE = frozenset('"()[]:;\\')  # quotes, comments, literals, groups, quoted pairs


def _getaddresses(value: str) -> list[tuple[str, str]]:
    """`email.utils.getaddresses([value])`, without its parser for the everyday forms (8% of
    a message's parse in cProfile on the bench's mail; 4.4% fewer instructions without it)."""
    if value and _NOT_SIMPLE.isdisjoint(value):
        pairs = []
        for item in value.split(","):
            found = _SIMPLE.fullmatch(item)
            if found is None:
                break
            name, routed, bare = found.groups()
            pairs.append((" ".join((name or "").split()), routed or bare))
        else:
            return pairs
    return getaddresses([value])


def parse_address(value: str) -> tuple[str, str]:
    """(display name, lower-cased address) of a one-address header, or ("", "") when unsafe.

    Strict like `parseaddr(strict=True)` (CVE-2023-27043), which Python 3.11.7 lacks:
    more than one address, or an address with specials in it, gives nothing.
    """
    pairs = _getaddresses(value)
    if len(pairs) != 1:
        return "", ""
    name, addr = pairs[0]
    if not _ADDR_OK.match(addr):
        return name, ""
    return name, addr.lower()


def _header_end(raw: bytes) -> int:
    """Where the header section ends (the blank line), or len(raw) when there is none."""
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n", 0, len(raw) if crlf < 0 else crlf)  # only one before it counts
    ends = [i for i in (crlf, lf) if i >= 0]
    return min(ends, default=len(raw))


def _fingerprint(raw: bytes) -> str:
    head = raw[: _header_end(raw)]
    return f"<{hashlib.sha256(head).hexdigest()[:32]}@quotebot.invalid>"


def _line_start(data: bytes, at: int) -> int:
    return max(data.rfind(b"\n", 0, at), data.rfind(b"\r", 0, at)) + 1


def _delimiters(data: bytes) -> re.Pattern[bytes]:
    """The lines that may open a MIME part: those of the boundaries declared, or every line
    that starts with "--" when boundaries are RFC 2231-encoded or too many to list."""
    found: set[bytes] = set()
    for match in BOUNDARY.finditer(data):
        found.add(b"--" + (match[1] or match[2]))
        if len(found) > 4 * MAX_CONTAINERS:
            return _ANY_DELIMITER
    if _ODD_BOUNDARY.search(data):
        return _ANY_DELIMITER
    listed = b"|".join(map(re.escape, sorted(found))) or b"(?!)"
    return re.compile(_LINE + b"(?:" + listed + b")")


# what `bounded` cuts, as defect names: the message was decided from part of it
CUT_DEFECTS = frozenset({"HeaderTruncated", "MessageTruncated", "TooDeeplyNested", "TooManyParts"})


def bounded(raw: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> tuple[bytes, tuple[str, ...]]:
    """`raw` cut so that parsing it stays small, and what was cut, as defect names: a header
    section past MAX_HEADER_BYTES, a message past `max_bytes` (its header and the first
    TRUNCATED_BODY_BYTES of its body are kept), the part that opens the (MAX_CONTAINERS + 1)th
    multipart or message/rfc822, and the (MAX_PARTS + 1)th MIME part onwards."""
    cuts: list[str] = []
    end = _header_end(raw)
    head_end = end
    if end > MAX_HEADER_BYTES:
        head_end = len(raw[: _line_start(raw, MAX_HEADER_BYTES)].rstrip(b"\r\n"))
        cuts.append("HeaderTruncated")
    body_end = len(raw)
    if len(raw) > max_bytes:
        body_end = min(body_end, end + TRUNCATED_BODY_BYTES)
        cuts.append("MessageTruncated")
    data = raw[:head_end] + raw[end:body_end] if cuts else raw  # no copy of a whole message
    lower = data.lower()  # every container's header names one of these: fewer, no cut
    if lower.count(b"multipart/") + lower.count(b"message/") > MAX_CONTAINERS:
        for count, found in enumerate(_CONTAINER.finditer(data), 1):
            if count > MAX_CONTAINERS:
                data = data[: _line_start(data, found.start() + 1)]
                cuts.append("TooDeeplyNested")
                break
    # every part opens on a "--" line (what _ANY_DELIMITER finds, counted without a regex)
    if data.count(b"\n--") + data.count(b"\r--") <= MAX_PARTS:
        return data, tuple(cuts)
    for count, found in enumerate(_delimiters(data).finditer(data), 1):
        if count > MAX_PARTS:
            data = data[: found.start() + 1]
            cuts.append("TooManyParts")
            break
    return data, tuple(cuts)


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(_MSGID.findall(value or ""))


def _references(value: str | None) -> tuple[str, ...]:
    ids = _ids(value)
    if len(ids) <= MAX_REFERENCES:
        return ids
    return (ids[0], *ids[1 - MAX_REFERENCES :])


def _addresses(values: list[str]) -> tuple[str, ...]:
    found = []
    for _, addr in _getaddresses(", ".join(_scrub(decode_words(raw_8bit(str(v)))) for v in values)):
        if _ADDR_OK.match(addr):
            found.append(addr.lower())
    return tuple(found)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def decode_text(data: bytes, charset: str | None) -> str:
    """Bytes of a text part in their declared charset, else UTF-8, else Windows-1252; never
    raises on an unknown or wrong charset."""
    for name in (charset, "utf-8"):
        if not name:
            continue
        try:
            text = data.decode(name)
            text.encode("utf-8")  # UTF-7 and others can give lone surrogates
        except (LookupError, ValueError):  # unknown codec, bad bytes, a NUL in the name
            continue
        return text
    return data.decode("cp1252", "replace")


def _scrub(text: str) -> str:
    """Text without NUL or lone surrogates, safe for the database, JSON and SMTP."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def walk(msg: StdMessage) -> Iterator[tuple[StdMessage, int]]:
    """Each part, depth first, with how many message/rfc822 parts it sits in; at most MAX_PARTS
    parts and without recursion (the bytes were `bounded`, this bounds our own work)."""
    stack = [(msg, 0)]
    for _ in range(MAX_PARTS):
        if not stack:
            return
        part, inside = stack.pop()
        yield part, inside
        payload = part.get_payload()
        if isinstance(payload, list):
            inner = inside + (part.get_content_maintype() == "message")
            stack.extend((p, inner) for p in reversed(payload) if isinstance(p, StdMessage))


def _text_of(part: StdMessage) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    return decode_text(data, part.get_content_charset())


def _is_attachment(part: StdMessage) -> bool:
    return bool(part.get_filename()) or part.get_content_disposition() == "attachment"


def _body_from_std(msg: StdMessage) -> tuple[list[str], list[str], list[Attachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for part, _ in walk(msg):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if _is_attachment(part):
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            attachments.append(Attachment(decode_words(part.get_filename() or ""), ctype, size))
            continue
        if ctype in ("text/plain", "text/html"):
            (html if ctype == "text/html" else plain).append(_text_of(part))
    return plain, html, attachments


def _has_attached_message(msg: StdMessage) -> bool:
    return any(inside for _, inside in walk(msg))


def _text_with_attached_messages(msg: StdMessage) -> tuple[str, bool]:
    """The body text when the message carries messages (a forward as attachment, a bounce):
    the sender's own text, then each carried message's text quoted with one `>` per level, so
    it counts as history and never as what the sender states."""
    own: dict[str, list[str]] = {"text/plain": [], "text/html": []}
    carried: list[str] = []
    size = 0
    for part, inside in walk(msg):
        ctype = part.get_content_type()
        if part.is_multipart() or ctype not in own or _is_attachment(part):
            continue
        if not inside:
            own[ctype].append(_text_of(part))
            continue
        if size > MAX_TEXT_CHARS:
            continue  # more than the text keeps: not worth converting
        text = _text_of(part)
        text = html_to_text(text[:MAX_HTML_CHARS]) if ctype == "text/html" else text
        carried.extend(f"{'>' * inside} {line}".rstrip() for line in text.splitlines())
        size += len(text)
    plain = "\n".join(t for t in own["text/plain"] if t.strip())
    from_html = not plain.strip() and bool(own["text/html"])
    text = _html_body(own["text/html"]) if from_html else plain
    return "\n\n".join(t for t in (text.rstrip(), "\n".join(carried)) if t), from_html


def _html_body(html: list[str]) -> str:
    return html_to_text("\n".join(html)[:MAX_HTML_CHARS])


class _BodyParser(mailparser.MailParser):  # type: ignore[misc]  # mail-parser is untyped
    """mail-parser's walk over the parts of a parsed message (body text, attachments, the
    parts' defects), without the header analysis its constructor also runs: address, date and
    Received parsing, and the summary of everything. The bot reads the headers itself, and
    those took 0.27 of mail-parser's 0.35 ms a message (the bench's mail, after the standard
    parse). It overrides two of mail-parser's own methods, so pyproject pins mail-parser, and
    tests/test_parse.py checks the body against the stock parser's on every file we have."""

    def _reset(self) -> None:
        """What the walk fills in (mail-parser's `_reset` also parses the headers)."""
        self._attachments: list[dict[str, Any]] = []
        self._text_plain: list[str] = []
        self._text_html: list[str] = []
        self._text_not_managed: list[str] = []
        self._defects: list[dict[str, Any]] = []
        self._defects_categories: set[str] = set()
        self._has_defects = False
        self._mail: dict[str, Any] = {}
        self._mail_partial: dict[str, Any] = {}

    def _make_mail(self, complete: bool = True) -> dict[str, Any]:
        return {}  # the summary of every header and part: nothing here reads it


def _from_mailparser(std: StdMessage) -> tuple[list[str], list[str], list[Attachment]]:
    """Body text and attachments by mail-parser's walk over the parsed message."""
    parsed = _BodyParser(std)
    attachments = [
        Attachment(
            filename=str(a.get("filename") or ""),
            content_type=str(a.get("mail_content_type") or "application/octet-stream"),
            size=len(a.get("payload") or ""),
        )
        for a in parsed.attachments
    ]
    return list(parsed.text_plain), list(parsed.text_html), attachments


def _with_pdf_text(std: StdMessage, attachments: list[Attachment]) -> list[Attachment]:
    """Attachments with the text layer of each PDF among them (a purchase order, perhaps);
    the first MAX_PDFS PDFs are read."""
    texts: dict[str, str] = {}
    for part, _ in walk(std):
        filename = decode_words(part.get_filename() or "")
        is_pdf = part.get_content_type() == "application/pdf" or filename.lower().endswith(".pdf")
        if is_pdf and not part.is_multipart() and filename not in texts:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts[filename] = pdf_text(payload)
            if len(texts) == MAX_PDFS:
                break
    if not texts:
        return attachments
    named = [replace(a, text=texts.pop(a.filename, "")) for a in attachments]
    found = [Attachment(name, "application/pdf", 0, text) for name, text in texts.items() if text]
    return named + found


# Headers whose text is structured and never encoded by a sender: decoding RFC 2047 in them
# would let an attacker-chosen part (an envelope sender in Authentication-Results) add results.
_NOT_ENCODED = frozenset({"authentication-results", "arc-authentication-results"})


def _header_value(name: str, value: str) -> str:
    if value.isascii() and "=?" not in value:  # most headers: nothing to decode or scrub
        return clean_header(value)
    text = raw_8bit(value)
    if name.lower() not in _NOT_ENCODED:
        text = decode_words(text)
    return _scrub(clean_header(text))


def parse_message(raw: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """Parse one message; raises MessageError when nothing usable can be read. The work is
    bounded: see `bounded` for the bytes parsed and bot.sentences.clip_text for the text kept.
    A message past `max_bytes` is read from its header and the start of its body."""
    if not raw or raw.isspace():  # not raw.strip(): that copies a 50 MB message
        raise MessageError("empty message")
    data, cuts = bounded(raw, max_bytes)
    try:
        trimmed = without_html(data, _header_end(data))
        if trimmed is not None:
            try:
                return _parse(trimmed.data, cuts, trimmed)
            except _NotTrimmed:
                pass  # the bytes misled the cut, or the plain part has no words: all of it
        return _parse(data, cuts)
    except Exception as exc:  # a parser bug on one hostile message is that message's error
        raise MessageError(f"cannot parse: {type(exc).__name__}: {str(exc)[:200]}") from None


class _NotTrimmed(Exception):
    """A message parsed without its HTML alternative must be parsed whole after all."""


def _parse(raw: bytes, cuts: tuple[str, ...], trimmed: Trimmed | None = None) -> Message:
    """The message of `raw` (`trimmed`: its bytes without the HTML alternative's body, whose
    parse raises _NotTrimmed unless it is the shape the cut assumed and has plain words)."""
    std = email.message_from_bytes(raw, policy=email.policy.compat32)  # as mail-parser does
    if trimmed is not None and not trimmed.holds(std):
        raise _NotTrimmed
    try:
        plain, html, attachments = _from_mailparser(std)
    except Exception as exc:  # mail-parser raises many kinds on bad input; fall back
        log.debug(
            "mail-parser failed (%s); falling back to the standard library", type(exc).__name__
        )
        plain, html, attachments = _body_from_std(std)
    headers = tuple((str(k).lower(), _header_value(str(k), str(v))) for k, v in std.raw_items())
    values = dict(reversed(headers))  # the first of a repeated header (Message-ID) wins

    def get(name: str) -> str | None:
        return values.get(name)

    from_name, from_addr = parse_address(get("from") or "")
    declared = _PDF_HINT.search(raw) and _PDF_TYPE.search(raw)
    if declared or any(".pdf" in a.filename.lower() for a in attachments):
        attachments = _with_pdf_text(std, attachments)  # most mail has no PDF: no second walk
    if _has_attached_message(std):
        text, from_html = _text_with_attached_messages(std)
    else:
        plain_text = "\n".join(t for t in plain if t.strip())
        from_html = not plain_text.strip() and bool(html)
        if trimmed is not None and not plain_text.strip():
            raise _NotTrimmed  # the HTML part has the words after all
        text = _html_body(html) if from_html else plain_text
    text = _scrub(text.replace("\r\n", "\n"))
    kept = clip_text(text)
    if kept != text:
        cuts = (*cuts, "TextTruncated")
    ids = _ids(get("message-id"))
    return Message(
        message_id=ids[0] if ids else _fingerprint(raw),
        subject=get("subject") or "",
        from_addr=from_addr,
        from_name=from_name,
        to=_addresses(std.get_all("to") or []),
        cc=_addresses(std.get_all("cc") or []),
        date=_date(get("date")),
        in_reply_to=(_ids(get("in-reply-to")) or (None,))[0],
        references=_references(get("references")),
        headers=headers,
        text=kept,
        from_html=from_html,
        attachments=tuple(attachments),
        content_type=std.get_content_type(),
        defects=(*(type(d).__name__ for d in getattr(std, "defects", [])), *cuts),
    )
