"""The shared quotes mailbox on an IMAP server (imapclient).

The bot never depends on or changes `\\Seen`: folders are opened read-only (EXAMINE) and
messages fetched with BODY.PEEK. What is done is kept by the store as a cursor per folder
(UIDVALIDITY and the highest UID handled) and by Message-ID, so mail a person has read is still
handled, a UIDVALIDITY change re-scans without answering twice, and `UID n:*` returning the last
message again is filtered out (bot/adapters/imap_folder.py, `uids_after`).

Each folder a pass reads keeps a connection of its own, opened once with EXAMINE and left
selected between passes: a later pass asks with NOOP what is new, so the server syncs only the
change (a fresh EXAMINE of a big Maildir folder after new mail takes it 0.1 to 0.7 s). Appends
and look-ups in other folders go over one more connection, so they never unselect a reader.
"""

from __future__ import annotations

import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from email.message import EmailMessage
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from bot.adapters.imap_folder import (
    FolderLost,
    KeptFolder,
    check,
    forget_unsolicited,
    uids_after,
)
from bot.adapters.secrets import credential, tls_context
from bot.config import ImapConfig
from bot.errors import MailboxError
from bot.model import Cursor, Incoming

log = logging.getLogger(__name__)

IDLE_RENEW_SECONDS = 9 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes; servers cut
# idle clients sooner (10 minutes on some), so renew before that
IDLE_CHECK_SECONDS = 30.0
STOP_CHECK_SECONDS = 1.0  # how soon a wait given a `stopping` event notices it
TRUNCATED_BODY_BYTES = 256 * 1024  # an oversized message: its header and this much of its body
_ERRORS = (IMAPClientError, OSError, EOFError, ssl.SSLError)


