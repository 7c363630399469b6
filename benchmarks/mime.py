"""Raw MIME as mail clients write it: quoted-printable text parts, multipart/alternative, base64
attachments, the headers receiving servers add; the quoted history of Gmail, Outlook and
iPhone replies, in plain text and in HTML."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime
from html import escape

OUTLOOK_HEAD = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>'
    '</head>\n<body dir="ltr">'
)
OUTLOOK_FONT = (
    '<div style="font-family: Aptos, Calibri, Helvetica, sans-serif; font-size: 11pt; '
    'color: rgb(0, 0, 0);">'
)
GMAIL_BLOCKQUOTE = (
    '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
    'rgb(204,204,204);padding-left:1ex">'
)


@dataclass(frozen=True)
class Sent:
    """A message already written in a thread: what the next reply quotes and refers to."""

    message_id: str
    references: tuple[str, ...]
    sender: str  # "Name <address>"
    to: str
    subject: str
    date: datetime
    plain: str
    html: str  # the body's HTML without <html>/<body>, for nesting in a reply


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def address(name: str, email: str) -> str:
    """A From/To value, the name encoded when it is not ASCII."""
    if name.isascii():
        return f"{name} <{email}>"
    return f"{Header(name, 'utf-8').encode()} <{email}>"


def gmail_attribution(prev: Sent) -> str:
    when = prev.date.strftime("%a, %b %-d, %Y at %-I:%M %p")
    return f"On {when} {prev.sender} wrote:"


def iphone_attribution(prev: Sent) -> str:
    when = prev.date.strftime("%b %-d, %Y, at %-I:%M %p")
    return f"On {when}, {prev.sender} wrote:"


def outlook_block(prev: Sent, *, original: bool) -> list[str]:
    sent = prev.date.strftime("%A, %B %-d, %Y %-I:%M %p")
    rule = "-----Original Message-----" if original else "_" * 32
    fields = (f"From: {prev.sender}", f"Sent: {sent}", f"To: {prev.to}")
    return [rule, *fields, f"Subject: {prev.subject}", ""]


def quote_plain(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def plain_reply(new: str, prev: Sent | None, client: str, *, iphone_footer: bool) -> str:
    """The plain body: the new text, then the history in the client's style."""
    parts = [new.rstrip()]
    if iphone_footer:
        parts.append("Sent from my iPhone")
    if prev is None:
        return "\n\n".join(parts) + "\n"
    if client == "outlook":
        block = outlook_block(prev, original=len(prev.message_id) % 2 == 0)
        parts.append("\n".join(block) + prev.plain.rstrip())
    else:
        who = iphone_attribution(prev) if client == "iphone" else gmail_attribution(prev)
        parts.append(f"{who}\n\n{quote_plain(prev.plain)}")
    return "\n\n".join(parts) + "\n"


def html_lines(lines: Sequence[str], tag: str) -> str:
    return "".join(f"<{tag}>{escape(line) or '<br>'}</{tag}>" for line in lines)


def html_reply(new: str, prev: Sent | None, client: str) -> str:
    """The HTML body (without its <html> wrapper): the new text, then the history the way
    Gmail (a blockquote) or Outlook (the divRplyFwdMsg header box) nests it."""
    lines = new.rstrip().splitlines()
    if client == "outlook":
        body = OUTLOOK_FONT + html_lines(lines, "p") + "</div>\n"
        if prev is None:
            return body
        sent = prev.date.strftime("%A, %B %-d, %Y %-I:%M %p")
        header = (
            '<div id="appendonsend"></div>\n<hr style="display:inline-block;width:98%" '
            'tabindex="-1">\n<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif"'
            f' style="font-size:11pt" color="#000000"><b>From:</b> {escape(prev.sender)}<br>'
            f"<b>Sent:</b> {sent}<br><b>To:</b> {escape(prev.to)}<br>"
            f"<b>Subject:</b> {escape(prev.subject)}</font><div>&nbsp;</div></div>\n"
        )
        return body + header + f'<div class="BodyFragment">{prev.html}</div>\n'
    body = '<div dir="ltr">' + html_lines(lines, "div") + "</div>"
    if prev is None:
        return body
    who = escape(gmail_attribution(prev))
    return (
        f'{body}<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">{who}<br></div>'
        f"{GMAIL_BLOCKQUOTE}{prev.html}</blockquote></div>\n"
    )


def as_html_document(inner: str, client: str) -> str:
    if client == "outlook":
        return f"{OUTLOOK_HEAD}{inner}</body></html>\n"
    return inner + "\n"


def text_part(text: str, subtype: str) -> bytes:
    body = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    return (
        (
            f'Content-Type: text/{subtype}; charset="utf-8"\n'
            "Content-Transfer-Encoding: quoted-printable\n\n"
        ).encode()
        + body.rstrip(b"\n")
        + b"\n"
    )


def attachment_part(item: Attachment) -> bytes:
    return (
        f'Content-Type: {item.content_type}; name="{item.filename}"\n'
        f'Content-Disposition: attachment; filename="{item.filename}"\n'
        "Content-Transfer-Encoding: base64\n\n"
    ).encode() + base64.encodebytes(item.data)


def multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> bytes:
    head = f'Content-Type: multipart/{subtype};\n boundary="{boundary}"\n\n'.encode()
    sep = f"--{boundary}\n".encode()
    body = b"".join(sep + part + b"\n" for part in parts)
    return head + body + f"--{boundary}--\n".encode()


def headers(
    *,
    sender: str,
    to: str,
    subject: str,
    date: datetime,
    message_id: str,
    references: tuple[str, ...],
    extra: Sequence[tuple[str, str]],
) -> bytes:
    """The header block a delivered message carries, receiving servers' lines first."""
    domain = message_id.rsplit("@", 1)[-1].rstrip(">")
    stamp = format_datetime(date)
    lines = [
        f"Return-Path: <{sender.rsplit('<', 1)[-1].rstrip('>')}>",
        f"Received: from mail.{domain} (mail.{domain} [198.51.100.{len(domain) * 7 % 250}])\n"
        f"\tby mx.printshop.example with ESMTPS id {message_id[1:13]}\n"
        f"\tfor <quotes@printshop.example>; {stamp}",
        f"Authentication-Results: mx.printshop.example;\n\tdkim=pass header.d={domain};\n"
        f"\tspf=pass smtp.mailfrom={domain};\n\tdmarc=pass header.from={domain}",
        f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=sel1;\n"
        f"\th=from:to:subject:date:message-id; bh={_fake_b64(message_id, 44)};\n"
        f"\tb={_fake_b64(message_id + 'b', 340)}",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {stamp}",
        f"Message-ID: {message_id}",
    ]
    if references:
        lines.append(f"In-Reply-To: {references[-1]}")
        lines.append("References: " + "\n ".join(references))
    lines.extend(f"{name}: {value}" for name, value in extra)
    lines.append("MIME-Version: 1.0")
    return ("\n".join(lines) + "\n").encode()


def _fake_b64(seed: str, length: int) -> str:
    """Signature-looking base64, folded like a DKIM b= tag."""
    raw = base64.b64encode((seed * (length // len(seed) + 1)).encode())[:length].decode()
    return "\n\t ".join(raw[i : i + 70] for i in range(0, len(raw), 70))
