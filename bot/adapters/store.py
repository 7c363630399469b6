"""The database (SQLModel): messages seen, threads and their release state, replies."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Index, event, insert, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine, select

from bot.adapters.batch_reads import BatchReads
from bot.errors import RaceLostError, StoreError
from bot.model import Cursor, Decision, ThreadState
from bot.nudge import Awaiting

DEFAULT_MAILBOX = "default"  # the name of the single [mailbox] form, and of rows from before
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # this process, in runs and leases
log = logging.getLogger(__name__)
BATCH_RECORDS = 200  # a batch is committed at this many records ...
BATCH_SECONDS = 1.0  # ... or this long after its first one
STATES_KEPT = 256  # thread states a batch remembers past its commits (a backlog's open threads)


class MessageRecord(SQLModel, table=True):
    """One inbound message the bot has handled (or failed to), with its decision."""

    # one record per message per mailbox: two workers racing on one message cannot both win
    # (the id first: an index led by the mailbox would tempt SQLite into scanning a mailbox)
    __table_args__ = (
        Index("ux_messagerecord_message_id_mailbox", "message_id", "mailbox", unique=True),
        # the failed messages only (a few rows): due_retries and failed_keys stay flat
        Index(
            "ix_messagerecord_failed",
            "retry_at",
            "source_key",
            sqlite_where=text("error IS NOT NULL"),
            postgresql_where=text("error IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = DEFAULT_MAILBOX
    message_id: str  # indexed by ux_messagerecord_message_id_mailbox
    source_key: str = Field(default="", index=True)
    thread_key: str = Field(default="", index=True)
    sender: str = ""
    subject: str = ""
    received_at: datetime | None = None
    processed_at: datetime
    action: str = ""
    stage: str = ""
    missing: str = "[]"
    reason: str = ""
    fields_json: str = "{}"
    sentence: str = ""  # the buyer's sentence the decision rests on (quoted in replies, digest)
    thread_status: str = ""  # the thread's status after this message
    error: str | None = None
    attempts: int = 0  # failed attempts at handling it
    retry_at: datetime | None = None  # the next attempt; None after max_attempts: quarantined


class ThreadRecord(SQLModel, table=True):
    """A quote thread and where its release stands."""

    mailbox: str = Field(default=DEFAULT_MAILBOX, primary_key=True)
    key: str = Field(primary_key=True)
    subject: str = ""
    status: str = Field(default="open", index=True)  # "awaiting" is looked up every poll
    carry_revision: str | None = None
    released_revision: str | None = None
    released_quantity: int | None = None
    hold_by: str | None = None
    release_by: str | None = None
    last_clarify_at: datetime | None = None
    last_clarify_to: str | None = None
    bot_sentences: str = "[]"
    quoted_revisions: str = "[]"
    updated_at: datetime


def _add_missing_columns(conn: Connection) -> None:
    """Add columns that a database made before Alembic may lack (nullable or defaulted text
    only): `quotebot db upgrade` runs this before it stamps such a file with revision 0001."""
    present = {c["name"] for c in inspect(conn).get_columns("threadrecord")}
    columns = {c["name"] for c in inspect(conn).get_columns("messagerecord")}
    if "quoted_revisions" not in present:
        conn.execute(
            text("ALTER TABLE threadrecord ADD COLUMN quoted_revisions VARCHAR DEFAULT '[]'")
        )
    for column in ("sentence", "thread_status"):
        if column not in columns:
            conn.execute(text(f"ALTER TABLE messagerecord ADD COLUMN {column} VARCHAR DEFAULT ''"))
    if "attempts" not in columns:
        conn.execute(text("ALTER TABLE messagerecord ADD COLUMN attempts INTEGER DEFAULT 0"))
    if "retry_at" not in columns:
        conn.execute(text("ALTER TABLE messagerecord ADD COLUMN retry_at DATETIME"))
    # lookups per message: by where it is (failures) and by the bot's own reply ids
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS ix_messagerecord_source_key ON messagerecord (source_key)")
    )
    conn.execute(
        text(
            "CREATE INDEX IF NOT EXISTS ix_replyrecord_reply_message_id "
            "ON replyrecord (reply_message_id)"
        )
    )


class FolderCursor(SQLModel, table=True):
    """How far a mailbox folder has been handled (IMAP: UIDVALIDITY and the highest UID)."""

    mailbox: str = Field(default=DEFAULT_MAILBOX, primary_key=True)
    folder: str = Field(primary_key=True)
    uidvalidity: int
    uid: int
    updated_at: datetime


class RunRecord(SQLModel, table=True):
    """One pass over the mailbox: what it did, or the error that ended it (the bot's health)."""

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(default=DEFAULT_MAILBOX, index=True)
    worker: str = ""  # host:pid of the process that ran it
    started_at: datetime = Field(index=True)
    finished_at: datetime | None = None
    handled: int = 0
    sent: int = 0
    drafted: int = 0
    failed: int = 0
    error: str | None = None  # a login, connection or database error that ended the pass


class DigestRecord(SQLModel, table=True):
    """A digest that went out (the next one covers what happened since)."""

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = DEFAULT_MAILBOX
    sent_at: datetime = Field(index=True)
    recipient: str = ""


class NudgeRecord(SQLModel, table=True):
    """A reminder sent in a thread whose clarification stayed unanswered."""

    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = Field(default=DEFAULT_MAILBOX, index=True)
    thread_key: str = Field(index=True)
    number: int  # 1 or 2
    reply_message_id: str = Field(unique=True)
    recipient: str
    status: str  # pending | sent | drafted | dry-run
    body: str = ""
    created_at: datetime
    sent_at: datetime | None = None


class Setting(SQLModel, table=True):
    """A value the bot keeps about itself (when it first ran, say)."""

    key: str = Field(primary_key=True)
    value: str


class ThreadLink(SQLModel, table=True):
    """A Message-ID that belongs to a thread (its own or one it references)."""

    mailbox: str = Field(default=DEFAULT_MAILBOX, primary_key=True)
    message_id: str = Field(primary_key=True)
    thread_key: str = Field(index=True)


class ReplyRecord(SQLModel, table=True):
    """A clarification: written here before it is handed to the outbox, marked after."""

    # one reply per inbound message per mailbox, on every database: the loser of a race
    # between two workers fails here, before it sends anything
    __table_args__ = (
        Index("ux_replyrecord_in_reply_to_mailbox", "in_reply_to", "mailbox", unique=True),
    )
    id: int | None = Field(default=None, primary_key=True)
    mailbox: str = DEFAULT_MAILBOX
    in_reply_to: str  # indexed by ux_replyrecord_in_reply_to_mailbox
    reply_message_id: str = Field(index=True)
    thread_key: str = Field(index=True)
    recipient: str
    # pending | sent | drafted | dry-run | suppressed | failed (refused for good); every pass
    # looks for pending ones
    status: str = Field(index=True)
    reason: str = ""
    body: str = ""
    created_at: datetime
    sent_at: datetime | None = None


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _clean(value: object) -> object:
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clean(v) for v in value)
    return value


