"""The figures: the two baselines, the bot's backlog pass (a real `quotebot run --once`
process), the idle pass (in-process, on a synced database) and the reaction of the service."""

from __future__ import annotations

import functools
import imaplib
import itertools
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import mailparser

from benchmarks.mailbox import PASSWORD, PASSWORD_ENV, REPO, Dovecot, SmtpSink
from benchmarks.mailgen import vague_approval
from bot.adapters.imap import ImapMailbox
from bot.adapters.store import Store
from bot.config import ImapConfig, load_config
from bot.model import Cursor
from bot.rules import load_rules
from bot.service import Bot
from bot.wiring import open_adapters

BASELINE_BATCH = 500
_SUMMARY = re.compile(r"(\d+) handled, (\d+) already seen, (\d+) replies written, (\d+) failed")


@dataclass(frozen=True)
class Throughput:
    messages: int
    seconds: float
    cpu_seconds: float = 0.0  # of this process (imapclient, and mail-parser when parsing)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def baseline(server: Dovecot, folder: str, *, parse: bool) -> Throughput:
    """Fetch every message of `folder` with imapclient alone (BODY.PEEK[], batches of 500),
    and with `parse` hand each to mail-parser too: the floor the bot is measured against."""
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    with server.connect() as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        for start in range(0, len(uids), BASELINE_BATCH):
            fetched = client.fetch(uids[start : start + BASELINE_BATCH], ["BODY.PEEK[]"])
            for data in fetched.values():
                if parse:
                    mailparser.parse_from_bytes(data[b"BODY[]"])
                count += 1
    return Throughput(count, time.perf_counter() - started, time.process_time() - cpu)


