"""The store on PostgreSQL: the same code path as SQLite gives the same decisions, replies and
threads; a database restart costs a reconnect, not a crash; and one reply per inbound message
per mailbox holds on both databases, the loser of a race backing off before it sends."""

from __future__ import annotations

import logging
import mailbox
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import PostgresDatabase, PostgresServer
from sqlalchemy import text

from bot.adapters.maildir import MaildirOutbox, MaildirSource
from bot.adapters.store import ReplyRecord, Store
from bot.config import Config, load_config
from bot.errors import RaceLostError, StoreError
from bot.model import Decision, Fields, ThreadState
from bot.reports import current_digest, status_lines
from bot.rules import Rules
from bot.service import Bot

ROOT = Path(__file__).parent.parent
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _config(tmp_path: Path, name: str) -> Config:
    """The demo config on a private copy of the example mailbox and its own outbox."""
    shutil.copytree(ROOT / "examples" / "mailbox", tmp_path / name / "mailbox")
    base = load_config(ROOT / "examples" / "quotebot.toml")
    return replace(
        base,
        mailbox=replace(base.mailbox, path=tmp_path / name / "mailbox"),
        outbox=replace(base.outbox, path=tmp_path / name / "outbox"),
    )


def _bot(config: Config, rules: Rules, store: Store) -> Bot:
    ticks = iter(range(10_000))
    return Bot(
        config,
        rules,
        source=MaildirSource(config.mailbox.path),
        outbox=MaildirOutbox(config.outbox.path),
        store=store,
        clock=lambda: NOW + timedelta(seconds=next(ticks)),
    )


def test_example_mailbox_gives_the_same_results_on_postgres_as_on_sqlite(
    tmp_path: Path, rules: Rules, postgres: PostgresDatabase
) -> None:
    """One pass over the example mailbox on each database: the same rows, replies, status
    table; a second pass on PostgreSQL handles and sends nothing."""
    results = []
    for name, url in (("sqlite", f"sqlite:///{tmp_path / 'q.db'}"), ("pg", postgres.url)):
        config = _config(tmp_path, name)
        store = Store(url)
        report = _bot(config, rules, store).run_once()
        status = status_lines(current_digest(config, store, NOW + timedelta(hours=1)))
        replies = sorted(str(r["In-Reply-To"]) for r in report.replies)
        results.append((sorted(report.rows, key=lambda r: r.message_id), replies, status))
        if name == "pg":
            again = _bot(config, rules, store).run_once()
            assert (again.rows, again.replies, again.skipped) == ([], [], len(report.rows))
            assert len(mailbox.Maildir(config.outbox.path, create=False)) == len(replies)
        store.close()
    assert results[0][1], "the example mailbox needs replies"
    assert results[0] == results[1]


def test_store_reconnects_after_the_database_drops_its_connections(
    postgres: PostgresDatabase,
) -> None:
    """After the server ends every connection (as a restart does), the next write succeeds
    on a new connection instead of failing the pass."""
    store = Store(postgres.url)
    store.start_run(NOW)
    assert postgres.disconnect_all() >= 1
    run = store.start_run(NOW)
    store.finish_run(run, now=NOW, handled=1)
    assert store.first_started(NOW) == NOW
    store.close()


def _decision(message_id: str) -> Decision:
    return Decision(
        message_id=message_id,
        action="clarify",
        stage="partial",
        missing=("revision",),
        fields=Fields(),
        reason="partial release missing revision",
        new_text="Go ahead with 30.",
    )


def _record(store: Store, message_id: str, subject: str = "Q-1042") -> None:
    state = ThreadState(key="q-1042", status="awaiting")
    store.record(
        decision=_decision(message_id),
        state=state,
        source_key="INBOX/1/1",
        sender="lee@acme-robotics.example",
        subject=subject,
        received_at=NOW,
        links=(message_id,),
        reply=ReplyRecord(
            in_reply_to=message_id,
            reply_message_id=f"<reply-{id(store)}@printshop.example>",
            thread_key="q-1042",
            recipient="lee@acme-robotics.example",
            status="pending",
            created_at=NOW,
        ),
        now=NOW,
    )


def test_second_record_of_one_message_loses_the_race(database_url: str) -> None:
    """Two workers (two engines) recording the same message: the second gets RaceLostError and
    the database keeps one message and one reply; another mailbox may hold the same id."""
    first, second = Store(database_url), Store(database_url)
    _record(first, "<m1@acme-robotics.example>")
    with pytest.raises(RaceLostError, match="another worker recorded it first"):
        _record(second, "<m1@acme-robotics.example>")
    assert len(first.pending_replies()) == 1
    _record(second.for_mailbox("paris"), "<m1@acme-robotics.example>")
    assert len(second.for_mailbox("paris").pending_replies()) == 1
    first.close()
    second.close()


class _Interleaved(Store):
    """A real store that lets another worker run right after this one checked whether a
    message is new: the window between "seen?" and "recorded" that two workers can race in."""

    def __init__(self, url: str, other: Bot) -> None:
        super().__init__(url)
        self.other, self.raced = other, False

    def seen(self, message_id: str) -> bool:
        found = super().seen(message_id)
        if not found and not self.raced:
            self.raced = True
            self.other.run_once()  # the other worker handles everything, this one included
        return found


def test_race_loser_backs_off_with_a_log_line_and_sends_nothing(
    tmp_path: Path, rules: Rules, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that decided a message another worker recorded meanwhile logs that it backs
    off, sends nothing and goes on; every message has exactly one reply."""
    config = _config(tmp_path, "shared")
    winner = _bot(config, rules, Store(database_url))
    loser = _bot(config, rules, _Interleaved(database_url, winner))
    try:
        with caplog.at_level(logging.WARNING, logger="bot.service"):
            report = loser.run_once()
    finally:
        winner.store.close()
        loser.store.close()
    assert "another worker recorded it first; backing off, nothing sent" in caplog.text
    assert report.failed == 0 and report.replies == []
    outbox = mailbox.Maildir(config.outbox.path, create=False)
    answered = [str(m["In-Reply-To"]) for m in outbox]
    assert answered and len(answered) == len(set(answered))


def test_nul_in_buyer_text_is_stored_on_postgres(postgres: PostgresDatabase) -> None:
    """A NUL in a subject (SQLite stores it, PostgreSQL text cannot) is stored as U+FFFD
    instead of failing every pass at that message."""
    store = Store(postgres.url)
    _record(store, "<nul@acme-robotics.example>", subject="Q-1042\x00 bracket")
    assert store.seen("<nul@acme-robotics.example>")
    with store.engine.connect() as conn:
        subject = conn.execute(text("SELECT subject FROM messagerecord")).scalar()
    assert subject == "Q-1042\ufffd bracket"
    store.close()


def test_store_survives_a_real_server_restart(postgres_server: PostgresServer) -> None:
    """While the server is down a write fails with one StoreError line (the pass is retried
    with backoff); after the restart the same store writes again on new connections."""
    store = Store(postgres_server.url)
    store.start_run(NOW)
    postgres_server.stop()
    with pytest.raises(StoreError) as down:
        store.start_run(NOW)
    assert "\n" not in str(down.value)
    postgres_server.start()
    run = store.start_run(NOW)
    store.finish_run(run, now=NOW, handled=1)
    store.close()
