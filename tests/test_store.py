"""The SQLite store: a database made by an earlier version opens and keeps its threads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.adapters.store import Store


def test_database_without_new_thread_column_is_upgraded(tmp_path: Path) -> None:
    """quoted_revisions came after the first schema: opening an older file adds it, and the
    thread rows already there keep their state."""
    path = tmp_path / "old.db"
    Store(f"sqlite:///{path}")  # the current schema, then drop the new column as an old file
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE threadrecord DROP COLUMN quoted_revisions")
        db.execute(
            "INSERT INTO threadrecord (key, subject, status, bot_sentences, updated_at) "
            "VALUES ('q-1042', 'Quote Q-1042', 'released', '[]', '2026-11-01 08:00:00')"
        )
    state = Store(f"sqlite:///{path}").thread("q-1042")
    assert (state.status, state.quoted_revisions) == ("released", frozenset())


def test_database_without_new_message_columns_is_upgraded(tmp_path: Path) -> None:
    """sentence, thread_status, attempts and retry_at came later: an older file gets them and
    keeps its rows."""
    path = tmp_path / "old.db"
    Store(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        for column in ("sentence", "thread_status", "attempts", "retry_at"):
            db.execute(f"ALTER TABLE messagerecord DROP COLUMN {column}")
        db.execute(
            "INSERT INTO messagerecord (message_id, source_key, thread_key, sender, subject, "
            "processed_at, action, stage, missing, reason, fields_json) VALUES ('<a@b>', 'k', "
            "'q-1', 'a@b', 's', '2026-11-01 08:00:00', 'record', 'production', '[]', '', '{}')"
        )
    store = Store(f"sqlite:///{path}")
    assert store.seen("<a@b>")
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT sentence, thread_status, attempts, retry_at FROM messagerecord"
        ).fetchone()
    assert row == ("", "", 0, None)
