"""The fleet in one process (SQLite, Maildir): a pass whose lease another worker took stops
after the message in hand, and the worker goes on with its next round; the digest goes out
once when every worker's schedule fires."""

from __future__ import annotations

import logging
import mailbox
import shutil
import threading
import time
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.adapters.leases import Leases
from bot.adapters.maildir import MaildirOutbox, MaildirSource
from bot.adapters.store import Store
from bot.config import load_config
from bot.rules import Rules
from bot.service import Bot
from bot.workers import Fleet

ROOT = Path(__file__).parent.parent


class SlowOutbox(MaildirOutbox):
    """A Maildir outbox that takes its time over each reply, as a slow SMTP server does, and
    says when the first one went."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.first = threading.Event()

    def send(self, message: EmailMessage, *, draft: bool = False) -> str:
        time.sleep(0.15)
        key = super().send(message, draft=draft)
        self.first.set()
        return key


def test_lost_lease_stops_the_pass_after_the_message_in_hand(
    tmp_path: Path, rules: Rules, caplog: pytest.LogCaptureFixture
) -> None:
    """When another worker takes the lease over mid-pass, the heartbeat notices, the pass stops
    after the message in hand, and the bot is ready for the next round."""
    shutil.copytree(ROOT / "examples" / "mailbox", tmp_path / "mailbox")
    base = load_config(ROOT / "examples" / "quotebot.toml")
    config = replace(base, mailbox=replace(base.mailbox, path=tmp_path / "mailbox"))
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    outbox = SlowOutbox(tmp_path / "outbox")
    bot = Bot(config, rules, source=MaildirSource(tmp_path / "mailbox"), outbox=outbox, store=store)
    fleet = Fleet({"default": bot}, Leases(store.engine, "me", seconds=0.3))

    def take_over() -> None:  # another worker, after this one stalled past its lease
        outbox.first.wait(30)
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE mailboxlease SET owner = 'other'"))

    thief = threading.Thread(target=take_over)
    thief.start()
    with caplog.at_level(logging.WARNING, logger="bot.workers"):
        report = fleet.run_once()
    thief.join()
    total = len(list(mailbox.Maildir(tmp_path / "mailbox", create=False).keys()))
    assert "lease on mailbox default lost to another worker" in caplog.text
    assert 0 < len(report.rows) < total
    assert not bot.stopping.is_set()  # the next round may run it again
    store.close()
