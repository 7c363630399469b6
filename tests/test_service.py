"""End to end over the bundled example mailbox: decide, reply into the outbox, record."""

from __future__ import annotations

import mailbox
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.maildir import MaildirOutbox, MaildirSource
from bot.adapters.store import Store
from bot.config import Config, load_config
from bot.rules import load_rules
from bot.service import CLOCK_DRIFT, Bot

ROOT = Path(__file__).parent.parent


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The demo config pointed at a private copy of the example mailbox."""
    shutil.copytree(ROOT / "examples" / "mailbox", tmp_path / "mailbox")
    base = load_config(ROOT / "examples" / "quotebot.toml")
    return replace(
        base,
        mailbox=replace(base.mailbox, path=tmp_path / "mailbox"),
        outbox=replace(base.outbox, path=tmp_path / "outbox"),
        database_url=f"sqlite:///{tmp_path / 'quotebot.db'}",
    )


def _bot(config: Config) -> Bot:
    return Bot(
        config,
        load_rules(config.bot.rules_dir),
        source=MaildirSource(config.mailbox.path),
        outbox=MaildirOutbox(config.outbox.path),
        store=Store(config.database_url),
    )


def test_example_mailbox_runs_twice_and_second_run_sends_nothing(config: Config) -> None:
    """The first pass answers the incomplete approvals; the second handles and sends nothing."""
    first = _bot(config).run_once()
    outbox = mailbox.Maildir(config.outbox.path, create=False)
    assert first.failed == 0
    assert len(first.replies) == len(outbox) > 0
    second = _bot(config).run_once()
    assert second.rows == [] and second.replies == []
    assert second.skipped == len(first.rows)
    assert len(mailbox.Maildir(config.outbox.path, create=False)) == len(first.replies)


def test_replies_are_threaded_rfc3834_replies_to_the_sender(config: Config) -> None:
    """Every reply goes to a customer, threads under the message and says it is automatic."""
    report = _bot(config).run_once()
    for reply in report.replies:
        assert reply["Auto-Submitted"] == "auto-replied"
        assert reply["Subject"].lower().startswith("re:")
        assert reply["In-Reply-To"] and reply["In-Reply-To"] in reply["References"]
        assert reply["Message-ID"]
        assert not reply["To"].startswith("quotes@")
        assert reply.get_body(preferencelist=("html",)) is not None


def test_never_answered_messages_get_no_reply(config: Config) -> None:
    """The out-of-office notice, the newsletter and the shop's own mail are ignored."""
    report = _bot(config).run_once()
    answered = {str(r["In-Reply-To"]) for r in report.replies}
    for row in report.rows:
        if (
            "Out of Office" in row.subject
            or "Monthly" in row.subject
            or row.sender.startswith("quotes@")
        ):
            assert row.action == "ignore"
            assert row.message_id not in answered


def test_dry_run_decides_but_writes_no_reply(config: Config) -> None:
    """In dry-run mode the decisions are recorded but the outbox stays empty."""
    dry = replace(config, bot=replace(config.bot, mode="dry-run"))
    report = _bot(dry).run_once()
    assert any(row.action == "clarify" for row in report.rows)
    assert len(mailbox.Maildir(config.outbox.path, create=True)) == 0


def test_draft_mode_writes_drafts(config: Config) -> None:
    """In draft mode each reply lands in the outbox flagged as a draft."""
    draft = replace(config, bot=replace(config.bot, mode="draft"))
    report = _bot(draft).run_once()
    box = mailbox.Maildir(config.outbox.path, create=False)
    assert len(box) == len(report.replies) > 0
    assert all("D" in box.get_message(key).get_flags() for key in box.keys())


def test_a_broken_message_does_not_stop_the_run(config: Config) -> None:
    """An unparseable message is recorded as failed and every other message is still handled."""
    (config.mailbox.path / "new" / "0000000000.broken:2,").write_bytes(b"")
    report = _bot(config).run_once()
    assert report.failed == 1
    assert len(report.rows) > 20


def test_without_since_mail_before_the_first_run_is_never_answered(
    config: Config, tmp_path: Path
) -> None:
    """Turned on over a mailbox with history and no bot.since, the bot answers nothing that
    arrived before its first run, and answers what arrives after it."""
    history = replace(config, bot=replace(config.bot, since=None))
    first_run = datetime(2030, 1, 1, tzinfo=UTC)

    def bot(now: datetime) -> Bot:
        return Bot(
            history,
            load_rules(history.bot.rules_dir),
            source=MaildirSource(history.mailbox.path),
            outbox=MaildirOutbox(history.outbox.path),
            store=Store(history.database_url),
            clock=lambda: now,
        )

    report = bot(first_run).run_once()
    assert report.rows and report.replies == []  # the examples are all older than 2030
    later = bot(datetime(2031, 1, 1, tzinfo=UTC))
    assert later.since == first_run - CLOCK_DRIFT  # kept from the first run, not moved


def test_unanswered_clarifications_get_two_reminders_then_none(config: Config) -> None:
    """A clarification unanswered for nudge_days gets a reminder in its thread, at most
    max_nudges (2) times; a thread the buyer answered gets none."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock = [start]

    def bot() -> Bot:
        made = _bot(config)
        made.clock = lambda: clock[0]
        return made

    first = bot().run_once()
    asked = {str(r["Message-ID"]): str(r["To"]) for r in first.replies}
    waiting = len(Store(config.database_url).awaiting())  # threads not answered since
    assert 0 < waiting <= len(asked)
    clock[0] = start + timedelta(days=1)
    assert bot().nudge() == 0  # too early
    clock[0] = start + timedelta(days=2, hours=1)
    assert bot().nudge() == waiting
    assert bot().nudge() == 0  # one reminder per interval
    clock[0] = start + timedelta(days=4, hours=2)
    assert bot().nudge() == waiting
    clock[0] = start + timedelta(days=9)
    assert bot().nudge() == 0  # two is the most; the digest takes it from here
    outbox = mailbox.Maildir(config.outbox.path, create=False)
    reminders = [m for m in outbox if m["X-Quotebot"] == "nudge"]
    assert len(reminders) == 2 * waiting
    for reminder in reminders:
        assert reminder["In-Reply-To"] in asked
        assert reminder["To"] == asked[reminder["In-Reply-To"]]
        assert reminder["Auto-Submitted"] == "auto-generated"