class ImapMailbox:
    """One IMAP account: reads the quotes folder (and the shop's sent folder for context),
    appends drafts and sent copies, and waits for new mail with IDLE."""

    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self.server = config.server
        self._client: IMAPClient | None = None  # appends and look-ups
        self._selected: str | None = None  # the folder selected on `_client`
        self._readers: dict[str, KeptFolder] = {}  # the folders of `folders()`, kept selected
        self._created: set[str] = set()
        self._tls: ssl.SSLContext | None = None

    # -- connection -------------------------------------------------------------------------

    @property
    def account(self) -> str:
        """The account's name in cursors and logs (never a secret)."""
        return f"{self.server.username}@{self.server.host}"

    def _context(self) -> ssl.SSLContext:
        """The TLS settings for every connection of this mailbox, made at the first one (it
        reads the system's CAs: 50 ms)."""
        if self._tls is None:
            self._tls = tls_context(self.server)
        return self._tls

    def connect(self) -> IMAPClient:
        """The logged-in client for appends and look-ups, connecting (and logging in)
        when there is none."""
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self) -> IMAPClient:
        """A new connection, logged in."""
        server = self.server
        where = f"{server.host}:{server.port}"
        try:
            client = IMAPClient(
                server.host,
                port=server.port,
                ssl=server.security == "tls",
                ssl_context=self._context() if server.security == "tls" else None,
                timeout=server.timeout_seconds,
            )
        except (OSError, IMAPClientError) as exc:
            raise MailboxError(
                f"{where}: cannot connect: {_why(exc)}; check mailbox.host"
            ) from None
        try:
            if server.security == "starttls":
                client.starttls(self._context())
            self._login(client)
        except LoginError:
            _close(client)
            raise MailboxError(
                f"{where}: login refused for {server.username}; check mailbox.username and "
                + (
                    "mailbox.token_command"
                    if server.auth == "oauth2"
                    else f"the password in ${server.password_env}"
                )
            ) from None
        except _ERRORS as exc:
            _close(client)
            raise MailboxError(f"{where}: cannot log in: {_why(exc)}") from None
        return client

    def _login(self, client: IMAPClient) -> None:
        server = self.server
        if server.auth == "password":
            client.login(server.username, credential(server))
            return
        try:
            client.oauth2_login(server.username, credential(server))
        except LoginError:
            # the token may have expired between the command and its use: one fresh try
            client.oauth2_login(server.username, credential(server))

    def close(self) -> None:
        """Log out of every connection; never raises."""
        self._drop_client()
        for folder in list(self._readers):
            self._drop_reader(folder)

    def _drop_client(self) -> None:
        if self._client is not None:
            _close(self._client)
        self._client, self._selected = None, None

    def _drop_reader(self, folder: str) -> None:
        reader = self._readers.pop(folder, None)
        if reader is not None:
            _close(reader.client)

    def _fail(self, doing: str, exc: BaseException, *, folder: str | None = None) -> MailboxError:
        """Drop the connection that failed (the reader of `folder`, else the one for appends
        and look-ups; the next call reconnects) and say what happened."""
        if folder is None:
            self._drop_client()
        else:
            self._drop_reader(folder)
        return MailboxError(f"{self.account}: {doing}: {_why(exc)}")

    def _current(self) -> IMAPClient:
        """The connection for appends and look-ups, checked with NOOP when it was open
        already: one that died since its last use (the server restarted, a NAT forgot it) is
        replaced once, here, before any work on it."""
        if self._client is not None:
            try:
                _text, answers = self._client.noop()
                check(answers)  # a folder selected for a look-up may be gone
                forget_unsolicited(self._client)
            except (*_ERRORS, FolderLost):
                self._drop_client()
                log.info("%s: the connection had dropped; connected again", self.account)
        return self.connect()

    def _select(self, client: IMAPClient, folder: str) -> None:
        """`folder` selected read-only on the current connection, unless it is already."""
        if self._selected != folder:
            client.select_folder(folder, readonly=True)
            forget_unsolicited(client)
            self._selected = folder

    # -- reading ----------------------------------------------------------------------------

    def folders(self) -> tuple[str, ...]:
        """The folders read each pass: the shop's sent mail first (context), then the quotes."""
        sent = self.config.sent_folder
        return (sent, self.config.folder) if sent else (self.config.folder,)

    def cursor_key(self, folder: str) -> str:
        return f"{self.account}/{folder}"

    def incoming(self, cursors: Mapping[str, Cursor]) -> Iterator[Incoming]:
        """Every message past the stored cursor of each folder, oldest UID first, in batches.
        A UIDVALIDITY change starts the folder again from its first UID (the store's
        Message-IDs keep anything from being answered twice)."""
        for folder in self.folders():
            yield from self._folder(folder, cursors.get(self.cursor_key(folder)))

    def _folder(self, folder: str, cursor: Cursor | None) -> Iterator[Incoming]:
        key = self.cursor_key(folder)
        try:
            reader = self._reader(folder)
            validity = reader.validity
            last = cursor.uid if cursor and cursor.uidvalidity == validity else 0
            if cursor and cursor.uidvalidity != validity:
                log.warning(
                    "%s: UIDVALIDITY changed (%s to %s): re-scanning the folder; messages "
                    "already handled are recognised by Message-ID",
                    key,
                    cursor.uidvalidity,
                    validity,
                )
            if reader.exists == 0:
                return
            uids = uids_after(reader.client, last)
        except _ERRORS as exc:
            raise self._fail(f"cannot open folder {folder}", exc, folder=folder) from None
        size, left, walk = self.config.batch_size, len(uids), iter(uids)
        while batch := list(itertools.islice(walk, size)):
            handed = 0
            for uid, raw, truncated in self._fetch(reader.client, folder, batch):
                handed += 1
                left -= 1
                yield Incoming(
                    key=f"{folder}/{validity}/{uid}",
                    raw=raw,
                    cursor=Cursor(key, validity, uid),
                    truncated=truncated,
                    folder_role="sent" if folder == self.config.sent_folder else "inbox",
                    left=left,
                )
            if handed < len(batch):
                return  # a UID left out ends the folder's pass: the cursor stays below it

    def _reader(self, folder: str) -> KeptFolder:
        """The folder's own connection, selected read-only (EXAMINE) the first time and asked
        with NOOP after that. One that died since its last use (the server restarted, a NAT
        forgot it, the folder was deleted under it) is replaced once, here, before any work
        on it; the new EXAMINE shows a changed UIDVALIDITY."""
        reader = self._readers.get(folder)
        if reader is not None:
            try:
                reader.refresh()
                return reader
            except FolderLost as exc:
                self._drop_reader(folder)
                log.warning("%s: %s: opening the folder again", self.cursor_key(folder), exc)
            except _ERRORS:
                self._drop_reader(folder)
                log.info("%s: the connection had dropped; connected again", self.account)
        client = self._open()
        try:
            reader = KeptFolder.examine(client, folder)
        except BaseException:
            _close(client)
            raise
        self._readers[folder] = reader
        return reader

    def _fetch(
        self, client: IMAPClient, folder: str, uids: Sequence[int]
    ) -> Iterator[tuple[int, bytes, bool]]:
        """(uid, raw, truncated) for a batch, in UID order, up to a UID the server leaves out:
        that one and the rest of the folder wait for the next pass, never taken as done."""
        cap = self.config.max_message_bytes
        try:
            # the batch's messages over the cap, by one SEARCH: asking each one's RFC822.SIZE
            # cost a FETCH answer a message to parse (0.6 s of CPU for 10,000)
            span = f"{min(uids)}:{max(uids)}"
            over = set(client.search(["UID", span, "LARGER", cap]))
            small = [u for u in uids if u not in over]
            big = [u for u in uids if u in over]
            bodies: dict[int, Any] = dict(client.fetch(small, ["BODY.PEEK[]"])) if small else {}
            if big:
                parts = client.fetch(
                    big, ["BODY.PEEK[HEADER]", f"BODY.PEEK[TEXT]<0.{TRUNCATED_BODY_BYTES}>"]
                )
                bodies.update(parts)
        except _ERRORS as exc:
            kept = self._readers.get(folder)
            reader = folder if kept is not None and kept.client is client else None
            raise self._fail(f"cannot fetch from {folder}", exc, folder=reader) from None
        for uid in uids:
            data = bodies.get(uid)
            raw = _raw(data) if data is not None else None
            if raw is None:
                log.warning("%s: UID %s was not returned; it is retried next pass", folder, uid)
                return
            yield uid, raw, uid in over

    def fetch(self, key: str) -> bytes | None:
        """One message again by its key ("folder/uidvalidity/uid"), for a failed message's
        retry; None when it is gone (expunged, or the folder's UIDVALIDITY changed)."""
        folder, validity, uid = key.rsplit("/", 2)
        kept = folder in self.folders()
        try:
            if kept:
                reader = self._reader(folder)
                client, current = reader.client, reader.validity
            else:  # a folder no longer read each pass: looked up on the other connection
                client = self._current()
                current = KeptFolder.examine(client, folder).validity
                self._selected = folder
        except _ERRORS as exc:
            raise self._fail(
                f"cannot open folder {folder}", exc, folder=folder if kept else None
            ) from None
        if str(current) != validity:
            return None
        found = next(self._fetch(client, folder, [int(uid)]), None)
        return found[1] if found else None

    # -- waiting ----------------------------------------------------------------------------

    def wait(self, seconds: float, stopping: threading.Event | None = None) -> None:
        """Return when new mail may have arrived in the quotes folder, after `seconds`, or
        within a second of `stopping` being set. Call it between passes, never during one:
        IDLE runs on the connection that reads the quotes folder, so the pass that follows
        reads the new message on the session the server has just synced. (On a second
        session, Dovecot took 0.3 s more to hand over a new message of a 100,000-message
        Maildir folder: it re-read the folder's list of files first.) It returns at once when
        the folder was opened anew or the server announced mail since the last pass read it.
        IDLE is only a wake-up hint: the pass always re-syncs from its cursors."""
        folder = self.config.folder
        try:
            reader = self._reader(folder)
            client = reader.client
            if reader.news:
                return
            if not self.config.idle or b"IDLE" not in client.capabilities():
                _sleep(seconds, stopping)
                return
            client.idle()
            try:
                deadline = time.monotonic() + min(seconds, IDLE_RENEW_SECONDS)
                while (left := deadline - time.monotonic()) > 0:
                    if stopping is not None and stopping.is_set():
                        break
                    check_every = IDLE_CHECK_SECONDS if stopping is None else STOP_CHECK_SECONDS
                    step = min(check_every, left)
                    started = time.monotonic()
                    answers = client.idle_check(timeout=step)
                    reader.apply(answers)  # trouble with the folder ends the wait
                    if reader.news:
                        break
                    if not answers and time.monotonic() - started < step / 2:
                        break  # readable but nothing read: EOF, which idle_check swallows
            finally:
                _text, answers = client.idle_done()
            reader.apply(answers)
        # ValueError: close() from another thread closed the socket under idle_check
        # ("readline of closed file")
        except (*_ERRORS, FolderLost, ValueError) as exc:
            raise self._fail("connection lost while waiting for mail", exc, folder=folder) from None

    # -- writing ----------------------------------------------------------------------------

    def append(self, folder: str, message: EmailMessage, flags: Sequence[bytes]) -> None:
        """Put a message into a folder (a draft, or the copy of a sent reply), creating the
        folder the first time it is missing."""
        raw = message.as_bytes()
        try:
            client = self._current()
            if folder not in self._created and not client.folder_exists(folder):
                client.create_folder(folder)
            self._created.add(folder)
            client.append(folder, raw, flags=tuple(flags))
        except _ERRORS as exc:
            raise self._fail(f"cannot append to {folder}", exc) from None

    def holds(self, folder: str, message_id: str) -> bool:
        """Whether a folder holds a message with this Message-ID (a reply whose send state a
        crash left unknown is looked up in the sent folder before it is sent again)."""
        try:
            client = self._current()
            if not client.folder_exists(folder):
                return False
            self._select(client, folder)
            return bool(client.search(["HEADER", "Message-ID", message_id]))
        except _ERRORS as exc:
            raise self._fail(f"cannot search {folder}", exc) from None


def _sleep(seconds: float, stopping: threading.Event | None) -> None:
    """Sleep, ending early when `stopping` is set."""
    if stopping is None:
        time.sleep(seconds)
    else:
        stopping.wait(seconds)


def _raw(data: Mapping[bytes, Any]) -> bytes | None:
    if b"BODY[]" in data:
        return bytes(data[b"BODY[]"])
    header = data.get(b"BODY[HEADER]")
    if header is None:
        return None
    text = next((v for k, v in data.items() if k.startswith(b"BODY[TEXT]")), b"") or b""
    return bytes(header) + bytes(text)


def _why(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may already be gone; closing must not raise
        with suppress(Exception):
            client.shutdown()
