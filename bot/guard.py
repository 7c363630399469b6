"""The never-answer list (release-rules.md, RFC 3834): mail the bot must not reply to."""

from __future__ import annotations

from collections.abc import Iterable

from bot.model import Message
from bot.rules import Rules, any_match


def never_answer_reason(
    message: Message,
    rules: Rules,
    *,
    own_addresses: Iterable[str],
    customer_domains: Iterable[str] = (),
) -> str | None:
    """Why the bot must never answer this message, or None when it may."""
    sender = message.from_addr
    if not sender:
        return "no valid From address"
    if sender in {a.lower() for a in own_addresses}:
        return "the bot's own address"
    if message.header("x-quotebot") is not None:
        return "a message the bot sent"
    if message.content_type in rules.never_content_types:
        return f"delivery report ({message.content_type})"
    for rule in rules.never_headers:
        for value in message.header_all(rule.name):
            if rule.value.search(value):
                return rule.reason.format(value=value[:60])
    # An out-of-office notice without the headers (iCloud, some Exchange setups): the subject
    # is only a hint (RFC 3834 3.1.5), so the body must say it too.
    if any_match(rules.autoreply_subject, message.subject) and any_match(
        rules.autoreply_body, message.text[:2000]
    ):
        return "out-of-office notice (by its subject and text)"
    local = sender.split("@", 1)[0]
    if any_match(rules.never_local_parts, local):
        return f"automatic sender ({local}@...)"
    domains = tuple(d.lower() for d in customer_domains)
    domain = sender.rsplit("@", 1)[-1]
    if domains and not any(domain == d or domain.endswith(f".{d}") for d in domains):
        return f"sender domain {domain} is not a configured customer domain"
    return None
