"""Read what the morning digest needs from the store, as plain rows (read-only selects).

No ORM object leaves this module: every record becomes one of `bot.digest`'s frozen dataclasses,
with its times made aware (SQLite hands back naive datetimes, which the store writes in UTC).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, or_, select

from bot.adapters.store import (
    DigestRecord,
    MessageRecord,
    NudgeRecord,
    ReplyRecord,
    RunRecord,
    Store,
    ThreadRecord,
)
from bot.digest import ATTENTION, AskRow, DigestData, MessageRow, RunRow, ThreadRow
from bot.errors import StoreError

OPEN = ("awaiting", *ATTENTION)  # thread statuses the digest shows whenever they began


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fields(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _missing(raw: str) -> tuple[str, ...]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def _message(row: MessageRecord) -> MessageRow:
    fields = _fields(row.fields_json)
    return MessageRow(
        seq=row.id or 0,
        thread_key=row.thread_key,
        sender=row.sender,
        subject=row.subject,
        received_at=_aware(row.received_at) if row.received_at else None,
        processed_at=_aware(row.processed_at),
        action=row.action,
        stage=row.stage,
        missing=_missing(row.missing),
        sentence=row.sentence or "",
        thread_status=row.thread_status or "",
        quantity=_int(fields.get("quantity")),
        held_quantity=_int(fields.get("held_quantity")),
        revision=_str(fields.get("revision")),
        material=_str(fields.get("material")),
        po_number=_str(fields.get("po_number")),
        authority=_str(fields.get("authority")),
        sender_verified=fields.get("sender_verified")
        if isinstance(fields.get("sender_verified"), bool)
        else None,
        source_key=row.source_key,
        error=row.error,
    )


def _thread(row: ThreadRecord) -> ThreadRow:
    return ThreadRow(
        key=row.key,
        subject=row.subject,
        status=row.status,
        released_quantity=row.released_quantity,
        released_revision=row.released_revision,
        release_by=row.release_by,
        hold_by=row.hold_by,
    )


def _run(row: RunRecord | None) -> RunRow | None:
    if row is None:
        return None
    return RunRow(
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at) if row.finished_at else None,
        handled=row.handled,
        sent=row.sent,
        drafted=row.drafted,
        failed=row.failed,
        error=row.error,
    )


def last_digest_at(store: Store, mailbox: str | None = None) -> datetime | None:
    """When the last digest went out (aware), or None when none ever did; `mailbox`: the last
    one recorded for that mailbox ("*": a digest of several)."""
    query = select(DigestRecord.sent_at)
    if mailbox is not None:
        query = query.where(DigestRecord.mailbox == mailbox)
    try:
        with Session(store.engine) as session:
            found = session.exec(query.order_by(col(DigestRecord.sent_at).desc())).first()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the digest history: {exc}") from None
    return _aware(found) if found else None


def load_digest_data(store: Store, *, since: datetime | None, now: datetime) -> DigestData:
    """Everything the digest shows about the store's mailbox: threads still open with all
    their messages, and what happened since `since` (None: ever) up to `now`."""
    try:
        with Session(store.engine) as session:
            return _load(session, since, now, store.mailbox)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the database for the digest: {exc}") from None


def _load(session: Session, since: datetime | None, now: datetime, mailbox: str) -> DigestData:
    start = since.astimezone(UTC) if since else datetime.min.replace(tzinfo=UTC)
    end = now.astimezone(UTC)
    open_threads = list(
        session.exec(
            select(ThreadRecord)
            .where(ThreadRecord.mailbox == mailbox)
            .where(col(ThreadRecord.status).in_(OPEN))
        )
    )
    open_keys = [t.key for t in open_threads]
    in_window = col(MessageRecord.processed_at).between(start, end)
    messages = [
        _message(m)
        for m in session.exec(
            select(MessageRecord)
            .where(MessageRecord.mailbox == mailbox)
            .where(or_(in_window, col(MessageRecord.thread_key).in_(open_keys)))
            .order_by(col(MessageRecord.processed_at), col(MessageRecord.id))
        )
    ]
    known = set(open_keys)
    others = sorted({m.thread_key for m in messages if m.thread_key and m.thread_key not in known})
    threads = [*open_threads, *_threads(session, others, mailbox)]
    return DigestData(
        since=_aware(since) if since else None,
        threads=tuple(_thread(t) for t in threads),
        messages=tuple(messages),
        asks=tuple(_asks(session, start, end, open_keys, mailbox)),
        runs=tuple(
            run
            for r in session.exec(
                select(RunRecord)
                .where(RunRecord.mailbox == mailbox)
                .where(col(RunRecord.started_at).between(start, end))
                .order_by(col(RunRecord.started_at))
            )
            if (run := _run(r)) is not None
        ),
        last_ok_run=_run(
            session.exec(
                select(RunRecord)
                .where(RunRecord.mailbox == mailbox)
                .where(col(RunRecord.finished_at).is_not(None), col(RunRecord.error).is_(None))
                .where(col(RunRecord.finished_at) <= end)
                .order_by(col(RunRecord.finished_at).desc())
            ).first()
        ),
        latest_run=_run(
            session.exec(
                select(RunRecord)
                .where(RunRecord.mailbox == mailbox)
                .where(col(RunRecord.started_at) <= end)
                .order_by(col(RunRecord.started_at).desc(), col(RunRecord.id).desc())
            ).first()
        ),
    )


def _threads(session: Session, keys: list[str], mailbox: str) -> Iterable[ThreadRecord]:
    if not keys:
        return []
    return session.exec(
        select(ThreadRecord)
        .where(ThreadRecord.mailbox == mailbox)
        .where(col(ThreadRecord.key).in_(keys))
    )


def _asks(
    session: Session, start: datetime, end: datetime, keys: list[str], mailbox: str
) -> list[AskRow]:
    """Clarifications and reminders written since `start`, and every one in the open threads."""
    replies = session.exec(
        select(ReplyRecord)
        .where(ReplyRecord.mailbox == mailbox)
        .where(
            or_(
                col(ReplyRecord.created_at).between(start, end),
                col(ReplyRecord.thread_key).in_(keys),
            )
        )
    )
    nudges = session.exec(
        select(NudgeRecord)
        .where(NudgeRecord.mailbox == mailbox)
        .where(
            or_(
                col(NudgeRecord.created_at).between(start, end),
                col(NudgeRecord.thread_key).in_(keys),
            )
        )
    )
    asks = [AskRow(r.thread_key, "clarify", r.status, _aware(r.created_at)) for r in replies]
    asks += [AskRow(n.thread_key, "nudge", n.status, _aware(n.created_at)) for n in nudges]
    return sorted(asks, key=lambda a: a.at)