def _without_nul(
    _conn: object,
    _cursor: object,
    statement: str,
    parameters: object,
    _context: object,
    _executemany: bool,
) -> tuple[str, object]:
    """PostgreSQL text cannot hold NUL, which SQLite stores: a subject or sentence with one
    would stop every pass at its message. It is stored as U+FFFD instead."""
    return statement, _clean(parameters)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner only (0600) before SQLite opens it; its
    -wal and -shm files take the same mode."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot create the database file: {exc.strerror}; check database.url"
        ) from None


def _why(exc: Exception) -> str:
    """The driver's own words on one line, without the SQL statement SQLAlchemy appends."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc).split("\n", 1)[0]
    return f"{type(orig or exc).__name__}: {' '.join(text.split())}"


@dataclass
class _Batch:
    """Records of messages that need no reply, not yet committed, and what reads must see of
    them until they are (Store.batch)."""

    started: float = 0.0
    reader: BatchReads | None = None  # the batch's reads (seen, thread_of, thread)
    messages: list[dict[str, Any]] = field(default_factory=list)  # MessageRecord's columns
    threads: dict[str, tuple[ThreadState, str, datetime]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    replies: list[ReplyRecord] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)  # Message-IDs recorded, and the bot's own
    cursors: list[tuple[Cursor, datetime]] = field(default_factory=list)
    # thread states this pass committed or read, the most recent STATES_KEPT: a backlog meets
    # the same threads again and again, and each read parsed the thread's sentences from JSON
    states: OrderedDict[str, ThreadState] = field(default_factory=OrderedDict)

    def keep(self, state: ThreadState) -> None:
        self.states[state.key] = state
        self.states.move_to_end(state.key)
        while len(self.states) > STATES_KEPT:
            self.states.popitem(last=False)


def _last_of_each_run(cursors: list[tuple[Cursor, datetime]]) -> list[tuple[Cursor, datetime]]:
    """The cursors a batch moves, without those the next one moves past anyway (the same
    folder and UIDVALIDITY, a higher UID): moving them one by one ends the same way."""
    kept: list[tuple[Cursor, datetime]] = []
    for index, (cursor, now) in enumerate(cursors):
        after = cursors[index + 1][0] if index + 1 < len(cursors) else None
        passed = (
            after is not None
            and after.folder == cursor.folder
            and after.uidvalidity == cursor.uidvalidity
            and after.uid > cursor.uid
        )
        if not passed:
            kept.append((cursor, now))
    return kept


def _thread_columns(state: ThreadState, now: datetime) -> dict[str, Any]:
    """A thread row's columns for its state, as of `now`."""
    return {
        "status": state.status,
        "carry_revision": state.carry_revision,
        "released_revision": state.released_revision,
        "released_quantity": state.released_quantity,
        "hold_by": state.hold_by,
        "release_by": state.release_by,
        "last_clarify_at": state.last_clarify_at,
        "last_clarify_to": state.last_clarify_to,
        "bot_sentences": json.dumps(sorted(state.bot_sentences)),
        "quoted_revisions": json.dumps(sorted(state.quoted_revisions)),
        "updated_at": now,
    }


