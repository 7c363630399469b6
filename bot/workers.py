"""Several mailboxes in one process, and several processes on one database: each pass over a
mailbox runs only while this worker holds the mailbox's lease (`bot.adapters.leases`).

A round tries every mailbox in turn (each process starting at its own, one further each round,
so the workers spread out):
claim, pass and reminders, give the lease back. While a pass runs, a heartbeat renews the lease
every third of `[database] lease_seconds`; if a renewal finds the lease gone (this worker
stalled longer than the lease and another took over), the pass stops after the message in hand.
A message both workers reach anyway is decided by the database: one reply per inbound message
per mailbox, and the loser backs off (`RaceLostError`) before it sends anything.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from bot.adapters.leases import Leases
from bot.errors import QuotebotError
from bot.service import Bot, RunReport

log = logging.getLogger(__name__)


class _Fanout(threading.Event):
    """A stop request that reaches every mailbox's bot (the message in hand finishes)."""

    def __init__(self, bots: Mapping[str, Bot]) -> None:
        super().__init__()
        self._bots = bots

    def set(self) -> None:
        super().set()
        for bot in self._bots.values():
            bot.stopping.set()


class Fleet:
    """The mailboxes of one config, polled under leases; `run_once` is one round over them
    (the service's pass, as `Service` expects of a Bot)."""

    def __init__(self, bots: Mapping[str, Bot], leases: Leases) -> None:
        self.bots, self.leases = dict(bots), leases
        self.stopping: threading.Event = _Fanout(self.bots)
        self._turn = os.getpid()  # workers started together begin at different mailboxes
        self._errors: dict[str, str] = {}  # the last error of each failing mailbox

    def run_once(self) -> RunReport:
        """One round: every mailbox whose lease this worker gets has a pass and its reminders.
        Raises the first error only when every mailbox it got failed (the service backs off)."""
        names = list(self.bots)
        start, self._turn = self._turn % len(names), self._turn + 1
        total, errors, got = RunReport(), [], 0
        for name in names[start:] + names[:start]:
            if self.stopping.is_set():
                break
            if not self.leases.claim(name):
                log.debug("mailbox %s is held by another worker", name)
                continue
            got += 1
            try:
                report = self._pass(name)
            except QuotebotError as exc:
                if self._errors.get(name) != str(exc):  # once per cause, as the service does
                    log.error("mailbox %s: %s; retrying on the next round", name, exc)
                self._errors[name] = str(exc)
                errors.append(exc)
                continue
            if self._errors.pop(name, None) is not None:
                log.warning("mailbox %s: working again", name)
            total.merge(report)
        if errors and len(errors) == got:
            raise errors[0]
        return total

    def nudge(self) -> int:
        """Reminders go out inside each mailbox's pass, under its lease."""
        return 0

    def _pass(self, name: str) -> RunReport:
        bot = self.bots[name]
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(name, bot, done), daemon=True)
        beat.start()
        try:
            report = bot.run_once()
            if not bot.stopping.is_set():
                bot.nudge()
            return report
        finally:
            done.set()
            beat.join()
            if not self.stopping.is_set():
                bot.stopping.clear()  # a lost lease stopped this pass, not the worker
            self._release(name)

    def _heartbeat(self, name: str, bot: Bot, done: threading.Event) -> None:
        while not done.wait(self.leases.seconds / 3):
            try:
                if self.leases.claim(name):
                    continue
                log.warning("lease on mailbox %s lost to another worker: stopping its pass", name)
            except QuotebotError as exc:
                log.warning(
                    "cannot renew the lease on mailbox %s (%s): stopping its pass", name, exc
                )
            bot.stopping.set()
            return

    def _release(self, name: str) -> None:
        try:
            self.leases.release(name)
        except QuotebotError as exc:  # it runs out by itself
            log.warning("%s", exc)
