"""Raw bytes to a `Message`: mail-parser first, the standard library where it fails."""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message as StdMessage
from email.utils import getaddresses, parsedate_to_datetime

import html2text
import mailparser

from bot.errors import MessageError
from bot.model import Attachment, Message
from bot.pdf import pdf_text
from bot.zones import html_quote_start  # zones knows the clients' quote markup

log = logging.getLogger(__name__)

_MSGID = re.compile(r"<[^<>\s]+>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words in a header value; never raises."""
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        return value


def raw_8bit(value: str) -> str:
    """A header written in raw 8-bit (RFC 6532 UTF-8, or an old client's Latin-1) arrives with
    its bytes escaped as surrogates; decode them as UTF-8, else as Windows-1252."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
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
    """HTML body to plain text; blockquotes become `>` lines so quotes stay visible, and so
    does everything from a client's quote container on (Outlook's reply header, for one)."""

    def convert(part: str) -> str:
        converter = html2text.HTML2Text()
        converter.body_width = 0
        converter.ignore_images = True
        converter.ignore_links = True
        converter.ignore_emphasis = True
        converter.ignore_tables = True
        try:
            text: str = converter.handle(part)
        except Exception:  # html2text raises bare errors on some broken markup
            text = re.sub(r"<[^>]+>", " ", part)
        # html2text escapes Markdown ("\-- ", "1\. "); a mail keeps its "-- " and "1. " lines
        text = re.sub(r"\\([-+])(?=[\s-])", r"\1", text)
        return re.sub(r"(\d)\\\.(?=\s)", r"\1.", text).replace("\u00a0", " ")

    start = html_quote_start(html)
    if start is None:
        return convert(html)
    history = convert(html[start:]).splitlines()
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in history)
    return f"{convert(html[:start]).rstrip()}\n\n{quoted}\n"


_ADDR_OK = re.compile(r"^[^\s@<>()\[\],;:\\\"]+@[A-Za-z0-9.-]+\.?[A-Za-z0-9-]*$")


def parse_address(value: str) -> tuple[str, str]:
    """(display name, lower-cased address) of a one-address header, or ("", "") when unsafe.

    Strict like `parseaddr(strict=True)` (CVE-2023-27043), which Python 3.11.7 lacks:
    more than one address, or an address with specials in it, gives nothing.
    """
    pairs = getaddresses([value])
    if len(pairs) != 1:
        return "", ""
    name, addr = pairs[0]
    if not _ADDR_OK.match(addr):
        return name, ""
    return name, addr.lower()


def _fingerprint(raw: bytes) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return f"<{hashlib.sha256(head).hexdigest()[:32]}@quotebot.invalid>"


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(_MSGID.findall(value or ""))


def _addresses(values: list[str]) -> tuple[str, ...]:
    found = []
    for _, addr in getaddresses([decode_words(v) for v in values]):
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


def _body_from_std(msg: StdMessage) -> tuple[list[str], list[str], list[Attachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        ctype = part.get_content_type()
        if filename or part.get_content_disposition() == "attachment":
            attachments.append(Attachment(decode_words(filename or ""), ctype, len(data)))
            continue
        if ctype not in ("text/plain", "text/html"):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            text = data.decode("utf-8", "replace")
        (html if ctype == "text/html" else plain).append(text)
    return plain, html, attachments


def _from_mailparser(raw: bytes) -> tuple[StdMessage, list[str], list[str], list[Attachment]]:
    parsed = mailparser.parse_from_bytes(raw)
    attachments = [
        Attachment(
            filename=str(a.get("filename") or ""),
            content_type=str(a.get("mail_content_type") or "application/octet-stream"),
            size=len(a.get("payload") or ""),
        )
        for a in parsed.attachments
    ]
    return parsed.message, list(parsed.text_plain), list(parsed.text_html), attachments


def _with_pdf_text(std: StdMessage, attachments: list[Attachment]) -> list[Attachment]:
    """Attachments with the text layer of each PDF among them (a purchase order, perhaps)."""
    texts: dict[str, str] = {}
    for part in std.walk():
        filename = decode_words(part.get_filename() or "")
        is_pdf = part.get_content_type() == "application/pdf" or filename.lower().endswith(".pdf")
        if is_pdf and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.setdefault(filename, pdf_text(payload))
    if not texts:
        return attachments
    named = [replace(a, text=texts.pop(a.filename, "")) for a in attachments]
    found = [Attachment(name, "application/pdf", 0, text) for name, text in texts.items() if text]
    return named + found


def parse_message(raw: bytes) -> Message:
    """Parse one message; raises MessageError when nothing usable can be read."""
    if not raw.strip():
        raise MessageError("empty message")
    try:
        std, plain, html, attachments = _from_mailparser(raw)
    except Exception as exc:  # mail-parser raises many kinds on bad input; fall back
        log.debug(
            "mail-parser failed (%s); falling back to the standard library", type(exc).__name__
        )
        std = email.message_from_bytes(raw, policy=email.policy.compat32)
        plain, html, attachments = _body_from_std(std)
    attachments = _with_pdf_text(std, attachments)
    headers = tuple(
        (str(k).lower(), clean_header(decode_words(raw_8bit(str(v))))) for k, v in std.raw_items()
    )
    values = dict(reversed(headers))

    def get(name: str) -> str | None:
        return values.get(name)

    from_name, from_addr = parse_address(get("from") or "")
    plain_text = "\n".join(t for t in plain if t.strip())
    from_html = not plain_text.strip() and bool(html)
    text = html_to_text("\n".join(html)) if from_html else plain_text
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
        references=_ids(get("references")),
        headers=headers,
        text=text.replace("\r\n", "\n").replace("\x00", ""),
        from_html=from_html,
        attachments=tuple(attachments),
        content_type=std.get_content_type(),
        defects=tuple(type(d).__name__ for d in getattr(std, "defects", [])),
    )
