"""The SQLite store: a database made before Alembic (or by an older quotebot) is refused with
the command that fixes it, and `quotebot db upgrade` brings it up with every row kept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.adapters.schema import head, upgrade
from bot.adapters.store import BATCH_RECORDS, STATES_KEPT, ReplyRecord, Store, open_engine
from bot.errors import SchemaError
from bot.model import Cursor, Decision, Fields, ThreadState

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def _pre_alembic(path: Path) -> None:
    """A file as quotebot made it before Alembic, with no version table."""
    with sqlite3.connect(path) as db:
        db.executescript(_FIRST_THREADS)
        db.execute("ALTER TABLE threadrecord ADD COLUMN quoted_revisions VARCHAR DEFAULT '[]'")


def test_database_without_new_thread_column_is_upgraded(tmp_path: Path) -> None:
    """quoted_revisions came after the first schema: an older file is refused until `db
    upgrade` adds the column, and the thread rows already there keep their state."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    with sqlite3.connect(path) as db:  # the oldest shape: one thread table without the column
        db.executescript(_FIRST_THREADS)
        db.execute(
            "INSERT INTO threadrecord (key, subject, status, bot_sentences, updated_at) "
            "VALUES ('q-1042', 'Quote Q-1042', 'released', '[]', '2026-11-01 08:00:00')"
        )
    with pytest.raises(SchemaError, match="quotebot db upgrade"):
        Store(url)
    assert upgrade(open_engine(url)) == ("unversioned", head())
    state = Store(url).thread("q-1042")
    assert (state.status, state.quoted_revisions) == ("released", frozenset())


def test_database_without_new_message_columns_is_upgraded(tmp_path: Path) -> None:
    """sentence, thread_status, attempts and retry_at came later: `db upgrade` gives an older
    file them and keeps its rows."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    _pre_alembic(path)
    with sqlite3.connect(path) as db:
        db.executescript(_FIRST_MESSAGES)
        db.execute(
            "INSERT INTO messagerecord (message_id, source_key, thread_key, sender, subject, "
            "processed_at, action, stage, missing, reason, fields_json) VALUES ('<a@b>', 'k', "
            "'q-1', 'a@b', 's', '2026-11-01 08:00:00', 'record', 'production', '[]', '', '{}')"
        )
    upgrade(open_engine(url))
    store = Store(url)
    assert store.seen("<a@b>")
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT sentence, thread_status, attempts, retry_at, mailbox FROM messagerecord"
        ).fetchone()
    assert row == ("", "", 0, None, "default")


_FIRST_THREADS = """
CREATE TABLE messagerecord (id INTEGER NOT NULL PRIMARY KEY, message_id VARCHAR NOT NULL,
  source_key VARCHAR NOT NULL, thread_key VARCHAR NOT NULL, sender VARCHAR NOT NULL,
  subject VARCHAR NOT NULL, received_at DATETIME, processed_at DATETIME NOT NULL,
  action VARCHAR NOT NULL, stage VARCHAR NOT NULL, missing VARCHAR NOT NULL,
  reason VARCHAR NOT NULL, fields_json VARCHAR NOT NULL, sentence VARCHAR NOT NULL,
  thread_status VARCHAR NOT NULL, error VARCHAR, attempts INTEGER NOT NULL, retry_at DATETIME);
CREATE INDEX ix_messagerecord_thread_key ON messagerecord (thread_key);
CREATE UNIQUE INDEX ix_messagerecord_message_id ON messagerecord (message_id);
CREATE TABLE threadrecord ("key" VARCHAR NOT NULL PRIMARY KEY, subject VARCHAR NOT NULL,
  status VARCHAR NOT NULL, carry_revision VARCHAR, released_revision VARCHAR,
  released_quantity INTEGER, hold_by VARCHAR, release_by VARCHAR, last_clarify_at DATETIME,
  last_clarify_to VARCHAR, bot_sentences VARCHAR NOT NULL, updated_at DATETIME NOT NULL);
CREATE TABLE foldercursor (folder VARCHAR NOT NULL PRIMARY KEY, uidvalidity INTEGER NOT NULL,
  uid INTEGER NOT NULL, updated_at DATETIME NOT NULL);
