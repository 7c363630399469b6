"""Which thread a message belongs to: references, then quote number, then subject (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.model import Message

_QUOTE_NUMBER = re.compile(r"\b(Q-?\d{3,7})\b", re.IGNORECASE)
_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|sv|tr|rv|antw|vs)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE
)


def quote_number(subject: str) -> str | None:
    """The quote number in a subject ("Re: Quote Q-1042" gives "Q-1042"), or None."""
    found = _QUOTE_NUMBER.search(subject)
    if not found:
        return None
    value = found.group(1).upper()
    return value if "-" in value else f"Q-{value[1:]}"


def normalized_subject(subject: str) -> str:
    """A subject without reply and forward prefixes, lower-cased."""
    return " ".join(_PREFIX.sub("", subject).split()).lower()


def thread_key(message: Message, known: Mapping[str, str]) -> str:
    """The thread key: a known referenced message's thread, the quote number, the root
    reference, the subject, or the message itself."""
    for ref in (message.in_reply_to, *reversed(message.references)):
        if ref and ref in known:
            return known[ref]
    number = quote_number(message.subject)
    if number:
        return f"quote:{number}"
    if message.references:
        return f"ref:{message.references[0]}"
    subject = normalized_subject(message.subject)
    if subject:
        return f"subject:{subject}"
    return f"message:{message.message_id}"


def thread_ids(message: Message) -> tuple[str, ...]:
    """Every Message-ID that should point at this message's thread from now on."""
    ids = [message.message_id, *message.references]
    if message.in_reply_to:
        ids.append(message.in_reply_to)
    return tuple(dict.fromkeys(ids))
