"""`quotebot run` as a service: APScheduler runs the mailbox passes and the morning digest in
one process. Passes never overlap (one job, `max_instances=1`, coalesced); IMAP IDLE only
moves the next pass forward; SIGTERM or SIGINT lets the message in hand finish, then stops."""

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

from bot.adapters.imap import ImapMailbox
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


def missed_digest(trigger: CronTrigger, *, now: datetime, last_sent: datetime | None) -> bool:
    """Whether a digest fell due in the last 24 hours while the bot was down and none went out
    in the last 24 hours (then it goes out on start)."""
    if last_sent is not None and now - last_sent < MISSED_WITHIN:
        return False
    due = trigger.get_next_fire_time(None, now - MISSED_WITHIN)
    return due is not None and due <= now and (last_sent is None or last_sent < due)


class Passes(Protocol):
    """What the service runs: one mailbox's Bot, or a `bot.workers.Fleet` of several."""

    stopping: threading.Event

    def run_once(self) -> RunReport: ...

    def nudge(self) -> int: ...


@dataclass
class Service:
    """The long-running bot: passes every `poll_seconds` (sooner when IDLE sees new mail) and
    the digest on its schedule."""

    bot: Passes
    poll_seconds: int
    digest: Callable[[], None] | None = None  # sends one digest (None: no [digest] to)
    digest_config: DigestConfig = field(default_factory=DigestConfig)
    last_digest: Callable[[], datetime | None] = lambda: None
    idle: ImapMailbox | None = None  # a second connection that waits with IDLE
    clock: Callable[[], datetime] = lambda: datetime.now().astimezone()
    stopping: threading.Event = field(default_factory=threading.Event)
    # new mail was announced: the pass running now (if any) is followed by another at once.
    # APScheduler skips a run asked for while the job runs (max_instances=1), so without it
    # mail that arrived after a pass's search would wait for the next regular pass.
    _again: threading.Event = field(default_factory=threading.Event)
    _failures: int = 0
    _last_error: str = ""
    _jobs: BackgroundScheduler | None = None

    def run(self) -> None:
        """Until SIGTERM or SIGINT (or `stop()`): schedule, wait, then shut down cleanly."""
        scheduler = self._jobs = self._scheduler()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop())
        scheduler.start()
        watcher = None
        if self.idle is not None:
            watcher = threading.Thread(target=self._watch, args=(scheduler,), daemon=True)
            watcher.start()
        log.info("running: a pass every %d s%s", self.poll_seconds, self._digest_note())
        self.stopping.wait()
        log.info("stopping: the message in hand finishes first")
        scheduler.shutdown(wait=True)
        if self.idle is not None:
            self.idle.close()
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

    def _digest_note(self) -> str:
        if self.digest is None:
            return "; no digest (set [digest] to)"
        config = self.digest_config
        return f"; the digest at {config.time:%H:%M} on {','.join(config.weekdays)}"

    def poll(self) -> RunReport | None:
        """One pass and its reminders, and another at once while new mail was announced
        during it. A lost connection or a refused send is logged once with its cause and
        retried with backoff; the pass after it re-syncs in full."""
        while True:
            self._again.clear()
            report = self._poll_once()
            if report is None or not self._again.is_set() or self.stopping.is_set():
                return report

    def _poll_once(self) -> RunReport | None:
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
        delay = min(BACKOFF_MAX_SECONDS, 2 ** min(self._failures, 10))
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

    def _watch(self, scheduler: BackgroundScheduler) -> None:
        """Wait with IDLE on a second connection; new mail moves the next pass to now. After a
        reconnect the pass runs at once too: mail that came while the connection was down
        raises no IDLE event, so only a full re-sync finds it."""
        assert self.idle is not None
        failures = 0
        while not self.stopping.is_set():
            try:
                if failures:
                    self.idle.connect()
                    log.warning("IDLE: connected again after %d attempt(s)", failures)
                    failures = 0
                    self._poll_now(scheduler)
                self.idle.wait(self.poll_seconds)
            except MailboxError as exc:
                if self.stopping.is_set():
                    return  # run() closed the connection to end the wait
                failures += 1
                if failures == 1:
                    log.warning("IDLE: %s; reconnecting with backoff", exc)
                self.stopping.wait(min(BACKOFF_MAX_SECONDS, 2 ** min(failures, 10)))
                continue
            self._poll_now(scheduler)

    def _poll_now(self, scheduler: BackgroundScheduler) -> None:
        self._again.set()
        if not self.stopping.is_set():
            job = scheduler.get_job("poll")
            if job is not None:
                job.modify(next_run_time=self.clock())
