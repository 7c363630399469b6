"""The digest and the status table from the database: what `quotebot digest`, `quotebot
status` and the scheduled digest job share."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, tzinfo
from email.message import EmailMessage
from html import escape

from bot.adapters.digest_queries import last_digest_at, load_digest_data
from bot.adapters.store import DEFAULT_MAILBOX, Store
from bot.config import Config
from bot.digest import Digest, build_digest, digest_message, render_digest, when
from bot.render import Sender
from bot.service import Outbox

log = logging.getLogger(__name__)


def local_zone() -> tzinfo:
    """The machine's time zone."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


ALL = "*"  # the mailbox a digest of several mailboxes is recorded under


def current_digest(
    config: Config, store: Store, now: datetime, *, since: datetime | str | None = "last"
) -> Digest:
    """The digest of the store's mailbox: everything since the last one that went out (or
    since `since`)."""
    start = last_digest_at(store, store.mailbox) if since == "last" else since
    assert not isinstance(start, str)
    data = load_digest_data(store, since=start, now=now)
    zone = config.digest.timezone or local_zone()
    return build_digest(data, now=now, stale_days=config.digest.stale_days, zone=zone)


def grouped_digest(
    config: Config, store: Store, now: datetime, entries: Sequence[Config]
) -> tuple[Digest, str, str]:
    """One digest over several mailboxes, grouped by mailbox: the first mailbox's digest with
    the summaries joined, and the text and HTML of each mailbox one after the other."""
    since = last_digest_at(store, ALL)
    parts = []
    for entry in entries:
        digest = current_digest(entry, store.for_mailbox(entry.name), now, since=since)
        parts.append((entry, digest, *render_digest(digest, config.bot.templates_dir)))
    summary = "; ".join(f"{entry.name}: {digest.summary}" for entry, digest, _t, _h in parts)
    text = "\n\n".join(
        f"=== MAILBOX {entry.name} ({entry.bot.address}) ===\n\n{body}"
        for entry, _d, body, _h in parts
    )
    bodies = []
    for entry, _d, _t, html in parts:
        inner = html.split("<body", 1)[-1].split(">", 1)[-1].rsplit("</body>", 1)[0]
        title = escape(f"Mailbox {entry.name} ({entry.bot.address})")
        bodies.append(
            f'<h2 style="font-family:Arial,Helvetica,sans-serif;margin:16px 8px 0 8px;">'
            f"{title}</h2>{inner}"
        )
    first = parts[0][3]
    head = first.split("<body", 1)[0]
    html = f'{head}<body style="margin:0;padding:0;">{"".join(bodies)}</body></html>'
    return replace(parts[0][1], summary=summary), text, html


def send_digests(
    config: Config, store: Store, senders: Mapping[str, Outbox], now: datetime
) -> list[EmailMessage]:
    """Every digest due: one per mailbox with its own `[mailboxes.digest] to`, and one of the
    other mailboxes, grouped by mailbox, to `[digest] to` (the single [mailbox] form: the
    digest as before)."""
    sent = []
    if not config.mailboxes:
        return [send_digest(config, store, senders[config.name], now)]
    shared = [entry for entry in config.mailboxes if not entry.own_digest]
    for entry in config.mailboxes:
        if entry.own_digest and entry.digest.to:
            scoped = store.for_mailbox(entry.name)
            sent.append(send_digest(entry, scoped, senders[entry.name], now))
    if shared and config.digest.to:
        digest, text, html = grouped_digest(config, store, now, shared)
        message = digest_message(
            digest,
            text=text,
            html=html,
            sender=Sender(address=shared[0].bot.address, name=config.bot.name),
            to=config.digest.to,
            now=now,
        )
        senders[shared[0].name].send(message)
        store.for_mailbox(ALL).record_digest(now=now, recipients=config.digest.to)
        log.info("digest of %d mailboxes sent to %s", len(shared), ", ".join(config.digest.to))
        sent.append(message)
    return sent


def send_digest(config: Config, store: Store, outbox: Outbox, now: datetime) -> EmailMessage:
    """Build, render and hand the digest to the outbox for `[digest] to`; remember it went."""
    digest = current_digest(config, store, now)
    text, html = render_digest(digest, config.bot.templates_dir)
    message = digest_message(
        digest,
        text=text,
        html=html,
        sender=Sender(address=config.bot.address, name=config.bot.name),
        to=config.digest.to,
        now=now,
    )
    outbox.send(message)
    store.record_digest(now=now, recipients=config.digest.to)
    log.info("digest sent to %s: %s", ", ".join(config.digest.to), digest.summary)
    return message


def quarantine_lines(store: Store) -> list[str]:
    """Messages given up on, each with its id for `quotebot retry` and the last error."""
    rows = store.quarantined()
    if not rows:
        return []
    retry = "`quotebot retry ID` tries one again"
    if any(row.mailbox != DEFAULT_MAILBOX for row in rows):
        retry += " (`--mailbox NAME`: in the bracketed mailbox alone)"
    lines = ["", f"quarantined ({len(rows)}): {retry}"]
    for row in rows:
        where = "" if row.mailbox == DEFAULT_MAILBOX else f"[{row.mailbox}] "
        lines.append(f"  {where}{row.message_id}  after {row.attempts} attempt(s): {row.error}")
    return lines


def status_lines(digest: Digest) -> list[str]:
    """The bot's health and every open thread's release state, as a plain table."""
    health, now = digest.health, digest.now
    lines = [
        f"health: {'ok' if health.ok else 'NEEDS A LOOK'}",
        f"  last successful poll  {when(health.last_ok_poll, now)}",
        f"  since the last digest {health.runs} passes, {health.processed} messages, "
        f"{health.sent} replies sent, {health.drafted} drafted",
        f"  failed messages       {len(health.failures)}",
        f"  connection errors     {health.connection_errors}"
        + (f" (latest: {health.last_error})" if health.last_error else ""),
        "",
        f"{'quote':<12} {'state':<14} {'since':<22} detail",
    ]
    for waiting in digest.awaiting:
        state = "awaiting" + (" CALL" if waiting.call else "")
        lines.append(
            f"{waiting.quote.label:<12} {state:<14} {when(waiting.asked_at, now):<22} "
            f"asks {', '.join(waiting.questions)} ({waiting.times_asked}x)"
        )
    for item in digest.attention:
        lines.append(
            f'{item.quote.label:<12} {item.status:<14} {when(item.at, now):<22} "{item.sentence}"'
        )
    if not digest.awaiting and not digest.attention:
        lines.append("(no open threads)")
    return lines
