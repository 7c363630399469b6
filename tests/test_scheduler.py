"""The service's schedule with a controlled clock, passes that never overlap, and a SIGTERM in
the middle of a pass that loses and doubles nothing."""

from __future__ import annotations

import logging
import mailbox
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from bot.config import DigestConfig
from bot.errors import MailboxError
from bot.scheduler import Service, digest_trigger, missed_digest
from bot.service import Bot

ROOT = Path(__file__).parent.parent
BERLIN = ZoneInfo("Europe/Berlin")
DIGEST = DigestConfig(to=("ops@printshop.example",), time=clock_time(7, 30), timezone=BERLIN)


def fire_times(start: datetime, count: int) -> list[datetime]:
    trigger = digest_trigger(DIGEST)
    found, previous = [], None
    now = start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        found.append(fire)
        previous, now = fire, fire
    return found


def test_digest_fires_at_0730_local_across_daylight_saving() -> None:
    """Berlin moves to summer time on Sunday 29 March 2026: the digest stays at 07:30 local
    on weekdays, which is 06:30 UTC before and 05:30 UTC after."""
    fires = fire_times(datetime(2026, 3, 26, 8, 0, tzinfo=BERLIN), 3)
    assert [f.astimezone(BERLIN).strftime("%a %d %H:%M") for f in fires] == [
        "Fri 27 07:30",
        "Mon 30 07:30",
        "Tue 31 07:30",
    ]
    assert [f.astimezone(UTC).hour for f in fires] == [6, 5, 5]


def test_missed_digest_goes_out_on_start_once() -> None:
    """Down at 07:30 on a Tuesday: on start at 09:10 the digest goes out, unless one went out
    in the last 24 hours; a start on Saturday sends nothing (Friday's is over a day old)."""
    trigger = digest_trigger(DIGEST)
    tuesday = datetime(2026, 11, 24, 9, 10, tzinfo=BERLIN)
    monday = datetime(2026, 11, 23, 7, 30, tzinfo=BERLIN)
    assert missed_digest(trigger, now=tuesday, last_sent=monday)
    assert missed_digest(trigger, now=tuesday, last_sent=None)
    assert not missed_digest(
        trigger, now=tuesday, last_sent=datetime(2026, 11, 23, 11, 0, tzinfo=BERLIN)
    )
    before_time = datetime(2026, 11, 24, 7, 0, tzinfo=BERLIN)
    assert not missed_digest(trigger, now=before_time, last_sent=monday)  # not due yet
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=BERLIN)
    assert not missed_digest(
        trigger, now=saturday, last_sent=datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN)
    )


@dataclass
class SlowBot:
    """Stands in for the Bot: a pass takes longer than the poll interval."""

    seconds: float
    running: int = 0
    most: int = 0
    passes: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_once(self) -> Any:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
            self.passes += 1
        return type("Report", (), {"handled": 0, "rows": [], "replies": [], "failed": 0})()

    def nudge(self) -> int:
        return 0


def test_passes_never_overlap() -> None:
    """A pass that outlasts the interval is never joined by a second one."""
    slow = SlowBot(seconds=1.2)
    service = Service(bot=cast(Bot, slow), poll_seconds=1)
    # run() sets signal handlers, which only the main thread may: drive its scheduler here
    scheduler = service._jobs = service._scheduler()
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while slow.passes < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    assert slow.passes >= 3 and slow.most == 1


@dataclass
class Waits:
    """Stands in for the mailbox's IDLE wait: records each wait among the passes, returns at
    once ("new mail"), and fails with a lost connection as often as asked."""

    bot: SlowBot
    lost: int = 0
    calls: list[str] = field(default_factory=list)

    def wait(self, seconds: float, stopping: threading.Event | None = None) -> None:
        self.calls.append(f"wait after {self.bot.passes} passes, {self.bot.running} running")
        if self.lost:
            self.lost -= 1
            raise MailboxError("imap.example: connection lost while waiting for mail: EOF")


