"""The database (SQLModel): messages seen, threads and their release state, replies."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine, select

from bot.errors import StoreError
from bot.model import Cursor, Decision, ThreadState
from bot.nudge import Awaiting


class MessageRecord(SQLModel, table=True):
    """One inbound message the bot has handled (or failed to), with its decision."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(index=True, unique=True)
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

    key: str = Field(primary_key=True)
    subject: str = ""
    status: str = "open"
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


def _add_missing_columns(engine: Engine) -> None:
    """Add columns that a database made by an earlier version lacks (nullable or defaulted
    text only; real schema changes come with migrations)."""
    present = {c["name"] for c in inspect(engine).get_columns("threadrecord")}
    columns = {c["name"] for c in inspect(engine).get_columns("messagerecord")}
    with engine.begin() as conn:
        if "quoted_revisions" not in present:
            conn.execute(
                text("ALTER TABLE threadrecord ADD COLUMN quoted_revisions VARCHAR DEFAULT '[]'")
            )
        for column in ("sentence", "thread_status"):
            if column not in columns:
                conn.execute(
                    text(f"ALTER TABLE messagerecord ADD COLUMN {column} VARCHAR DEFAULT ''")
                )
        if "attempts" not in columns:
            conn.execute(text("ALTER TABLE messagerecord ADD COLUMN attempts INTEGER DEFAULT 0"))
        if "retry_at" not in columns:
            conn.execute(text("ALTER TABLE messagerecord ADD COLUMN retry_at DATETIME"))
        # lookups per message: by where it is (failures) and by the bot's own reply ids
        conn.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_messagerecord_source_key "
                "ON messagerecord (source_key)"
            )
        )
        conn.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_replyrecord_reply_message_id "
                "ON replyrecord (reply_message_id)"
            )
        )


class FolderCursor(SQLModel, table=True):
    """How far a mailbox folder has been handled (IMAP: UIDVALIDITY and the highest UID)."""

    folder: str = Field(primary_key=True)
    uidvalidity: int
    uid: int
    updated_at: datetime


class RunRecord(SQLModel, table=True):
    """One pass over the mailbox: what it did, or the error that ended it (the bot's health)."""

    id: int | None = Field(default=None, primary_key=True)
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
    sent_at: datetime = Field(index=True)
    recipient: str = ""


class NudgeRecord(SQLModel, table=True):
    """A reminder sent in a thread whose clarification stayed unanswered."""

    id: int | None = Field(default=None, primary_key=True)
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

    message_id: str = Field(primary_key=True)
    thread_key: str = Field(index=True)


class ReplyRecord(SQLModel, table=True):
    """A clarification: written here before it is handed to the outbox, marked after."""

    id: int | None = Field(default=None, primary_key=True)
    in_reply_to: str = Field(index=True, unique=True)
    reply_message_id: str = Field(index=True)
    thread_key: str = Field(index=True)
    recipient: str
    status: str  # pending | sent | drafted | dry-run | suppressed | failed (refused for good)
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


