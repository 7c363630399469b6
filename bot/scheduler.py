"""`quotebot run` as a service: the mailbox passes and the morning digest in one process.
Passes never overlap. With IMAP IDLE, one thread runs a pass, then waits with IDLE on the
connection the pass read the quotes folder on, and again; without it, APScheduler runs a
pass every `poll_seconds` (one job, `max_instances=1`, coalesced). APScheduler runs the
digest. SIGTERM or SIGINT lets the message in hand finish, then stops."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import DigestConfig
from bot.errors import MailboxError, QuotebotError
from bot.reports import local_zone
from bot.service import RunReport

log = logging.getLogger(__name__)

BACKOFF_MAX_SECONDS = 300
MISSED_WITHIN = timedelta(hours=24)


def digest_trigger(config: DigestConfig) -> CronTrigger:
    """Fires at `[digest] time` on `[digest] weekdays`, in the configured zone (so 07:30 stays
    07:30 across a daylight-saving change)."""
    return CronTrigger(
        day_of_week=",".join(config.weekdays),
        hour=config.time.hour,
        minute=config.time.minute,
        timezone=config.timezone or local_zone(),
    )


def backoff(attempts: int) -> int:
    """Seconds before trying again after `attempts` failures in a row: 2, 4, 8 ... 5 min."""
    return min(BACKOFF_MAX_SECONDS, 1 << min(attempts, 10))


def missed_digest(trigger: CronTrigger, *, now: datetime, last_sent: datetime | None) -> bool:
    """Whether a digest fell due in the last 24 hours while the bot was down and none went out
    in the last 24 hours (then it goes out on start)."""
    if last_sent is not None and now - last_sent < MISSED_WITHIN:
        return False
    due = trigger.get_next_fire_time(None, now - MISSED_WITHIN)
    return due is not None and due <= now and (last_sent is None or last_sent < due)


class Waiter(Protocol):
    """What waits for new mail between passes: the bot's own `ImapMailbox`."""

    def wait(self, seconds: float, stopping: threading.Event | None = None) -> None: ...


class Passes(Protocol):
    """What the service runs: one mailbox's Bot, or a `bot.workers.Fleet` of several."""

    stopping: threading.Event

    def run_once(self) -> RunReport: ...

    def nudge(self) -> int: ...


@dataclass
class Service:
    """The long-running bot: passes every `poll_seconds`, sooner when IDLE sees new mail, and
    the digest on its schedule."""

    bot: Passes
    poll_seconds: int
    digest: Callable[[], None] | None = None  # sends one digest (None: no [digest] to)
    digest_config: DigestConfig = field(default_factory=DigestConfig)
    last_digest: Callable[[], datetime | None] = lambda: None
    # waits between passes with IDLE; the bot's own mailbox (the wait reads nothing, so the
    # pass that follows finds the new mail on the connection the server has just synced)
    idle: Waiter | None = None
    clock: Callable[[], datetime] = lambda: datetime.now().astimezone()
    stopping: threading.Event = field(default_factory=threading.Event)
    _failures: int = 0
    _last_error: str = ""
    _jobs: BackgroundScheduler | None = None

    def run(self) -> None:
        """Until SIGTERM or SIGINT (or `stop()`): schedule, wait, then shut down cleanly."""
        scheduler = self._jobs = self._scheduler()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop())
        scheduler.start()
        passes = None
        if self.idle is not None:
            passes = threading.Thread(target=self.loop, name="passes", daemon=True)
            passes.start()
        log.info("running: a pass every %d s%s", self.poll_seconds, self._notes())
        self.stopping.wait()
        log.info("stopping: the message in hand finishes first")
        scheduler.shutdown(wait=True)
        if passes is not None:
            passes.join()
        log.info("stopped")

    def stop(self) -> None:
        """Ask the service to stop after the message in hand."""
        self.bot.stopping.set()
        self.stopping.set()

    def _scheduler(self) -> BackgroundScheduler:
        now = self.clock()
        scheduler = BackgroundScheduler(
            timezone=self.digest_config.timezone or local_zone(),
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        if self.idle is None:
            scheduler.add_job(
                self.poll,
                IntervalTrigger(seconds=self.poll_seconds),
                id="poll",
                next_run_time=now,
            )
        if self.digest is not None:
            trigger = digest_trigger(self.digest_config)
            scheduler.add_job(self._send_digest, trigger, id="digest")
            if missed_digest(trigger, now=now, last_sent=self.last_digest()):
                log.info("the digest was due while the bot was down: sending it now")
                scheduler.add_job(self._send_digest, id="digest-missed", next_run_time=now)
        return scheduler

    def _notes(self) -> str:
        idle = "" if self.idle is None else ", sooner when IDLE announces mail"
        if self.digest is None:
            return f"{idle}; no digest (set [digest] to)"
        config = self.digest_config
        return f"{idle}; the digest at {config.time:%H:%M} on {','.join(config.weekdays)}"

    def loop(self) -> None:
        """With IDLE, until stopped: a pass, then a wait for new mail of up to `poll_seconds`,
        and again. One thread, so passes never overlap, and mail that came during a pass ends
        the next wait at once (the server announced it, or announces it as IDLE begins). A
        lost connection is logged once and the next pass connects again; a failed pass is
        retried with backoff."""
        assert self.idle is not None
        lost = 0  # waits in a row that ended with the connection lost
        while not self.stopping.is_set():
            try:
                report = self.poll()
            except Exception:  # a bug: logged with its cause, as APScheduler does for a job
                log.exception("the pass failed")
                self._failures, report = self._failures + 1, None
            if report is None:
                if not self.stopping.is_set():
                    self.stopping.wait(backoff(self._failures))
                continue
            if lost == 1:
                log.warning("IDLE: connected again")
            try:
                self.idle.wait(self.poll_seconds, self.stopping)
                lost = 0
            except Exception as exc:
                lost += 1
                if lost > 1:  # the passes work but their waits keep failing: no tight loop
                    self.stopping.wait(backoff(lost))
                elif isinstance(exc, MailboxError):
                    log.warning("IDLE: %s; connecting again", exc)
                else:
                    log.exception("IDLE failed; connecting again")

    def poll(self) -> RunReport | None:
        """One pass and its reminders (None: it failed, or the service is stopping). A lost
        connection or a refused send is logged once with its cause and retried with
        backoff; the pass after it re-syncs in full."""
        if self.stopping.is_set():
            return None
        try:
            report = self.bot.run_once()
            if not self.stopping.is_set():
                self.bot.nudge()
        except QuotebotError as exc:  # the mailbox, the outbox, the database, a secret
            self._failed(exc)
            return None
        if self._failures:
            log.warning("working again after %d failed attempt(s)", self._failures)
        self._failures, self._last_error = 0, ""
        log.info(
            "pass: %d handled, %d replies, %d failed",
            report.handled,
            len(report.replies),
            report.failed,
        )
        return report

    def _failed(self, exc: QuotebotError) -> None:
        self._failures += 1
        delay = backoff(self._failures)
        if str(exc) != self._last_error:
            log.error("%s; retrying in %d s, then with backoff", exc, delay)
        self._last_error = str(exc)
        job = self._jobs.get_job("poll") if self._jobs else None
        if job is not None:  # the retry comes sooner than the next regular pass
            job.modify(next_run_time=self.clock() + timedelta(seconds=delay))

    def _send_digest(self) -> None:
        if self.digest is None or self.stopping.is_set():
            return
        try:
            self.digest()
        except QuotebotError as exc:
            log.error("the digest could not be sent: %s", exc)
