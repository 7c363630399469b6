"""The digest and the status table from the database: what `quotebot digest`, `quotebot
status` and the scheduled digest job share."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from email.message import EmailMessage

from bot.adapters.digest_queries import last_digest_at, load_digest_data
from bot.adapters.store import Store
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


def current_digest(config: Config, store: Store, now: datetime) -> Digest:
    """The digest of everything since the last one that went out."""
    data = load_digest_data(store, since=last_digest_at(store), now=now)
    zone = config.digest.timezone or local_zone()
    return build_digest(data, now=now, stale_days=config.digest.stale_days, zone=zone)


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
    lines = ["", f"quarantined ({len(rows)}): `quotebot retry ID` tries one again"]
    for row in rows:
        lines.append(f"  {row.message_id}  after {row.attempts} attempt(s): {row.error}")
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