class Pauses(threading.Event):
    """The service's stop event, noting every pause the loop takes on it (its backoffs)."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.taken.append(timeout)
        return super().wait(timeout)


def _loop_until(service: Service, condition: Any) -> threading.Thread:
    thread = threading.Thread(target=service.loop, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    service.stop()
    thread.join(10)
    return thread


def test_with_idle_each_pass_is_followed_by_a_wait_and_none_overlap() -> None:
    """With IDLE, one thread alternates passes and waits: a wait starts only when a pass has
    ended, and the pass after a wait that saw new mail starts at once."""
    slow = SlowBot(seconds=0.05)
    waits = Waits(slow)
    service = Service(bot=cast(Bot, slow), poll_seconds=3600, idle=waits)
    thread = _loop_until(service, lambda: slow.passes >= 4)
    assert not thread.is_alive()
    assert slow.most == 1 and slow.passes >= 4
    assert waits.calls[:3] == [f"wait after {n} passes, 0 running" for n in (1, 2, 3)]


def test_a_lost_idle_connection_is_logged_once_and_the_next_pass_runs_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wait that loses its connection is logged once; the pass after it comes at once
    (and connects again), and the log says when it worked again."""
    slow = SlowBot(seconds=0.0)
    waits = Waits(slow, lost=1)
    pauses = Pauses()
    service = Service(bot=cast(Bot, slow), poll_seconds=3600, idle=waits, stopping=pauses)
    with caplog.at_level(logging.INFO, logger="bot.scheduler"):
        _loop_until(service, lambda: slow.passes >= 3)
    assert pauses.taken == []  # no backoff after a first loss
    messages = [record.getMessage() for record in caplog.records]
    assert sum("connection lost" in m for m in messages) == 1
    assert "IDLE: connected again" in messages


def test_waits_that_keep_failing_back_off() -> None:
    """Passes that work while every wait fails do not spin: the second failure in a row
    pauses 4 s before the next pass."""
    slow = SlowBot(seconds=0.0)
    waits = Waits(slow, lost=1000)
    pauses = Pauses()
    service = Service(bot=cast(Bot, slow), poll_seconds=3600, idle=waits, stopping=pauses)
    thread = _loop_until(service, lambda: len(pauses.taken) >= 1)
    assert not thread.is_alive()
    assert pauses.taken == [4] and slow.passes == 2 and len(waits.calls) == 2


def _many(folder: Path, copies: int) -> int:
    """A Maildir holding the example mailbox `copies` times over, each copy its own messages."""
    box = mailbox.Maildir(folder, create=True)
    source = mailbox.Maildir(ROOT / "examples" / "mailbox", factory=None, create=False)
    count = 0
    for n in range(copies):
        for key in sorted(source.keys()):
            message = message_from_bytes(source.get_bytes(key), policy=policy.compat32)
            for header in ("Message-ID", "In-Reply-To", "References"):
                value = message[header]
                if value:
                    del message[header]
                    message[header] = value.replace("@", f".c{n}@")
            box.add(message)
            count += 1
    return count


def _config(tmp: Path, name: str, mail: Path) -> Path:
    path = tmp / f"{name}.toml"
    text = (ROOT / "examples" / "quotebot.toml").read_text(encoding="utf-8")
    text = text.replace('path = "examples/mailbox"', f'path = "{mail}"')
    text = text.replace('path = "var/outbox"', f'path = "{tmp / name / "outbox"}"')
    text = text.replace("sqlite:///var/quotebot.db", f"sqlite:///{tmp / name / 'quotebot.db'}")
    path.write_text(text, encoding="utf-8")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_sigterm_in_a_pass_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """SIGTERM during the first pass over a big mailbox: the message in hand finishes, the
    process exits 0; the next run handles the rest. The replies equal those of one
    uninterrupted run, none missing and none twice."""
    mail = tmp_path / "mail"
    total = _many(mail, 6)
    config = _config(tmp_path, "interrupted", mail)
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "-v", "--config", str(config)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert bot.stderr is not None
    for line in bot.stderr:  # the pass has begun once the first message is logged
        if "stage=" in line:
            break
    bot.send_signal(signal.SIGTERM)
    _out, err = bot.communicate(timeout=60)
    assert bot.returncode == 0, err
    assert "Traceback" not in err
    finished = _run("--once", "--config", str(config))
    assert finished.returncode == 0, finished.stderr
    reference = _run("--once", "--config", str(_config(tmp_path, "reference", mail)))
    assert reference.returncode == 0, reference.stderr

    def replies(name: str) -> list[str]:
        box = mailbox.Maildir(tmp_path / name / "outbox", create=False)
        return sorted(str(m["In-Reply-To"]) for m in box)

    assert replies("interrupted") == replies("reference")
    assert len(set(replies("interrupted"))) == len(replies("interrupted")) > 0
    rest = int(re.search(r"^(\d+) handled", finished.stdout, re.M).group(1))  # type: ignore[union-attr]
    assert 0 < rest < total  # the signal really came in the middle of the first pass
