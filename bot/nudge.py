"""Reminders for clarifications nobody answered (pure): which threads are due, and the mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path

from bot.render import Sender, header_safe, render_template
from bot.rules import Rules
from bot.threads import quote_number


@dataclass(frozen=True)
class Awaiting:
    """A thread waiting on the buyer's answer to the bot's clarification."""

    thread_key: str
    asked_at: datetime  # when the last clarification went out
    recipient: str  # who was asked
    clarification: str  # the clarification as sent (its headers thread the reminder)
    missing: tuple[str, ...]  # the questions it asked
    nudges: int = 0  # reminders already sent
    last_nudge_at: datetime | None = None


def due(threads: list[Awaiting], *, now: datetime, after: timedelta, most: int) -> list[Awaiting]:
    """Threads whose clarification (or last reminder) has waited `after` and that have had
    fewer than `most` reminders; after that the digest asks the ops lead to call."""
    return [
        t
        for t in threads
        if t.nudges < most and now - max(t.asked_at, t.last_nudge_at or t.asked_at) >= after
    ]


def render_nudge(
    thread: Awaiting, rules: Rules, *, sender: Sender, templates: Path, now: datetime
) -> EmailMessage:
    """A polite reminder in the same thread, under the clarification it follows up."""
    asked = message_from_string(thread.clarification, policy=policy.default)
    subject = header_safe(str(asked["Subject"] or "")) or "your quote"
    name = parseaddr(str(asked["To"] or ""))[0]
    context: dict[str, object] = {
        "greeting_name": header_safe(name.split()[0]) if name.strip() else "there",
        "quote_number": quote_number(subject),
        "questions": [q for name, q in rules.questions.items() if name in thread.missing],
        "shop_name": sender.name,
        "shop_address": sender.address,
    }
    reminder = EmailMessage()
    reminder["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    reminder["From"] = formataddr((sender.name, sender.address))
    reminder["To"] = thread.recipient
    reminder["Date"] = format_datetime(now)
    domain = sender.address.rsplit("@", 1)[-1]
    reminder["Message-ID"] = make_msgid(idstring="quotebot", domain=domain)
    parent = str(asked["Message-ID"] or "")
    if parent:
        reminder["In-Reply-To"] = parent
        reminder["References"] = " ".join(
            part for part in (str(asked["References"] or ""), parent) if part
        )
    reminder["Auto-Submitted"] = "auto-generated"  # RFC 3834: not a reply to a new message
    reminder["X-Auto-Response-Suppress"] = "All"
    reminder["X-Quotebot"] = "nudge"
    reminder.set_content(render_template(templates, "nudge.txt.j2", context))
    reminder.add_alternative(render_template(templates, "nudge.html.j2", context), subtype="html")
    return reminder