class Store:
    """All database access; one transaction per handled message."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            _private_file(Path(url.removeprefix("sqlite:///")))
        try:
            self.engine: Engine = create_engine(url)
            if url.startswith("sqlite"):
                event.listen(self.engine, "connect", _sqlite_pragmas)
            SQLModel.metadata.create_all(self.engine)
            _add_missing_columns(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(
                f"{url}: cannot open the database: {exc}; check database.url"
            ) from None

    def seen(self, message_id: str) -> bool:
        """Whether a message with this Message-ID was already handled, or is a reply the bot
        wrote itself (its copy in the sent folder)."""
        with Session(self.engine) as session:
            found = session.exec(
                select(MessageRecord.id).where(MessageRecord.message_id == message_id)
            ).first()
            if found is not None:
                return True
            own = session.exec(
                select(ReplyRecord.id).where(ReplyRecord.reply_message_id == message_id)
            )
            return own.first() is not None

    def thread_of(self, ids: tuple[str, ...]) -> dict[str, str]:
        """Known thread keys for any of these Message-IDs."""
        if not ids:
            return {}
        with Session(self.engine) as session:
            rows = session.exec(select(ThreadLink).where(ThreadLink.message_id.in_(ids)))  # type: ignore[attr-defined]
            return {row.message_id: row.thread_key for row in rows}

    def thread(self, key: str) -> ThreadState:
        """The stored state of a thread, or a fresh one."""
        with Session(self.engine) as session:
            row = session.get(ThreadRecord, key)
            if row is None:
                return ThreadState(key=key)
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
        is done, atomically."""
        fields = decision.fields
        with Session(self.engine) as session:
            session.add(
                MessageRecord(
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
                )
            )
            row = session.get(ThreadRecord, state.key) or ThreadRecord(
                key=state.key, subject=subject, updated_at=now
            )
            row.status = state.status
            row.carry_revision = state.carry_revision
            row.released_revision = state.released_revision
            row.released_quantity = state.released_quantity
            row.hold_by = state.hold_by
            row.release_by = state.release_by
            row.last_clarify_at = state.last_clarify_at
            row.last_clarify_to = state.last_clarify_to
            row.bot_sentences = json.dumps(sorted(state.bot_sentences))
            row.quoted_revisions = json.dumps(sorted(state.quoted_revisions))
            row.updated_at = now
            session.add(row)
            for message_id in links:
                if session.get(ThreadLink, message_id) is None:
                    session.add(ThreadLink(message_id=message_id, thread_key=state.key))
            if reply is not None:
                session.add(reply)
            self._move(session, cursor, now)
            self._commit(session)

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
        with Session(self.engine) as session:
            existing = session.exec(
                select(MessageRecord).where(MessageRecord.message_id == message_id)
            ).first()
            row = existing or MessageRecord(
                message_id=message_id, source_key=source_key, processed_at=now
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
                .where(MessageRecord.source_key == source_key)
                .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
            ).first()

    def due_retries(self, now: datetime) -> list[str]:
        """Where the failed messages due for another attempt are."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(MessageRecord.source_key)
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

    def retry(self, message_id: str, now: datetime) -> bool:
        """Send a failed or quarantined message back for one more try on the next pass."""
        with Session(self.engine) as session:
            row = session.exec(
                select(MessageRecord)
                .where(MessageRecord.message_id == message_id)
                .where(MessageRecord.error.is_not(None))  # type: ignore[union-attr]
            ).first()
            if row is None:
                return False
            row.attempts, row.retry_at = 0, now
            session.add(row)
            self._commit(session)
            return True

    def awaiting(self) -> list[Awaiting]:
        """Threads waiting on the buyer, with the clarification that asked and its reminders."""
        with Session(self.engine) as session:
            threads = session.exec(select(ThreadRecord).where(ThreadRecord.status == "awaiting"))
            found = []
            for thread in threads:
                asked = session.exec(
                    select(ReplyRecord)
                    .where(ReplyRecord.thread_key == thread.key)
                    .where(ReplyRecord.status.in_(("sent", "drafted")))  # type: ignore[attr-defined]
                    .order_by(ReplyRecord.created_at.desc())  # type: ignore[attr-defined]
                ).first()
                if asked is None or not asked.body:
                    continue
                inbound = session.exec(
                    select(MessageRecord).where(MessageRecord.message_id == asked.in_reply_to)
                ).first()
                nudges = list(
                    session.exec(
                        select(NudgeRecord)
                        .where(NudgeRecord.thread_key == thread.key)
                        .where(NudgeRecord.created_at > asked.created_at)
                    )
                )
                found.append(
                    Awaiting(
                        thread_key=thread.key,
                        asked_at=_aware(asked.sent_at or asked.created_at) or asked.created_at,
                        recipient=asked.recipient,
                        clarification=asked.body,
                        missing=tuple(json.loads(inbound.missing)) if inbound else (),
                        nudges=len(nudges),
                        last_nudge_at=_aware(max((n.created_at for n in nudges), default=None)),
                    )
                )
            return found

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
            return list(session.exec(select(NudgeRecord).where(NudgeRecord.status == "pending")))

    def start_run(self, now: datetime) -> int:
        """Record that a pass began; returns its id for `finish_run`."""
        with Session(self.engine) as session:
            row = RunRecord(started_at=now)
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
            session.add(DigestRecord(sent_at=now, recipient=", ".join(recipients)))
            self._commit(session)

    def first_started(self, now: datetime) -> datetime:
        """When the bot first ran on this database (recorded now if it never did)."""
        with Session(self.engine) as session:
            row = session.get(Setting, "first_started")
            if row is None:
                row = Setting(key="first_started", value=now.isoformat())
                session.add(row)
                self._commit(session)
            return datetime.fromisoformat(row.value)

    def cursors(self) -> dict[str, Cursor]:
        """Every folder's cursor, by folder."""
        with Session(self.engine) as session:
            return {
                row.folder: Cursor(row.folder, row.uidvalidity, row.uid)
                for row in session.exec(select(FolderCursor))
            }

    def advance(self, cursor: Cursor, now: datetime) -> None:
        """Move a folder's cursor past a message that needed no record (seen before)."""
        with Session(self.engine) as session:
            self._move(session, cursor, now)
            self._commit(session)

    @staticmethod
    def _move(session: Session, cursor: Cursor | None, now: datetime) -> None:
        if cursor is None:
            return
        row = session.get(FolderCursor, cursor.folder)
        if row is None:
            row = FolderCursor(folder=cursor.folder, uidvalidity=0, uid=0, updated_at=now)
        if row.uidvalidity != cursor.uidvalidity or cursor.uid > row.uid:
            row.uidvalidity, row.uid, row.updated_at = cursor.uidvalidity, cursor.uid, now
            session.add(row)

    def mark_reply(self, in_reply_to: str, *, status: str, now: datetime, reason: str = "") -> None:
        """Mark a stored reply as handed to the outbox (or as refused for good, with why)."""
        with Session(self.engine) as session:
            row = session.exec(
                select(ReplyRecord).where(ReplyRecord.in_reply_to == in_reply_to)
            ).one()
            row.status, row.sent_at = status, now
            if reason:
                row.reason = reason[:500]
            session.add(row)
            self._commit(session)

    def pending_replies(self) -> list[ReplyRecord]:
        """Replies stored but not yet confirmed as handed on (after a crash)."""
        with Session(self.engine) as session:
            return list(session.exec(select(ReplyRecord).where(ReplyRecord.status == "pending")))

    @staticmethod
    def _commit(session: Session) -> None:
        try:
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(
                f"cannot write to the database: {exc.__class__.__name__}: {exc}"
            ) from None
