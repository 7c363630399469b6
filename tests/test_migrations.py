"""Schema migrations on SQLite and PostgreSQL: a database made by the first schema, with data
in every table, upgrades to the newest without losing a row; the models match the newest
revision; `run` refuses an old schema with the command that fixes it; `db upgrade` recognises a
file made before migrations existed."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import MetaData, func, insert, inspect, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot.adapters.schema import HEAD, _alembic, head, revision, upgrade
from bot.adapters.store import Store, open_engine
from bot.cli import main
from bot.model import Cursor

AT = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
ROWS: dict[str, list[dict[str, object]]] = {
    "messagerecord": [
        {
            "message_id": f"<m{n}@acme-robotics.example>", "source_key": f"INBOX/7/{n}",
            "thread_key": "q-1042", "sender": "lee@acme-robotics.example", "subject": "Q-1042",
            "received_at": AT, "processed_at": AT, "action": "clarify", "stage": "partial",
            "missing": '["revision"]', "reason": "partial release", "fields_json": "{}",
            "sentence": "Go ahead with 30.", "thread_status": "awaiting", "error": None,
            "attempts": 0, "retry_at": None,
        }
        for n in range(3)
    ],
    "threadrecord": [
        {
            "key": "q-1042", "subject": "Quote Q-1042", "status": "awaiting",
            "carry_revision": "B2", "released_revision": None, "released_quantity": 30,
            "hold_by": None, "release_by": None, "last_clarify_at": AT,
            "last_clarify_to": "lee@acme-robotics.example", "bot_sentences": '["x"]',
            "quoted_revisions": '["B2"]', "updated_at": AT,
        }
    ],
    "foldercursor": [{"folder": "INBOX", "uidvalidity": 7, "uid": 3, "updated_at": AT}],
    "runrecord": [
        {"started_at": AT, "finished_at": AT, "handled": 3, "sent": 1, "drafted": 0,
         "failed": 0, "error": None}
    ],
    "digestrecord": [{"sent_at": AT, "recipient": "ops@printshop.example"}],
    "nudgerecord": [
        {"thread_key": "q-1042", "number": 1, "reply_message_id": "<n1@printshop.example>",
         "recipient": "lee@acme-robotics.example", "status": "sent", "body": "reminder",
         "created_at": AT, "sent_at": AT}
    ],
    "setting": [{"key": "first_started", "value": AT.isoformat()}],
    "threadlink": [
        {"message_id": f"<m{n}@acme-robotics.example>", "thread_key": "q-1042"} for n in range(3)
    ],
    "replyrecord": [
        {"in_reply_to": "<m0@acme-robotics.example>", "reply_message_id": "<r0@printshop.example>",
         "thread_key": "q-1042", "recipient": "lee@acme-robotics.example", "status": "pending",
         "reason": "", "body": "the reply", "created_at": AT, "sent_at": None}
    ],
}  # fmt: skip


def _first_schema_with_data(url: str) -> Engine:
    """A database at revision 0001 (the schema on main before this change) with rows in every
    table."""
    engine = open_engine(url)
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "0001")
    tables = MetaData()
    tables.reflect(engine)
    with engine.begin() as conn:
        for name, rows in ROWS.items():
            conn.execute(insert(tables.tables[name]), rows)
    return engine


def test_first_schema_with_data_upgrades_keeping_every_row(database_url: str) -> None:
    """Upgrading a first-schema database with data keeps every row of every table, files them
    under the mailbox "default", and the bot reads its threads, cursors and pending replies."""
    engine = _first_schema_with_data(database_url)
    assert upgrade(engine) == ("0001", head())
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        for name, rows in ROWS.items():
            table = tables.tables[name]
            assert conn.execute(select(func.count()).select_from(table)).scalar() == len(rows)
            if "mailbox" in table.c:
                mailboxes = conn.execute(select(table.c.mailbox).distinct()).scalars().all()
                assert mailboxes == ["default"], name
            for row in rows:  # every value survives, not only the count
                found = conn.execute(
                    select(table).where(*(table.c[k] == v for k, v in row.items() if v))
                ).all()
                assert len(found) == 1, (name, row)
    store = Store(database_url)
    state = store.thread("q-1042")
    assert (state.status, state.released_quantity, state.quoted_revisions) == (
        "awaiting",
        30,
        frozenset({"B2"}),
    )
    assert store.seen("<m2@acme-robotics.example>")
    assert store.cursors() == {"INBOX": Cursor("INBOX", 7, 3)}
    assert [r.reply_message_id for r in store.pending_replies()] == ["<r0@printshop.example>"]
    assert store.first_started(datetime.now(UTC)) == AT
    engine.dispose()
    store.engine.dispose()


def test_models_match_the_newest_migration(database_url: str) -> None:
    """A database migrated to the newest revision has exactly the tables, columns and indexes
    of the models (a fresh database is made from the models directly)."""
    engine = open_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    engine.dispose()


def test_fresh_database_is_created_at_the_newest_revision(database_url: str) -> None:
    """Opening an empty database creates it at the newest revision, with no upgrade step."""
    store = Store(database_url)
    assert revision(store.engine) == head()
    store.engine.dispose()


def test_the_newest_revision_named_in_code_is_alembics_head() -> None:
    """`schema.HEAD` (what a current database is recognised by without Alembic) is the head
    of bot/migrations: a new migration must change it too."""
    assert head() == HEAD


def _alembic_loaded_opening(database_url: str) -> bool:
    """Whether opening the database in a fresh process imports Alembic."""
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bot.adapters.store import Store; "
            f"Store({database_url!r}).engine.dispose(); print('alembic' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert opened.stdout.strip() in ("True", "False"), opened.stderr
    return opened.stdout.strip() == "True"


def test_a_new_or_current_database_opens_without_loading_alembic(database_url: str) -> None:
    """Creating a new database and opening one already at the newest revision never import
    Alembic (0.18 s of every command's start-up, 0.12 s more of a first start): the stamp is
    read with one query and written with one insert."""
    assert not _alembic_loaded_opening(database_url)  # created at the newest revision
    assert not _alembic_loaded_opening(database_url)  # opened
    engine = open_engine(database_url)
    assert revision(engine) == head()  # Alembic reads the stamp
    engine.dispose()


def test_a_new_databases_revision_table_is_the_one_alembic_makes(database_url: str) -> None:
    """The revision table a new database gets without Alembic has the columns, types and key
    of the one Alembic's `stamp` creates."""
    engine = Store(database_url).engine

    def shape() -> tuple[object, ...]:
        tables = inspect(engine)
        columns = [
            (c["name"], str(c["type"]), c["nullable"])
            for c in tables.get_columns("alembic_version")
        ]
        key = tables.get_pk_constraint("alembic_version")
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        return columns, key["name"], key["constrained_columns"], [tuple(r) for r in rows]

    ours = shape()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
        command.stamp(_alembic(conn), head())
    assert shape() == ours
    engine.dispose()


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "quotebot.toml"
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "mail" / sub).mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[bot]\naddress = "quotes@printshop.example"\n[mailbox]\npath = "{tmp_path / "mail"}"\n'
        f'[outbox]\npath = "{tmp_path / "out"}"\n[database]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return path