CREATE TABLE runrecord (id INTEGER NOT NULL PRIMARY KEY, started_at DATETIME NOT NULL,
  finished_at DATETIME, handled INTEGER NOT NULL, sent INTEGER NOT NULL,
  drafted INTEGER NOT NULL, failed INTEGER NOT NULL, error VARCHAR);
CREATE INDEX ix_runrecord_started_at ON runrecord (started_at);
CREATE TABLE digestrecord (id INTEGER NOT NULL PRIMARY KEY, sent_at DATETIME NOT NULL,
  recipient VARCHAR NOT NULL);
CREATE INDEX ix_digestrecord_sent_at ON digestrecord (sent_at);
CREATE TABLE nudgerecord (id INTEGER NOT NULL PRIMARY KEY, thread_key VARCHAR NOT NULL,
  number INTEGER NOT NULL, reply_message_id VARCHAR NOT NULL UNIQUE, recipient VARCHAR NOT NULL,
  status VARCHAR NOT NULL, body VARCHAR NOT NULL, created_at DATETIME NOT NULL, sent_at DATETIME);
CREATE INDEX ix_nudgerecord_thread_key ON nudgerecord (thread_key);
CREATE TABLE setting ("key" VARCHAR NOT NULL PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE threadlink (message_id VARCHAR NOT NULL PRIMARY KEY, thread_key VARCHAR NOT NULL);
CREATE INDEX ix_threadlink_thread_key ON threadlink (thread_key);
CREATE TABLE replyrecord (id INTEGER NOT NULL PRIMARY KEY, in_reply_to VARCHAR NOT NULL,
  reply_message_id VARCHAR NOT NULL, thread_key VARCHAR NOT NULL, recipient VARCHAR NOT NULL,
  status VARCHAR NOT NULL, reason VARCHAR NOT NULL, body VARCHAR NOT NULL,
  created_at DATETIME NOT NULL, sent_at DATETIME);
CREATE INDEX ix_replyrecord_thread_key ON replyrecord (thread_key);
CREATE UNIQUE INDEX ix_replyrecord_in_reply_to ON replyrecord (in_reply_to);
"""

# the message table before sentence, thread_status, attempts and retry_at
_FIRST_MESSAGES = """
DROP TABLE messagerecord;
CREATE TABLE messagerecord (id INTEGER NOT NULL PRIMARY KEY, message_id VARCHAR NOT NULL,
  source_key VARCHAR NOT NULL, thread_key VARCHAR NOT NULL, sender VARCHAR NOT NULL,
  subject VARCHAR NOT NULL, received_at DATETIME, processed_at DATETIME NOT NULL,
  action VARCHAR NOT NULL, stage VARCHAR NOT NULL, missing VARCHAR NOT NULL,
  reason VARCHAR NOT NULL, fields_json VARCHAR NOT NULL, error VARCHAR);
CREATE INDEX ix_messagerecord_thread_key ON messagerecord (thread_key);
CREATE UNIQUE INDEX ix_messagerecord_message_id ON messagerecord (message_id);
"""


def _decision(message_id: str, action: str = "ignore") -> Decision:
    return Decision(message_id, action, "none", (), Fields(), "why", "text")  # type: ignore[arg-type]


def _record(
    store: Store, number: int, *, thread: str = "q-1", reply: ReplyRecord | None = None
) -> None:
    """Record message `number` of folder INBOX (UID = number) in `thread`."""
    message_id = f"<m{number}@buyer.example>"
    store.record(
        decision=_decision(message_id, "clarify" if reply else "ignore"),
        state=ThreadState(key=thread, status="awaiting", bot_sentences=frozenset({f"s{number}"})),
        source_key=f"INBOX/1/{number}",
        sender="buyer@buyer.example",
        subject="Quote",
        received_at=None,
        links=(message_id, "<quote@shop.example>"),
        reply=reply,
        now=NOW,
        cursor=Cursor("INBOX", 1, number),
    )


def _committed(path: Path) -> tuple[int, int | None]:
    """Message rows and the INBOX cursor as another process sees them."""
    with sqlite3.connect(path) as db:
        messages = db.execute("SELECT count(*) FROM messagerecord").fetchone()[0]
        cursor = db.execute("SELECT uid FROM foldercursor WHERE folder = 'INBOX'").fetchone()
    return messages, cursor[0] if cursor else None


def test_a_batch_is_seen_by_reads_before_it_is_committed(tmp_path: Path) -> None:
    """Inside batch(), a recorded message is seen, its links and thread state read back, while
    nothing of it is committed yet (the cursor neither)."""
    path = tmp_path / "q.db"
    store = Store(f"sqlite:///{path}")
    with store.batch():
        _record(store, 1)
        assert store.seen("<m1@buyer.example>")
        assert store.thread_of(("<quote@shop.example>",)) == {"<quote@shop.example>": "q-1"}
        assert store.thread("q-1").bot_sentences == frozenset({"s1"})
        assert _committed(path) == (0, None)
    assert _committed(path) == (1, 1)
    assert Store(f"sqlite:///{path}").thread("q-1").status == "awaiting"


def test_a_batch_commits_every_batch_records_with_its_cursor(tmp_path: Path) -> None:
    """Past BATCH_RECORDS records the batch is committed with the cursor of its last message;
    the records after it, and their cursor, wait (a crash re-reads them)."""
    path = tmp_path / "q.db"
    store = Store(f"sqlite:///{path}")
    with store.batch():
        for number in range(1, BATCH_RECORDS + 6):
            _record(store, number, thread=f"q-{number % 7}")
        assert _committed(path) == (BATCH_RECORDS, BATCH_RECORDS)
    assert _committed(path) == (BATCH_RECORDS + 5, BATCH_RECORDS + 5)
    with sqlite3.connect(path) as db:
        links = db.execute("SELECT count(*) FROM threadlink").fetchone()[0]
        threads = db.execute("SELECT count(*) FROM threadrecord").fetchone()[0]
    assert (links, threads) == (BATCH_RECORDS + 6, 7)  # the quote's link once, first thread


def test_a_reply_to_send_is_committed_at_once_with_the_batch_before_it(tmp_path: Path) -> None:
    """A record with a pending reply is committed before record() returns (it is sent next),
    and the batched records before it with it: the cursor is never past a lost record."""
    path = tmp_path / "q.db"
    store = Store(f"sqlite:///{path}")
    with store.batch():
        _record(store, 1)
        _record(store, 2)
        reply = ReplyRecord(
            in_reply_to="<m3@buyer.example>",
            reply_message_id="<r3@shop.example>",
            thread_key="q-1",
            recipient="buyer@buyer.example",
            status="pending",
            created_at=NOW,
        )
        _record(store, 3, reply=reply)
        assert _committed(path) == (3, 3)
        assert [r.in_reply_to for r in store.pending_replies()] == ["<m3@buyer.example>"]


def test_a_failure_inside_a_batch_keeps_the_records_before_it(tmp_path: Path) -> None:
    """A message that fails inside a batch is recorded after the batch before it is committed,
    so its cursor is not ahead of them; an error that ends the batch still commits it."""
    path = tmp_path / "q.db"
    store = Store(f"sqlite:///{path}")
    with pytest.raises(RuntimeError), store.batch():
        _record(store, 1)
        store.record_failure(
            message_id="<INBOX/1/2@quotebot.invalid>",
            source_key="INBOX/1/2",
            error="boom",
            now=NOW,
            cursor=Cursor("INBOX", 1, 2),
        )
        assert _committed(path) == (2, 2)
        _record(store, 3)
        raise RuntimeError("the mailbox went away")
    assert _committed(path) == (3, 3)


def _statements(store: Store) -> list[str]:
    """Every SQL statement the store's engine runs from now on."""
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def _awaiting_threads(store: Store, count: int) -> None:
    """`count` threads awaiting an answer to a clarification that went out."""
    for number in range(1, count + 1):
        reply = ReplyRecord(
            in_reply_to=f"<m{number}@buyer.example>",
            reply_message_id=f"<r{number}@shop.example>",
            thread_key=f"q-{number}",
            recipient="buyer@buyer.example",
            status="pending",
            body="Which revision?",
            created_at=NOW,
        )
        _record(store, number, thread=f"q-{number}", reply=reply)
        store.mark_reply(f"<m{number}@buyer.example>", status="sent", now=NOW)
    store.record_nudge(
        thread_key="q-1",
        number=1,
        reply="A reminder",
        message_id="<n1@shop.example>",
        recipient="buyer@buyer.example",
        status="sent",
        now=NOW.replace(hour=9),
    )


@pytest.mark.parametrize("count", [1, 3, 40], ids=["1-thread", "3-threads", "40-threads"])
def test_awaiting_asks_the_database_a_constant_number_of_times(tmp_path: Path, count: int) -> None:
    """The reminder check runs three queries however many threads await an answer, and still
    finds each thread's clarification, its missing fields and its reminders."""
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    _awaiting_threads(store, count)
    statements = _statements(store)
    found = {a.thread_key: a for a in store.awaiting()}
    assert len(statements) == 3
    assert set(found) == {f"q-{n}" for n in range(1, count + 1)}
    assert (found["q-1"].nudges, found["q-1"].clarification) == (1, "Which revision?")
    assert all(a.nudges == 0 for k, a in found.items() if k != "q-1")


def test_reads_in_a_batch_see_a_reply_committed_in_it(tmp_path: Path) -> None:
    """A thread read early in a batch, then changed by a record committed at once (a reply to
    send), reads back changed: the batch's reads never serve an old state."""
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    with store.batch():
        assert store.thread("q-9").status == "open"
        assert not store.seen("<m1@buyer.example>")
        reply = ReplyRecord(
            in_reply_to="<m1@buyer.example>",
            reply_message_id="<r1@shop.example>",
            thread_key="q-9",
            recipient="buyer@buyer.example",
            status="pending",
            created_at=NOW,
        )
        _record(store, 1, thread="q-9", reply=reply)
        assert store.thread("q-9").status == "awaiting"
        assert store.seen("<m1@buyer.example>") and store.seen("<r1@shop.example>")
        assert store.thread_of(("<m1@buyer.example>",)) == {"<m1@buyer.example>": "q-9"}


def test_thread_states_read_back_in_a_batch_are_the_committed_ones(tmp_path: Path) -> None:
    """A batch remembers the thread states it committed or read (a backlog meets the same
    threads again): across its commits, after a record committed at once, and past
    STATES_KEPT threads, each thread reads back as the database holds it."""
    path = tmp_path / "q.db"
    store = Store(f"sqlite:///{path}")
    last = STATES_KEPT + 20
    with store.batch():
        for number in range(1, last + 1):
            _record(store, number, thread=f"q-{number}")
        store.flush()
        assert store.thread(f"q-{last}").bot_sentences == frozenset({f"s{last}"})
        reply = ReplyRecord(
            in_reply_to="<m9000@buyer.example>",
            reply_message_id="<r9000@shop.example>",
            thread_key=f"q-{last}",
            recipient="buyer@buyer.example",
            status="pending",
            created_at=NOW,
        )
        _record(store, 9000, thread=f"q-{last}", reply=reply)  # committed at once
        in_batch = {k: store.thread(f"q-{k}") for k in (2, last)}  # q-2: long forgotten
    assert in_batch[last].bot_sentences == frozenset({"s9000"})
    assert in_batch[2].bot_sentences == frozenset({"s2"})
    fresh = Store(f"sqlite:///{path}")
    assert {k: fresh.thread(f"q-{k}") for k in (2, last)} == in_batch


def test_a_batch_backs_off_from_messages_another_worker_recorded_with_their_replies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two workers on one database (one stalled past its lease): the batch of the second
    leaves out the messages the first recorded, and their suppressed replies with them,
    and commits the rest instead of failing on the reply's unique key."""
    url = f"sqlite:///{tmp_path / 'q.db'}"

    def suppressed(number: int) -> ReplyRecord:
        return ReplyRecord(
            in_reply_to=f"<m{number}@buyer.example>",
            reply_message_id="",
            thread_key="q-1",
            recipient="buyer@buyer.example",
            status="suppressed",
            created_at=NOW,
        )

    first, second = Store(url), Store(url)
    _record(first, 2, reply=suppressed(2))
    with caplog.at_level("WARNING", logger="bot.adapters.store"), second.batch():
        _record(second, 1)
        _record(second, 2, reply=suppressed(2))
        _record(second, 3, reply=suppressed(3))
    assert "<m2@buyer.example>: another worker recorded it first" in caplog.text
    assert _committed(tmp_path / "q.db") == (3, 3)
    with sqlite3.connect(tmp_path / "q.db") as db:
        replies = db.execute("SELECT in_reply_to FROM replyrecord ORDER BY in_reply_to")
        assert [r[0] for r in replies] == ["<m2@buyer.example>", "<m3@buyer.example>"]