@dataclass(frozen=True)
class Process:
    """One `quotebot run --once` process: wall time, CPU time (its parse workers included),
    peak RSS of the bot process (wait4) and of the bot with its parse workers (sampled)."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    peak_tree_pss_mb: float
    processes: int  # the bot, its parse workers and multiprocessing's resource tracker
    handled: int
    skipped: int
    replies: int
    failed: int
    stderr: str


def quotebot() -> list[str]:
    """The `quotebot` command as users run it: the console script pip installed beside this
    Python (its parse workers start from that script, which `python -m bot`'s do not), or
    `python -m bot` without one."""
    script = Path(sys.executable).with_name("quotebot")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bot"]


def run_once(config: Path, workdir: Path, name: str) -> Process:
    """Run `quotebot run --once` on `config` as its own process and wait for it."""
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    out, err = workdir / f"{name}.out", workdir / f"{name}.err"
    command = [*quotebot(), "run", "--once", "--config", str(config)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=stdout, stderr=stderr)
        with _tree_rss(process.pid) as tree:
            _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    log = err.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"quotebot run --once exited {process.returncode}:\n{log[-3000:]}")
    found = _SUMMARY.search(out.read_text(errors="replace"))
    handled, skipped, replies, failed = (int(g) for g in found.groups()) if found else (0,) * 4
    return Process(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        peak_tree_rss_mb=max(tree.peak_kb, usage.ru_maxrss) / 1024,
        peak_tree_pss_mb=tree.peak_pss_kb / 1024,
        processes=tree.processes,
        handled=handled,
        skipped=skipped,
        replies=replies,
        failed=failed,
        stderr=log,
    )


@dataclass
class _Peak:
    peak_kb: int = 0  # the summed RSS of the bot and its parse workers
    peak_pss_kb: int = 0  # the same in PSS: pages the processes share counted once
    processes: int = 0  # the most processes seen at once


def _rss_kb(pid: int) -> int:
    """RSS of one process, in kB (0 when it is gone), from /proc/<pid>/status: 0.16 ms a
    round of the bot's three processes, where smaps_rollup (which walks the page tables) took
    1.9 ms, 3.8% of a core at 20 rounds a second taken from the backlog being measured."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
    return int(found.group(1)) if found else 0


def _pss_kb(pid: int) -> int:
    """PSS of one process, in kB (0 when it is gone): shared pages counted once."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    found = re.search(r"^Pss:\s+(\d+)", rollup, re.M)
    return int(found.group(1)) if found else 0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


@contextmanager
def _tree_rss(pid: int, *, every: float = 0.05, pss_every: int = 10) -> Iterator[_Peak]:
    """The peak of the summed RSS of `pid` and its descendants, sampled every `every` s (and
    of their summed PSS, every `pss_every` samples: it costs twelve times as much)."""
    peak, done = _Peak(), threading.Event()

    def sample() -> None:
        for round_ in itertools.count():
            if done.is_set():
                return
            pids, found = [pid], []
            while pids:
                current = pids.pop()
                found.append(current)
                pids.extend(_children(current))
            peak.peak_kb = max(peak.peak_kb, sum(_rss_kb(one) for one in found))
            if round_ % pss_every == 0:
                peak.peak_pss_kb = max(peak.peak_pss_kb, sum(_pss_kb(one) for one in found))
            peak.processes = max(peak.processes, len(found))
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def decisions(database: Path) -> dict[str, int]:
    """How the backlog was decided (action: messages), read from the bot's database."""
    try:
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT action, count(*) FROM messagerecord GROUP BY action")
            return {str(action or "error"): int(n) for action, n in rows}
    except sqlite3.Error:
        return {}


@dataclass
class CommandLog:
    """The IMAP commands sent while it is active, by name ("UID SEARCH", "EXAMINE", ...)."""

    names: list[str] = field(default_factory=list)


@contextmanager
def counting_commands() -> Iterator[CommandLog]:
    """Count every tagged IMAP command any imapclient connection sends: each one takes a new
    tag from imaplib, and its first line starts with that tag."""
    commands = CommandLog()
    imap4: Any = imaplib.IMAP4  # patched for the duration: imaplib has no hook for this
    new_tag, send = imap4._new_tag, imap4.send
    pending: dict[int, bytes] = {}

    def counted_tag(imap: imaplib.IMAP4) -> bytes:
        tag: bytes = new_tag(imap)
        pending[id(imap)] = tag
        return tag

    def counted_send(imap: imaplib.IMAP4, data: bytes) -> None:
        tag = pending.get(id(imap))
        if tag is not None and data.startswith(tag + b" "):
            del pending[id(imap)]
            words = data[len(tag) :].split()
            name = words[:2] if words[0].upper() == b"UID" and len(words) > 1 else words[:1]
            commands.names.append(b" ".join(name).decode("ascii", "replace").upper())
        send(imap, data)

    imap4._new_tag, imap4.send = counted_tag, counted_send
    try:
        yield commands
    finally:
        imap4._new_tag, imap4.send = new_tag, send


@dataclass(frozen=True)
class IdlePass:
    """Passes that find nothing new on a synced database."""

    folder_messages: int
    median_ms: float
    p95_ms: float
    poll_median_ms: float  # the pass and the reminder check, as the service runs them
    commands: tuple[str, ...]
    sync_seconds: float  # the first pass (a backlog, when the database was fresh)


@contextmanager
def in_process_bot(config_path: Path) -> Iterator[Bot]:
    """The bot as `quotebot run` builds it, in this process; logged out at the end."""
    os.environ[PASSWORD_ENV] = PASSWORD
    config = load_config(config_path)
    adapters = open_adapters(config)
    store = Store(config.database_url)
    try:
        yield Bot(config, load_rules(config.bot.rules_dir), source=adapters.source,
                  outbox=adapters.outbox, store=store)  # fmt: skip
    finally:
        adapters.close()
        store.engine.dispose()


def idle_passes(folders: dict[Path, int], *, repeats: int = 20) -> list[IdlePass]:
    """For each config (with its folder's message count): `Bot.run_once()` when nothing is new
    (median of `repeats`), after a first pass that connects and, on a fresh database, takes
    the backlog; one pass's IMAP commands counted. The bots' passes take turns (the order
    reversed each round), so a host that slows down mid-way slows each alike: the ratio of
    two folders' passes taken one folder after the other moved from 0.54x to 1.32x between
    runs of the same code on a shared host."""
    with ExitStack() as stack:
        bots = [stack.enter_context(in_process_bot(path)) for path in folders]
        syncs, counted = [], []
        for bot in bots:
            started = time.perf_counter()
            bot.run_once()
            syncs.append(time.perf_counter() - started)
            bot.run_once()  # the connection and the database's caches are warm from here
            with counting_commands() as commands:
                report = bot.run_once()
            if report.rows:
                raise RuntimeError(f"the idle pass handled {len(report.rows)} messages")
            counted.append(tuple(commands.names))
        passes: list[list[float]] = [[] for _ in bots]
        polls: list[list[float]] = [[] for _ in bots]
        for turn in range(repeats):
            order = list(enumerate(bots))
            for index, bot in order if turn % 2 == 0 else reversed(order):
                passes[index] += _timed(bot.run_once, 1)
                polls[index] += _timed(functools.partial(_poll, bot), 1)
    return [
        IdlePass(
            folder_messages=count,
            median_ms=statistics.median(passes[i]) * 1000,
            p95_ms=_percentile(passes[i], 95) * 1000,
            poll_median_ms=statistics.median(polls[i]) * 1000,
            commands=counted[i],
            sync_seconds=syncs[i],
        )
        for i, count in enumerate(folders.values())
    ]


def _poll(bot: Bot) -> None:
    """What the service does on each poll: a pass, then the reminder check."""
    bot.run_once()
    bot.nudge()


def _timed(call: Callable[[], Any], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def noop_search(server: Dovecot, folder: str, *, repeats: int = 20) -> float:
    """Median milliseconds of what the idle pass asks the server, sent with imapclient alone:
    NOOP on a connection kept on the folder, then UID SEARCH past its last UID (the server's
    share of the pass)."""
    with server.connect() as client:
        last = max(client.select_folder(folder, readonly=True)[b"UIDNEXT"] - 1, 0)

        def ask() -> None:
            client.noop()
            client.search(["UID", f"{last + 1}:*"])

        ask()
        return statistics.median(_timed(ask, repeats)) * 1000


@dataclass(frozen=True)
class Reaction:
    """APPEND of a message that needs a clarification to the reply at the SMTP server."""

    samples: int
    p50_s: float
    p95_s: float
    max_s: float
    missed: int  # no reply within the timeout


def synced_by_cursor(config_path: Path) -> int:
    """Make the bot's database look synced on its folder without a backlog pass: the folder's
    cursor at its last UID (what a pass leaves after the backlog). The database holds no
    message records, so a thread's lookups run on small tables. Returns the cursor's UID."""
    os.environ[PASSWORD_ENV] = PASSWORD
    config = load_config(config_path)
    assert isinstance(config.mailbox, ImapConfig)
    mailbox = ImapMailbox(config.mailbox)
    try:
        status = mailbox.connect().folder_status(
            config.mailbox.folder, [b"UIDVALIDITY", b"UIDNEXT"]
        )
    finally:
        mailbox.close()
    last = int(status[b"UIDNEXT"]) - 1
    key = mailbox.cursor_key(config.mailbox.folder)
    store = Store(config.database_url)
    try:
        store.advance(Cursor(key, int(status[b"UIDVALIDITY"]), last), datetime.now(UTC))
    finally:
        store.close()
    return last


def reaction(
    config_path: Path,
    server: Dovecot,
    sink: SmtpSink,
    workdir: Path,
    *,
    count: int = 50,
    timeout: float = 90.0,
    trace: bool = False,
) -> Reaction:
    """Start `quotebot run` (the service, waiting with IDLE), then APPEND `count` vague
    approvals one at a time, each after a random pause once the previous reply arrived, and
    time each until its reply reaches the sink. With `trace` the service logs at -vv (the
    IMAP protocol lines, with times) into service.err."""
    arrived: dict[str, float] = {}
    news = threading.Event()

    def accepted(raw: bytes) -> None:
        arrived.setdefault(_in_reply_to(raw), time.perf_counter())
        news.set()

    sink.on_accept = accepted
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    log_path = workdir / "service.err"
    command = [*quotebot(), "run", "--config", str(config_path)]
    if trace:
        command.append("-vv")
    with log_path.open("wb") as log:
        service = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log
        )
    latencies: list[float] = []
    pause = random.Random(20261122)
    try:
        if not _until(lambda: "pass:" in log_path.read_text(errors="replace"), 120):
            raise RuntimeError(f"the service did not finish its first pass:\n{_tail(log_path)}")
        time.sleep(1.0)  # IDLE starts on its own connection once the first pass is done
        with server.connect() as client:
            for n in range(count):
                raw = vague_approval(90_000 + n, datetime.now(UTC))
                message_id = str(BytesHeaderParser().parsebytes(raw)["Message-ID"])
                started = time.perf_counter()
                client.append("INBOX", raw)
                while message_id not in arrived and time.perf_counter() - started < timeout:
                    news.wait(0.5)
                    news.clear()
                if message_id in arrived:
                    latencies.append(arrived[message_id] - started)
                time.sleep(pause.uniform(0.1, 1.0))
    finally:
        service.send_signal(signal.SIGINT)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        sink.on_accept = None
    if not latencies:
        raise RuntimeError(f"no reply reached the SMTP sink:\n{_tail(log_path)}")
    return Reaction(
        samples=len(latencies),
        p50_s=statistics.median(latencies),
        p95_s=_percentile(latencies, 95),
        max_s=max(latencies),
        missed=count - len(latencies),
    )


def idle_notice(server: Dovecot, folder: str, *, count: int = 10) -> list[float]:
    """Seconds from APPEND to the EXISTS an IDLE connection on `folder` receives: Dovecot's own
    share of the reaction time (it batches change notices for a moment before sending them,
    and syncs the folder first: longer on a big Maildir folder)."""
    seconds: list[float] = []
    with server.connect() as writer, server.connect() as watcher:
        if not writer.folder_exists(folder):
            writer.create_folder(folder)
        watcher.select_folder(folder, readonly=True)
        for n in range(count):
            watcher.idle()
            time.sleep(0.2)  # the server has entered IDLE
            started = time.perf_counter()
            writer.append(folder, vague_approval(80_000 + n, datetime.now(UTC)))
            deadline = started + 30
            while time.perf_counter() < deadline:
                answers = watcher.idle_check(timeout=deadline - time.perf_counter())
                if any(len(a) > 1 and a[1] == b"EXISTS" for a in answers):
                    seconds.append(time.perf_counter() - started)
                    break
            watcher.idle_done()
    return seconds


def _in_reply_to(raw: bytes) -> str:
    return str(BytesHeaderParser().parsebytes(raw)["In-Reply-To"] or "")


def _until(condition: Callable[[], bool], seconds: float, *, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]
