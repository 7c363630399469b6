"""A message that fails is tried again with backoff, quarantined after max_attempts, listed by
`quotebot status` and sent back by `quotebot retry`; it never blocks the messages behind it."""

from __future__ import annotations

import mailbox
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.adapters.maildir import MaildirOutbox, MaildirSource
from bot.adapters.store import Store
from bot.cli import main
from bot.config import Config, load_config
from bot.rules import load_rules
from bot.service import Bot

ROOT = Path(__file__).parent.parent
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The example mailbox plus one empty message (which cannot be parsed)."""
    shutil.copytree(ROOT / "examples" / "mailbox", tmp_path / "mailbox")
    (tmp_path / "mailbox" / "new" / "0000000001.M0P0.broken").write_bytes(b"")
    base = load_config(ROOT / "examples" / "quotebot.toml")
    return replace(
        base,
        mailbox=replace(base.mailbox, path=tmp_path / "mailbox"),
        outbox=replace(base.outbox, path=tmp_path / "outbox"),
        database_url=f"sqlite:///{tmp_path / 'quotebot.db'}",
        schedule=replace(base.schedule, max_attempts=3),
    )


def _pass(config: Config, at: datetime) -> list[str]:
    """One pass at `at`; the keys of the messages that failed in it."""
    bot = Bot(
        config,
        load_rules(config.bot.rules_dir),
        source=MaildirSource(config.mailbox.path),  # type: ignore[union-attr]
        outbox=MaildirOutbox(config.outbox.path),  # type: ignore[union-attr]
        store=Store(config.database_url),
        clock=lambda: at,
    )
    return [row.message_id for row in bot.run_once().rows if row.error]


def test_a_failing_message_is_retried_with_backoff_then_quarantined(config: Config) -> None:
    """Attempt 1 at once, the others handled all the same; attempt 2 only after its backoff
    (2 minutes), attempt 3 after 4 more; then quarantined: no more attempts."""
    assert _pass(config, START) == ["0000000001.M0P0.broken"]
    assert len(mailbox.Maildir(config.outbox.path, create=False)) > 0  # the rest went on
    assert _pass(config, START + timedelta(minutes=1)) == []  # not due yet
    assert _pass(config, START + timedelta(minutes=3)) == ["0000000001.M0P0.broken"]
    assert _pass(config, START + timedelta(minutes=8)) == ["0000000001.M0P0.broken"]
    assert _pass(config, START + timedelta(days=2)) == []  # quarantined after 3
    quarantined = Store(config.database_url).quarantined()
    assert [row.attempts for row in quarantined] == [3]
    assert "empty message" in (quarantined[0].error or "")


def test_retry_sends_a_quarantined_message_back(config: Config, tmp_path: Path) -> None:
    """status lists the quarantined message with its id; retry brings it back for one more
    attempt; when it then succeeds, its failure is forgotten."""
    for minutes in (0, 3, 8):
        _pass(config, START + timedelta(minutes=minutes))
    path = tmp_path / "quotebot.toml"
    text = (ROOT / "examples" / "quotebot.toml").read_text(encoding="utf-8")
    text = text.replace("sqlite:///var/quotebot.db", f"sqlite:///{tmp_path / 'quotebot.db'}")
    path.write_text(text, encoding="utf-8")
    status = CliRunner().invoke(main, ["status", "--config", str(path)])
    assert "quarantined (1)" in status.output
    message_id = "<0000000001.M0P0.broken@quotebot.invalid>"
    assert message_id in status.output
    unknown = CliRunner().invoke(main, ["retry", "--config", str(path), "<nope@x>"])
    assert unknown.exit_code == 2 and "no failed message" in unknown.output
    done = CliRunner().invoke(main, ["retry", "--config", str(path), message_id])
    assert done.exit_code == 0, done.output
    broken = Path(config.mailbox.path) / "new" / "0000000001.M0P0.broken"  # type: ignore[union-attr]
    broken.write_bytes(
        b"From: Lee Park <lee.park@acme-robotics.example>\r\nTo: quotes@printshop.example\r\n"
        b"Subject: Re: Quote Q-1099\r\nMessage-ID: <fixed@acme-robotics.example>\r\n"
        b"Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n\r\nThanks!\r\n"
    )  # say a person repaired the file, or a fixed parser now reads it
    assert _pass(config, datetime.now(UTC) + timedelta(minutes=1)) == []  # after the retry
    store = Store(config.database_url)
    assert store.quarantined() == [] and store.seen("<fixed@acme-robotics.example>")
