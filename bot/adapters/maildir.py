"""The embedded default: a Maildir folder as the mailbox, another as the outbox."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from pathlib import Path

from bot.errors import MailboxError, OutboxError
from bot.model import Cursor, Incoming


class MaildirSource:
    """Reads a Maildir without changing it: no message is moved or flagged."""

    def __init__(self, path: Path) -> None:
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise MailboxError(
                f"{path}: not a Maildir (it needs cur/ and new/); check mailbox.path"
            )
        self.path = path
        self._box = mailbox.Maildir(path, factory=None, create=False)

    def message_keys(self) -> list[str]:
        """Every message key, oldest delivery first (Maildir names start with the time)."""
        try:
            return sorted(self._box.keys())
        except OSError as exc:
            raise MailboxError(f"{self.path}: cannot list the Maildir: {exc.strerror}") from None

    def read(self, key: str) -> bytes:
        """The raw bytes of one message."""
        try:
            return self._box.get_bytes(key)
        except (OSError, KeyError) as exc:
            raise MailboxError(f"{self.path}: cannot read message {key}: {exc}") from None

    def fetch(self, key: str) -> bytes | None:
        """One message again by its key (a failed message's retry); None when it is gone."""
        try:
            return self._box.get_bytes(key)
        except KeyError:
            return None
        except OSError as exc:
            raise MailboxError(f"{self.path}: cannot read message {key}: {exc}") from None

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """(key, raw bytes) of every message, oldest first."""
        for key in self.message_keys():
            yield key, self.read(key)

    def incoming(self, cursors: Mapping[str, Cursor]) -> Iterator[Incoming]:
        """Every message, oldest first; a Maildir has no cursor (Message-IDs tell what is done)."""
        keys = self.message_keys()
        for index, key in enumerate(keys):
            yield Incoming(key=key, raw=self.read(key), left=len(keys) - index - 1)


class MaildirOutbox:
    """Writes replies into a Maildir: new/ when sent, cur/ with the D flag as a draft."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(path, factory=None, create=True)
        except OSError as exc:
            raise OutboxError(f"{path}: cannot create the outbox Maildir: {exc.strerror}") from None
        self.path = path

    def send(self, message: EmailMessage, *, draft: bool = False) -> str:
        """Store the reply; returns its key in the outbox."""
        entry = mailbox.MaildirMessage(message)
        if draft:
            entry.set_subdir("cur")
            entry.add_flag("D")
        try:
            return self._box.add(entry)
        except OSError as exc:
            raise OutboxError(f"{self.path}: cannot write the reply: {exc.strerror}") from None

    def keep_copy(self, message: EmailMessage) -> None:
        """The outbox Maildir is itself the copy."""

    def delivered(self, message_id: str) -> bool:
        """Whether the outbox already holds a reply with this Message-ID."""
        try:
            return any(
                message_id in (self._box.get_message(key).get_all("Message-ID") or [])
                for key in self._box.keys()
            )
        except OSError as exc:
            raise OutboxError(f"{self.path}: cannot read the outbox: {exc.strerror}") from None
