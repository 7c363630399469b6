"""A clarify decision to a reply message, from the Jinja2 templates in templates/."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.errors import TemplateError
from bot.model import Decision, Message
from bot.rules import Rules
from bot.threads import quote_number

_UNSAFE = re.compile(r"[\r\n\x00\u2028\u2029\x85\x0b\x0c]+")
MAX_HEADER = 200


@dataclass(frozen=True)
class Sender:
    """Who the reply comes from."""

    address: str
    name: str


def header_safe(value: str, limit: int = MAX_HEADER) -> str:
    """A value safe to copy into a header: no line breaks or NULs, length capped."""
    return " ".join(_UNSAFE.sub(" ", value).split())[:limit]


@cache
def _environment(folder: Path) -> jinja2.Environment:
    return SandboxedEnvironment(  # a shop edits the templates: no access to Python internals
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(folder: Path, name: str, context: dict[str, object]) -> str:
    """A template of the templates folder, rendered; a missing one is a TemplateError."""
    try:
        return _environment(folder).get_template(name).render(context)
    except jinja2.TemplateNotFound:
        raise TemplateError(
            f"{folder / name}: template missing; restore it or set bot.templates_dir"
        ) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{folder / name}: {exc}") from None


def quoted_sentence(decision: Decision) -> str:
    """The sentence of the buyer's message that the reply is about."""
    for statement in decision.statements:
        if statement.scope != "hold":
            return statement.sentence
    return decision.new_text.strip().splitlines()[0] if decision.new_text.strip() else ""


def render_reply(
    message: Message,
    decision: Decision,
    rules: Rules,
    *,
    sender: Sender,
    templates: Path,
    now: datetime,
    cc: tuple[str, ...] = (),
) -> EmailMessage:
    """The clarification reply to `message`, with threading and RFC 3834 headers."""
    questions = [rules.questions[name] for name in decision.missing]
    context: dict[str, object] = {
        "greeting_name": header_safe(message.from_name.split()[0])
        if message.from_name.strip()
        else "there",
        "quote_number": quote_number(message.subject),
        "quoted_sentence": header_safe(quoted_sentence(decision), 400),
        "questions": questions,
        "missing": list(decision.missing),
        "shop_name": sender.name,
        "shop_address": sender.address,
        "stage": decision.stage,
    }
    reply = EmailMessage()
    subject = header_safe(message.subject) or "your message"
    reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reply["From"] = formataddr((sender.name, sender.address))
    reply["To"] = message.from_addr
    if cc:
        reply["Cc"] = ", ".join(cc)
    reply["Date"] = format_datetime(now)
    reply["Message-ID"] = make_msgid(idstring="quotebot", domain=sender.address.rsplit("@", 1)[-1])
    if not message.message_id.endswith("@quotebot.invalid>"):
        reply["In-Reply-To"] = message.message_id
        parents = message.references or ((message.in_reply_to,) if message.in_reply_to else ())
        reply["References"] = " ".join((*parents, message.message_id))
    reply["Auto-Submitted"] = "auto-replied"
    reply["X-Auto-Response-Suppress"] = "All"
    reply["X-Quotebot"] = "clarify"
    reply.set_content(render_template(templates, "clarify.txt.j2", context))
    reply.add_alternative(render_template(templates, "clarify.html.j2", context), subtype="html")
    return reply