def test_run_refuses_an_old_schema_naming_the_upgrade_command(tmp_path: Path) -> None:
    """`run` on a first-schema database exits 1 with one line naming `quotebot db upgrade
    --config FILE`, and leaves the database as it was."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _first_schema_with_data(url).dispose()
    config = _config(tmp_path, url)
    result = CliRunner().invoke(main, ["run", "--once", "--config", str(config)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert f"run `quotebot db upgrade --config {config}`" in result.output
    assert revision(open_engine(url)) == "0001"


def test_db_upgrade_recognises_a_file_made_before_migrations(tmp_path: Path) -> None:
    """A SQLite file quotebot made before Alembic (no version table) is upgraded by `quotebot
    db upgrade` with its rows, after which `run` works and a second upgrade is a no-op."""
    path = tmp_path / "old.db"
    _first_schema_with_data(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE alembic_version")
    config = _config(tmp_path, f"sqlite:///{path}")
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"from revision unversioned to {head()}" in result.output
    ran = runner.invoke(main, ["run", "--once", "--config", str(config)])
    assert ran.exit_code == 0, ran.output
    again = runner.invoke(main, ["db", "upgrade", "--config", str(config)])
    assert f"already at revision {head()}" in again.output
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM messagerecord").fetchone() == (3,)


def test_schema_from_a_newer_quotebot_is_refused_by_run_and_upgrade(tmp_path: Path) -> None:
    """A database a newer quotebot upgraded is refused in one line by `run` and by `db
    upgrade`, which say to run that version instead of upgrading."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "new.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    config = _config(tmp_path, url)
    for command_line in (["run", "--once"], ["db", "upgrade"]):
        result = CliRunner().invoke(main, [*command_line, "--config", str(config)])
        assert result.exit_code == 1, result.output
        assert result.output.count("\n") == 1
        assert "revision 0099, made by a newer quotebot" in result.output


KILLED_MID_CREATE = """
import os, signal, sys
from sqlalchemy import event
from sqlmodel import SQLModel
from bot.adapters.store import Store
def die(*_args, **_kw):
    os.kill(os.getpid(), signal.SIGKILL)
event.listen(SQLModel.metadata.tables["messagerecord"], "after_create", die)
Store(sys.argv[1])
"""


def test_killed_while_creating_the_schema_leaves_a_database_the_next_run_creates(
    database_url: str,
) -> None:
    """A process killed between two CREATE TABLEs of a fresh database (the first run, killed by
    a deploy or the OOM killer) leaves no half schema behind: the next open finds an empty
    database and creates it whole, instead of refusing it as "unversioned"."""
    child = subprocess.run(
        [sys.executable, "-c", KILLED_MID_CREATE, database_url],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    engine = open_engine(database_url)
    assert revision(engine) is None
    engine.dispose()
    store = Store(database_url)
    assert revision(store.engine) == head()
    store.close()
