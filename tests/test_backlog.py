"""A first start over a mailbox with history, against a real Dovecot: the old mail builds
thread context and is never answered, and once it is done a pass that finds nothing new sends
the server the same few commands whatever the folder's size."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import ServerSettings

from benchmarks.mailbox import PASSWORD, PASSWORD_ENV, Dovecot, SmtpSink, bot_config, fill
from benchmarks.mailgen import Generator
from benchmarks.measure import counting_commands
from bot.adapters.store import Store
from bot.config import load_config
from bot.rules import load_rules
from bot.service import Bot
from bot.wiring import open_adapters

MESSAGES = 300  # past the first 64 of a pass: the parse workers take part
SMALL = 20
END = datetime.now(UTC) - timedelta(days=1)  # the generated mail ends a day ago


@pytest.fixture
def mailbox(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> Dovecot:
    """INBOX with MESSAGES generated quote-thread messages, the first SMALL also in Small."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    fill(dovecot, Generator(end=END).messages(MESSAGES), small="Small", small_count=SMALL)
    return dovecot


@contextmanager
def _bot(path: Path) -> Iterator[Bot]:
    config = load_config(path)
    adapters = open_adapters(config)
    try:
        yield Bot(
            config,
            load_rules(config.bot.rules_dir),
            source=adapters.source,
            outbox=adapters.outbox,
            store=Store(config.database_url),
        )
    finally:
        adapters.close()


def _config(tmp_path: Path, imap: ServerSettings, sink: SmtpSink, folder: str) -> Path:
    return bot_config(
        tmp_path / f"{folder}.toml",
        imap=imap,
        database=tmp_path / f"{folder}.db",
        since=datetime.now(UTC),  # every message is history
        folder=folder,
        outbox=sink.settings(),
    )


def test_history_before_since_is_decided_and_never_answered(
    tmp_path: Path, mailbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    """Every old message is decided and recorded, those that would need a clarification
    included, and not one reply reaches the SMTP server."""
    path = _config(tmp_path, mailbox.imap_settings(), smtp_sink, "INBOX")
    with _bot(path) as bot:
        report = bot.run_once()
    assert len(report.rows) + report.skipped == MESSAGES and report.failed == 0
    with sqlite3.connect(tmp_path / "INBOX.db") as db:
        clarify = db.execute("SELECT count(*) FROM messagerecord WHERE action = 'clarify'")
        statuses = db.execute("SELECT DISTINCT status FROM replyrecord").fetchall()
        threads = db.execute("SELECT count(*) FROM threadrecord").fetchone()[0]
        assert clarify.fetchone()[0] > 10  # they would have been answered
    assert statuses == [("suppressed",)]
    assert threads > 10
    assert report.replies == [] and smtp_sink.received == []


def test_an_idle_pass_sends_the_same_commands_whatever_the_folder_size(
    tmp_path: Path, mailbox: Dovecot, smtp_sink: SmtpSink
) -> None:
    """Once a folder is done, a pass that finds nothing new sends the same IMAP commands on a
    folder of SMALL messages and of MESSAGES: it never lists or fetches the old mail, and it
    does not open the folder again (EXAMINE makes the server sync the whole folder): NOOP on
    the connection kept on it, then the search past the cursor."""
    commands = {}
    for folder in ("Small", "INBOX"):
        path = _config(tmp_path, mailbox.imap_settings(), smtp_sink, folder)
        with _bot(path) as bot:
            with counting_commands() as first:
                synced = bot.run_once()
            with counting_commands() as log:
                idle = bot.run_once()
                bot.run_once()
        assert len(synced.rows) + synced.skipped > 0 and idle.rows == []
        assert first.names.count("EXAMINE") == 1  # the first pass opens the folder, once
        commands[folder] = log.names
    assert commands["Small"] == commands["INBOX"]
    assert commands["INBOX"] == ["NOOP", "UID SEARCH"] * 2