def _state(key: str, row: Any) -> ThreadState:
    """A thread's state from its stored row."""
    return ThreadState(
        key=key,
        status=row.status,
        carry_revision=row.carry_revision,
        released_revision=row.released_revision,
        released_quantity=row.released_quantity,
        hold_by=row.hold_by,
        release_by=row.release_by,
        bot_sentences=frozenset(json.loads(row.bot_sentences)),
        quoted_revisions=frozenset(json.loads(row.quoted_revisions)),
        last_clarify_at=_aware(row.last_clarify_at),
        last_clarify_to=row.last_clarify_to,
    )


def _full(exc: Exception) -> bool:
    """Whether the disk under the database is full (SQLite's SQLITE_FULL, or ENOSPC)."""
    return "disk is full" in str(exc) or getattr(exc, "errno", None) == errno.ENOSPC


def open_engine(url: str) -> Engine:
    """An engine for database.url: SQLite (WAL, full sync, file 0600) or PostgreSQL (a pool
    whose connections are checked before use, so a database restart costs one reconnect; UTC
    sessions, since the columns hold UTC without a zone)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        _private_file(Path(url.removeprefix("sqlite:///")))
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        connect_args = {"options": "-c timezone=UTC"} if url.startswith("postgresql") else {}
        engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_recycle=1800,
            connect_args=connect_args,
        )
        if url.startswith("postgresql"):
            event.listen(engine, "before_cursor_execute", _without_nul, retval=True)
        return engine
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot open the database: {_why(exc)}; check database.url") from None


class Store:
    """All database access for one mailbox (`mailbox`: its [[mailboxes]] name); one transaction
    per handled message, or per batch of messages that need no reply inside `batch()`.
    `for_mailbox` gives another mailbox's view on the same engine."""

    _batch: _Batch | None = None

    def __init__(
        self,
        url: str,
        *,
        mailbox: str = DEFAULT_MAILBOX,
        engine: Engine | None = None,
        check_schema: bool = True,
    ) -> None:
        from bot.adapters.schema import ensure_current  # it imports this module's tables

        self.url, self.mailbox = url, mailbox
        self.engine: Engine = engine or open_engine(url)
        if check_schema:
            ensure_current(self.engine, url)

    def close(self) -> None:
        """Close the database connections (every mailbox's view shares them)."""
        self.engine.dispose()

    def for_mailbox(self, mailbox: str) -> Store:
        """The same database, scoped to another mailbox."""
        return Store(self.url, mailbox=mailbox, engine=self.engine, check_schema=False)

    def seen(self, message_id: str) -> bool:
        """Whether a message with this Message-ID was already handled, or is a reply the bot
        wrote itself (its copy in the sent folder)."""
        if self._batch is not None:
            if message_id in self._batch.ids:
                return True
            return self._reads().seen(message_id)
        with Session(self.engine) as session:
            inbound = (
                select(MessageRecord.id)
                .where(MessageRecord.mailbox == self.mailbox)
                .where(MessageRecord.message_id == message_id)
            )
            own = (
                select(ReplyRecord.id)
                .where(ReplyRecord.mailbox == self.mailbox)
                .where(ReplyRecord.reply_message_id == message_id)
            )
            return session.execute(inbound.union_all(own).limit(1)).first() is not None

    def thread_of(self, ids: tuple[str, ...]) -> dict[str, str]:
        """Known thread keys for any of these Message-IDs."""
        if not ids:
            return {}
        if self._batch is not None:
            found = self._reads().links(ids)
            pending = self._batch.links  # links stored first win, as in record()
            return found | {i: pending[i] for i in ids if i in pending and i not in found}
        with Session(self.engine) as session:
            links = session.exec(
                select(ThreadLink)
                .where(ThreadLink.mailbox == self.mailbox)
                .where(ThreadLink.message_id.in_(ids))  # type: ignore[attr-defined]
            )
            return {link.message_id: link.thread_key for link in links}

    def thread(self, key: str) -> ThreadState:
        """The stored state of a thread, or a fresh one."""
        row: Any
        if self._batch is not None:
            if key in self._batch.threads:
                return self._batch.threads[key][0]
            if key in self._batch.states:
                self._batch.states.move_to_end(key)
                return self._batch.states[key]
            row = self._reads().thread(key)
            if row is not None:
                self._batch.keep(_state(key, row))
                return self._batch.states[key]
        else:
            with Session(self.engine) as session:
                row = session.get(ThreadRecord, {"mailbox": self.mailbox, "key": key})
        if row is None:
            return ThreadState(key=key)
        return _state(key, row)

    def record(
        self,
        *,
        decision: Decision,
        state: ThreadState,
        source_key: str,
        sender: str,
        subject: str,
        received_at: datetime | None,
        links: tuple[str, ...],
        reply: ReplyRecord | None,
        now: datetime,
        cursor: Cursor | None = None,
        sentence: str = "",
    ) -> None:
        """Store a message's decision, its thread's new state, its reply and how far its folder
        is done, atomically. Inside `batch()`, a message whose reply is not to be sent joins
        the batch; one with a reply to send is committed at once, with the batch before it."""
        fields = decision.fields
        message: dict[str, Any] = dict(
            mailbox=self.mailbox,
            message_id=decision.message_id,
            source_key=source_key,
            thread_key=state.key,
            sender=sender,
            subject=subject,
            received_at=received_at,
            processed_at=now,
            action=decision.action,
            stage=decision.stage,
            missing=json.dumps(list(decision.missing)),
            reason=decision.reason,
            sentence=sentence,
            thread_status=state.status,
            fields_json=json.dumps(
                {
                    "quantity": fields.quantity,
                    "held_quantity": fields.held_quantity,
                    "revision": fields.revision,
                    "material": fields.material,
                    "timing": fields.timing,
                    "po_number": fields.po_number,
                    "authority": decision.authority,
                    "sender_verified": decision.sender_verified,
                    "verification": decision.verification,
                    "evidence": dict(fields.evidence),
                }
            ),
            error=None,
            attempts=0,
            retry_at=None,
        )
        batch = self._batch
        if batch is not None and (reply is None or reply.status != "pending"):
            self._add_to_batch(batch, message, state, subject, links, reply, now, cursor)
            return
        self.flush()
        # no autoflush: a duplicate (another worker's record) surfaces at the commit below
        with Session(self.engine, autoflush=False) as session:
            session.add(MessageRecord(**message))
            row = session.get(
                ThreadRecord, {"mailbox": self.mailbox, "key": state.key}
            ) or ThreadRecord(mailbox=self.mailbox, key=state.key, subject=subject, updated_at=now)
            for name, value in _thread_columns(state, now).items():
                setattr(row, name, value)
            session.add(row)
            for message_id in dict.fromkeys(links):
                if session.get(ThreadLink, {"mailbox": self.mailbox, "message_id": message_id}):
                    continue
                session.add(
                    ThreadLink(mailbox=self.mailbox, message_id=message_id, thread_key=state.key)
                )
            if reply is not None:
                reply.mailbox = self.mailbox
                session.add(reply)
            self._move(session, cursor, now)
            self._commit(session, race=decision.message_id)
        if self._batch is not None:
            self._batch.keep(state)

    def record_failure(
        self,
        *,
        message_id: str,
        source_key: str,
        error: str,
        now: datetime,
        cursor: Cursor | None = None,
        max_attempts: int = 5,
    ) -> int:
        """Remember a message that could not be handled, so the run can go on without it; it
        is tried again with backoff (2, 4, 8 ... minutes, at most 6 hours), then quarantined
        after `max_attempts`. Returns the attempts so far."""
        self.flush()  # the records before it first: its cursor may be past them
        with Session(self.engine) as session:
            existing = session.exec(
                select(MessageRecord)
                .where(MessageRecord.mailbox == self.mailbox)
                .where(MessageRecord.message_id == message_id)
            ).first()
            row = existing or MessageRecord(
                mailbox=self.mailbox, message_id=message_id, source_key=source_key, processed_at=now
            )
            row.error, row.processed_at, row.action = error[:500], now, "ignore"
            row.attempts = (row.attempts or 0) + 1
            backoff = timedelta(minutes=min(2**row.attempts, 360))
            row.retry_at = now + backoff if row.attempts < max_attempts else None
            session.add(row)
            self._move(session, cursor, now)
            self._commit(session)
            return row.attempts

    def failure(self, source_key: str) -> MessageRecord | None:
        """The failure record of a message by where it is, if it failed before."""
        with Session(self.engine) as session:
            return session.exec(
                select(MessageRecord)
                .where(MessageRecord.mailbox == self.mailbox)
                .where(MessageRecord.source_key == source_key)
                .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
            ).first()

    def failed_keys(self) -> set[str]:
        """Where every message that failed before is (one query for a whole pass)."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(MessageRecord.source_key)
                .where(MessageRecord.mailbox == self.mailbox)
                .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
            )
            return {key for key in rows if key}

    def due_retries(self, now: datetime) -> list[str]:
        """Where the failed messages due for another attempt are."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(MessageRecord.source_key)
                .where(MessageRecord.mailbox == self.mailbox)
                .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
                .where(MessageRecord.retry_at.is_not(None))  # type: ignore[union-attr]
                .where(MessageRecord.retry_at <= now)  # type: ignore[operator]
            )
            return [key for key in rows if key]

    def clear_failure(self, source_key: str) -> None:
        """Forget a failure once its message was handled after all."""
        with Session(self.engine) as session:
            for row in session.exec(
                select(MessageRecord)
                .where(MessageRecord.mailbox == self.mailbox)
                .where(MessageRecord.source_key == source_key)
                .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
            ):
                session.delete(row)
            self._commit(session)

    def quarantined(self) -> list[MessageRecord]:
        """Messages given up on after max_attempts, until `quotebot retry` sends them back."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(MessageRecord)
                    .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
                    .where(MessageRecord.retry_at.is_(None))  # type: ignore[union-attr]
                )
            )

    def retry(self, message_id: str, now: datetime, *, mailbox: str | None = None) -> list[str]:
        """Send a failed or quarantined message back for one more try on the next pass, in
        every mailbox where it failed (or in `mailbox` alone); the mailboxes it was sent
        back in, none when it failed nowhere."""
        with Session(self.engine) as session:
            query = (
                select(MessageRecord)
                .where(MessageRecord.message_id == message_id)
                .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
            )
            if mailbox is not None:
                query = query.where(MessageRecord.mailbox == mailbox)
            rows = list(session.exec(query))
            for row in rows:
                row.attempts, row.retry_at = 0, now
                session.add(row)
            if rows:
                self._commit(session)
            return sorted(row.mailbox for row in rows)

    def awaiting(self) -> list[Awaiting]:
        """Threads waiting on the buyer, with the clarification that asked and its reminders
        (three queries for up to 500 such threads: the service asks on every poll)."""
        with Session(self.engine) as session:
            # the keys alone: a thread's row carries every sentence the shop wrote in it
            waiting = (
                select(ThreadRecord.key)
                .where(ThreadRecord.mailbox == self.mailbox)
                .where(ThreadRecord.status == "awaiting")
            )
            latest: dict[str, ReplyRecord] = {}
            for reply in session.exec(
                select(ReplyRecord)
                .where(ReplyRecord.mailbox == self.mailbox)
                .where(ReplyRecord.status.in_(("sent", "drafted")))  # type: ignore[attr-defined]
                .where(ReplyRecord.thread_key.in_(waiting))  # type: ignore[attr-defined]
                .order_by(ReplyRecord.created_at.desc())  # type: ignore[attr-defined]
            ):
                latest.setdefault(reply.thread_key, reply)
            keys = sorted(latest)
            asked_ids = [reply.in_reply_to for reply in latest.values()]
            missing = {
                row.message_id: row.missing
                for row in self._in(
                    session,
                    select(MessageRecord).where(MessageRecord.mailbox == self.mailbox),
                    MessageRecord.message_id,
                    asked_ids,
                )
            }
            nudges: dict[str, list[NudgeRecord]] = {}
            mine = select(NudgeRecord).where(NudgeRecord.mailbox == self.mailbox)
            for nudge in self._in(session, mine, NudgeRecord.thread_key, keys):
                nudges.setdefault(nudge.thread_key, []).append(nudge)
            found = []
            for key in keys:
                asked = latest.get(key)
                if asked is None or not asked.body:
                    continue
                after = [n for n in nudges.get(key, []) if n.created_at > asked.created_at]
                inbound = missing.get(asked.in_reply_to)
                found.append(
                    Awaiting(
                        thread_key=key,
                        asked_at=_aware(asked.sent_at or asked.created_at) or asked.created_at,
                        recipient=asked.recipient,
                        clarification=asked.body,
                        missing=tuple(json.loads(inbound)) if inbound is not None else (),
                        nudges=len(after),
                        last_nudge_at=_aware(max((n.created_at for n in after), default=None)),
                    )
                )
            return found

    @staticmethod
    def _in(session: Session, query: Any, column: Any, values: list[str]) -> list[Any]:
        """`query` restricted to rows whose `column` is one of `values` (500 at a time)."""
        return [
            row
            for start in range(0, len(values), 500)
            for row in session.exec(query.where(column.in_(values[start : start + 500])))
        ]

    def record_nudge(
        self,
        *,
        thread_key: str,
        number: int,
        reply: str,
        message_id: str,
        recipient: str,
        status: str,
        now: datetime,
    ) -> None:
        """Store a reminder before it is handed to the outbox (status pending), or as drafted."""
        with Session(self.engine) as session:
            session.add(
                NudgeRecord(
                    mailbox=self.mailbox,
                    thread_key=thread_key,
                    number=number,
                    reply_message_id=message_id,
                    recipient=recipient,
                    status=status,
                    body=reply,
                    created_at=now,
                )
            )
            self._commit(session)

    def mark_nudge(self, message_id: str, *, status: str, now: datetime) -> None:
        """Mark a stored reminder as handed to the outbox."""
        with Session(self.engine) as session:
            row = session.exec(
                select(NudgeRecord).where(NudgeRecord.reply_message_id == message_id)
            ).one()
            row.status, row.sent_at = status, now
            session.add(row)
            self._commit(session)

    def pending_nudges(self) -> list[NudgeRecord]:
        """Reminders stored but not confirmed as handed on (after a crash)."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(NudgeRecord)
                    .where(NudgeRecord.mailbox == self.mailbox)
                    .where(NudgeRecord.status == "pending")
                )
            )

    def start_run(self, now: datetime) -> int:
        """Record that a pass began (and which worker runs it); returns its id for
        `finish_run`."""
        with Session(self.engine) as session:
            row = RunRecord(mailbox=self.mailbox, worker=WORKER, started_at=now)
            session.add(row)
            self._commit(session)
            session.refresh(row)
            assert row.id is not None
            return row.id

    def finish_run(
        self,
        run_id: int,
        *,
        now: datetime,
        handled: int = 0,
        sent: int = 0,
        drafted: int = 0,
        failed: int = 0,
        error: str | None = None,
    ) -> None:
        """Record how a pass ended."""
        with Session(self.engine) as session:
            row = session.get(RunRecord, run_id)
            if row is None:
                return
            row.finished_at, row.handled, row.sent = now, handled, sent
            row.drafted, row.failed, row.error = drafted, failed, error and error[:500]
            session.add(row)
            self._commit(session)

    def record_digest(self, *, now: datetime, recipients: tuple[str, ...]) -> None:
        """Remember that a digest went out (the next one covers what happened since)."""
        with Session(self.engine) as session:
            session.add(
                DigestRecord(mailbox=self.mailbox, sent_at=now, recipient=", ".join(recipients))
            )
            self._commit(session)

    def first_started(self, now: datetime) -> datetime:
        """When the bot first ran on this mailbox (recorded now if it never did): a mailbox
        added to the config later does not answer its history."""
        key = "first_started"
        if self.mailbox != DEFAULT_MAILBOX:
            key += f":{self.mailbox}"
        with Session(self.engine) as session:
            row = session.get(Setting, key)
            if row is None:
                row = Setting(key=key, value=now.isoformat())
                session.add(row)
                self._commit(session)
            return datetime.fromisoformat(row.value)

    def cursors(self) -> dict[str, Cursor]:
        """Every folder's cursor, by folder."""
        with Session(self.engine) as session:
            return {
                row.folder: Cursor(row.folder, row.uidvalidity, row.uid)
                for row in session.exec(
                    select(FolderCursor).where(FolderCursor.mailbox == self.mailbox)
                )
            }

    def advance(self, cursor: Cursor, now: datetime) -> None:
        """Move a folder's cursor past a message that needed no record (seen before)."""
        self.flush()
        with Session(self.engine) as session:
            self._move(session, cursor, now)
            self._commit(session)

    def _move(self, session: Session, cursor: Cursor | None, now: datetime) -> None:
        if cursor is None:
            return
        row = session.get(FolderCursor, {"mailbox": self.mailbox, "folder": cursor.folder})
        if row is None:
            row = FolderCursor(
                mailbox=self.mailbox, folder=cursor.folder, uidvalidity=0, uid=0, updated_at=now
            )
        if row.uidvalidity != cursor.uidvalidity or cursor.uid > row.uid:
            row.uidvalidity, row.uid, row.updated_at = cursor.uidvalidity, cursor.uid, now
            session.add(row)

    def mark_reply(self, in_reply_to: str, *, status: str, now: datetime, reason: str = "") -> None:
        """Mark a stored reply as handed to the outbox (or as refused for good, with why)."""
        self.flush()
        with Session(self.engine) as session:
            row = session.exec(
                select(ReplyRecord)
                .where(ReplyRecord.mailbox == self.mailbox)
                .where(ReplyRecord.in_reply_to == in_reply_to)
            ).one()
            row.status, row.sent_at = status, now
            if reason:
                row.reason = reason[:500]
            session.add(row)
            self._commit(session)

    def pending_replies(self) -> list[ReplyRecord]:
        """Replies stored but not yet confirmed as handed on (after a crash)."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(ReplyRecord)
                    .where(ReplyRecord.mailbox == self.mailbox)
                    .where(ReplyRecord.status == "pending")
                )
            )

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Records of messages that need no reply are committed together, every
        BATCH_RECORDS records or BATCH_SECONDS, before any reply is stored, and on leaving;
        each batch carries the cursors of its messages, so a cursor never runs ahead of the
        records committed. Reads (seen, thread_of, thread) see the batch."""
        if self._batch is not None:
            yield
            return
        self._batch = _Batch()
        interrupted = True
        try:
            yield
            interrupted = False
        finally:
            try:
                self.flush()
            except StoreError as exc:
                if not interrupted:
                    raise
                log.error("cannot record the last batch: %s", exc)  # keep the first error
            finally:
                if self._batch is not None and self._batch.reader is not None:
                    self._batch.reader.close()
                self._batch = None

    def _reads(self) -> BatchReads:
        """The batch's reads, on their own connection (opened on the first read)."""
        assert self._batch is not None
        if self._batch.reader is None:
            try:
                self._batch.reader = BatchReads(self.engine, self.mailbox)
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot read the database: {_why(exc)}") from None
        return self._batch.reader

    def _add_to_batch(
        self,
        batch: _Batch,
        message: dict[str, Any],
        state: ThreadState,
        subject: str,
        links: tuple[str, ...],
        reply: ReplyRecord | None,
        now: datetime,
        cursor: Cursor | None,
    ) -> None:
        if not batch.messages:
            batch.started = time.monotonic()
        batch.messages.append(message)
        batch.ids.add(message["message_id"])
        first = batch.threads.get(state.key)
        batch.threads[state.key] = (state, first[1] if first else subject, now)
        for message_id in links:
            batch.links.setdefault(message_id, state.key)
        if reply is not None:
            batch.replies.append(reply)
            if reply.reply_message_id:
                batch.ids.add(reply.reply_message_id)
        if cursor is not None:
            batch.cursors.append((cursor, now))
        full = len(batch.messages) >= BATCH_RECORDS
        if full or time.monotonic() - batch.started >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit the batch's records in one transaction (nothing to do outside `batch()`);
        the batch's reads start again from what is committed then."""
        batch = self._batch
        if batch is None:
            return
        if batch.reader is not None:
            batch.reader.fresh()  # reads see the commits of this store from here on
        if not batch.messages:
            return
        with Session(self.engine) as session:
            ids = [m["message_id"] for m in batch.messages]
            recorded = select(MessageRecord.message_id).where(MessageRecord.mailbox == self.mailbox)
            taken = set(self._in(session, recorded, MessageRecord.message_id, ids))
            for message_id in taken:  # a worker that stalled past its lease, say
                log.warning(
                    "%s: another worker recorded it first; backing off, nothing sent", message_id
                )
            fresh = [m for m in batch.messages if m["message_id"] not in taken]
            if fresh:  # one executemany; one that slips in meanwhile is still left alone
                session.execute(self._insert_new(MessageRecord), fresh)
            threads = [
                {"mailbox": self.mailbox, "key": key, "subject": subject}
                | _thread_columns(state, now)
                for key, (state, subject, now) in batch.threads.items()
            ]
            if threads:  # one executemany; a thread's subject stays the one it began with
                session.execute(self._upsert_threads(), threads)
            links = [
                {"mailbox": self.mailbox, "message_id": i, "thread_key": k}
                for i, k in batch.links.items()
            ]
            if links:  # links stored first win, as in record()
                session.execute(self._insert_new(ThreadLink), links)
            # the suppressed reply of a message another worker recorded is that worker's
            replies = [
                reply.model_dump(exclude={"id"}) | {"mailbox": self.mailbox}
                for reply in batch.replies
                if reply.in_reply_to not in taken
            ]
            if replies:  # one executemany, as for the messages: the ORM took 1.3 ms more a batch
                session.execute(insert(ReplyRecord.__table__), replies)  # type: ignore[attr-defined]
            for cursor, now in _last_of_each_run(batch.cursors):
                self._move(session, cursor, now)
            self._commit(session)
        for state, _, _ in batch.threads.values():
            batch.keep(state)
        self._batch = _Batch(reader=batch.reader, states=batch.states)

    def _upsert_threads(self) -> Any:
        """An INSERT of thread rows that updates a row already there, all but its subject."""
        table: Any = ThreadRecord.__table__  # type: ignore[attr-defined]
        insert_ = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert_(table)
        changed = [c.name for c in table.columns if c.name not in ("mailbox", "key", "subject")]
        return statement.on_conflict_do_update(
            index_elements=["mailbox", "key"],
            set_={name: statement.excluded[name] for name in changed},
        )

    def _insert_new(self, model: Any) -> Any:
        """An INSERT that leaves a row already there alone (same key in this mailbox). On the
        table, not the model: the rows are plain dicts, and the ORM's bulk insert spent more
        on them than the database did."""
        table = model.__table__
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite.insert(table).on_conflict_do_nothing()
        return insert(table)

    @staticmethod
    def _commit(session: Session, *, race: str = "") -> None:
        try:
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            if race:  # another worker recorded this message (and its reply) first
                raise RaceLostError(f"{race}: another worker recorded it first") from None
            raise StoreError(f"cannot write to the database: {_why(exc)}") from None
        except SQLAlchemyError as exc:
            session.rollback()
            fix = "; free disk space for it, then run again" if _full(exc) else ""
            raise StoreError(f"cannot write to the database: {_why(exc)}{fix}") from None
