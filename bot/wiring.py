"""The one place where the config picks the adapters: which mailbox is read, where replies go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from bot.adapters.digest_queries import last_digest_at
from bot.adapters.imap import ImapMailbox
from bot.adapters.leases import Leases
from bot.adapters.maildir import MaildirOutbox, MaildirSource
from bot.adapters.smtp import SmtpOutbox
from bot.adapters.store import WORKER, Store
from bot.config import Config, ImapConfig, SmtpConfig
from bot.reports import send_digests
from bot.rules import Rules
from bot.scheduler import Passes, Service
from bot.service import Bot, Outbox, Source
from bot.workers import Fleet

DIGEST_LEASE = "*digest"  # not a mailbox name: the lease the workers take to send the digest
DIGEST_GAP = timedelta(hours=1)  # a digest sent less than this ago is not sent again


@dataclass
class ImapOutbox:
    """Replies for a mailbox on IMAP: drafts go to its Drafts folder flagged `\\Draft` (nothing
    leaves), sent replies go through `sender` and a copy lands in the sent folder, where people
    reading the mailbox see it in the thread and where a crash's unknown sends are looked up."""

    mailbox: ImapMailbox
    sender: Outbox

    def send(self, message: EmailMessage, *, draft: bool = False) -> str:
        config = self.mailbox.config
        if draft:
            self.mailbox.append(config.drafts_folder, message, [b"\\Draft", b"\\Seen"])
            return str(message["Message-ID"])
        return self.sender.send(message)

    def keep_copy(self, message: EmailMessage) -> None:
        """File the sent reply in the sent folder (after it is recorded as sent, so a crash
        in between loses a copy, never doubles a reply)."""
        config = self.mailbox.config
        if config.sent_folder and config.save_sent:
            self.mailbox.append(config.sent_folder, message, [b"\\Seen"])

    def delivered(self, message_id: str) -> bool:
        config = self.mailbox.config
        folders = [config.drafts_folder]
        if config.sent_folder:
            folders.append(config.sent_folder)
        return any(self.mailbox.holds(folder, message_id) for folder in folders) or (
            self.sender.delivered(message_id)
        )


@dataclass
class Adapters:
    """The opened adapters of one mailbox; `close()` logs out."""

    source: Source
    outbox: Outbox
    sender: Outbox  # sends without a copy in the mailbox's sent folder (the digest)
    imap: ImapMailbox | None = None

    def close(self) -> None:
        if self.imap is not None:
            self.imap.close()


def open_adapters(config: Config) -> Adapters:
    """The source and outbox the config names. Nothing connects until it is first used."""
    imap: ImapMailbox | None = None
    source: Source
    if isinstance(config.mailbox, ImapConfig):
        source = imap = ImapMailbox(config.mailbox)
    else:
        source = MaildirSource(config.mailbox.path)
    if isinstance(config.outbox, SmtpConfig):
        sender: Outbox = SmtpOutbox(config.outbox, config.bot.address)
    else:
        sender = MaildirOutbox(config.outbox.path)
    outbox: Outbox = ImapOutbox(imap, sender) if imap else sender
    return Adapters(source=source, outbox=outbox, sender=sender, imap=imap)


def scaled(config: Config) -> bool:
    """Whether passes run under leases: several mailboxes, or PostgreSQL (several workers may
    share it). One mailbox on SQLite keeps the single-process path."""
    return len(config.each()) > 1 or config.postgres


@dataclass
class Opened:
    """What `quotebot run` opened: the passes to run, each mailbox's adapters, the store."""

    passes: Passes
    adapters: dict[str, Adapters]
    store: Store

    def close(self) -> None:
        for adapters in self.adapters.values():
            adapters.close()


def open_bots(config: Config, rules: Rules) -> Opened:
    """One Bot per mailbox on one database; several (or PostgreSQL) run as a Fleet under
    leases, one mailbox on SQLite as a plain Bot."""
    store = Store(config.database_url, mailbox=config.each()[0].name)
    opened: dict[str, Adapters] = {}
    bots: dict[str, Bot] = {}
    try:
        for entry in config.each():
            adapters = opened[entry.name] = open_adapters(entry)
            bots[entry.name] = Bot(
                entry,
                rules,
                source=adapters.source,
                outbox=adapters.outbox,
                store=store.for_mailbox(entry.name),
            )
    except BaseException:
        for adapters in opened.values():
            adapters.close()
        raise
    passes: Passes = next(iter(bots.values()))
    if scaled(config):
        passes = Fleet(bots, Leases(store.engine, WORKER, seconds=config.lease_seconds))
    return Opened(passes=passes, adapters=opened, store=store)


def service(
    config: Config,
    bot: Passes,
    adapters: Adapters,
    store: Store,
    *,
    senders: Mapping[str, Outbox] | None = None,
) -> Service:
    """The long-running service: passes, IDLE between them on the connection that reads the
    quotes folder (one mailbox, on SQLite or on PostgreSQL under its lease), and the digests
    (`senders`: each mailbox's outbox for them, by name)."""
    idle = None
    mailboxes = config.each()
    only = mailboxes[0].mailbox if len(mailboxes) == 1 else None
    if isinstance(only, ImapConfig) and only.idle:
        idle = adapters.imap
    digest = None
    if any(c.digest.to for c in (config, *config.mailboxes)) and config.bot.mode != "dry-run":
        outboxes = senders or {config.name: adapters.sender}

        def digest() -> None:
            if not scaled(config):
                send_digests(config, store, outboxes, datetime.now(UTC))
                return
            # every worker's scheduler fires: one claims the digest, and skips it when
            # another worker sent it a moment ago
            leases = Leases(store.engine, WORKER, seconds=config.lease_seconds)
            if not leases.claim(DIGEST_LEASE):
                return
            try:
                last = last_digest_at(store)
                now = datetime.now(UTC)
                if last is None or now - last > DIGEST_GAP:
                    send_digests(config, store, outboxes, now)
            finally:
                leases.release(DIGEST_LEASE)

    return Service(
        bot=bot,
        poll_seconds=config.schedule.poll_seconds,
        digest=digest,
        digest_config=config.digest,
        last_digest=lambda: last_digest_at(store),
        idle=idle,
    )
