"""The one place where the config picks the adapters: which mailbox is read, where replies go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from bot.adapters.digest_queries import last_digest_at
from bot.adapters.imap import ImapMailbox
from bot.adapters.maildir import MaildirOutbox, MaildirSource
from bot.adapters.smtp import SmtpOutbox
from bot.adapters.store import Store
from bot.config import Config, ImapConfig, SmtpConfig
from bot.reports import send_digest
from bot.scheduler import Service
from bot.service import Bot, Outbox, Source


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


def service(config: Config, bot: Bot, adapters: Adapters, store: Store) -> Service:
    """The long-running service: passes, IDLE on a second connection, and the digest."""
    idle = None
    if isinstance(config.mailbox, ImapConfig) and config.mailbox.idle:
        idle = ImapMailbox(config.mailbox)
    digest = None
    if config.digest.to and config.bot.mode != "dry-run":

        def digest() -> None:
            send_digest(config, store, adapters.sender, datetime.now(UTC))

    return Service(
        bot=bot,
        poll_seconds=config.schedule.poll_seconds,
        digest=digest,
        digest_config=config.digest,
        last_digest=lambda: last_digest_at(store),
        idle=idle,
    )
