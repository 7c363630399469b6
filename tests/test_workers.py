"""Several workers on one PostgreSQL database over three mailboxes in Dovecot: every message
that needs a reply gets exactly one, each mailbox is polled by one worker at a time, and a
worker killed with SIGKILL mid-run has its mailboxes taken over and finished, no reply doubled."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from servers import PASSWORD, Dovecot, PostgresDatabase, SmtpSink, write_config
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError
from test_imap import vague

ROOT = Path(__file__).parent.parent
PER_MAILBOX = 6
LEASE_SECONDS = 5
POLL_SECONDS = 5


def _until(condition: Callable[[], bool], seconds: float, every: float = 0.2) -> bool:
    """Poll `condition` until it holds or `seconds` pass (a wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def _setup(
    tmp_path: Path, dovecot: Dovecot, sink: SmtpSink, database: PostgresDatabase
) -> tuple[Path, list[str]]:
    """Fill the three mailboxes with mail that needs a reply; the SMTP sink files each reply in
    its sender's Sent folder (as Gmail and Microsoft 365 do), where a worker taking over a
    dead one's mailbox looks up replies left pending."""
    users = list(dovecot.users)

    def file_in_sent(raw: bytes) -> None:
        sender = str(message_from_bytes(raw, policy=policy.default)["From"])
        user = next(u for u in users if u in sender)
        dovecot.deliver(raw, folder="Sent", username=user)

    sink.on_accept = file_in_sent
    sink.slow_seconds = 0.1  # a pass takes a while: overlapping passes would show
    wanted = []
    for index, user in enumerate(users):
        for n in range(PER_MAILBOX):
            raw = vague(f"Re: Quote Q-{4000 + 100 * index + n}")
            wanted.append(str(message_from_bytes(raw, policy=policy.default)["Message-ID"]))
            dovecot.deliver(raw, username=user)
    config = write_config(
        tmp_path / "quotebot.toml",
        dovecot=dovecot,
        sink=sink,
        database_url=database.url,
        mailboxes=users,
        imap_extra='sent_folder = "Sent"\nsave_sent = false\nidle = false\nbatch_size = 2\n',
        database_extra=f"lease_seconds = {LEASE_SECONDS}\n",
        extra=f"[schedule]\npoll_seconds = {POLL_SECONDS}\n",
    )
    return config, wanted


def _workers(config: Path, count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    """Start `count` workers at once, each logging to log_dir/workerN.log."""
    env = {**os.environ, "QUOTEBOT_TEST_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "bot", "run", "-v", "--config", str(config)]
    started = []
    for n in range(count):
        with (log_dir / f"worker{n}.log").open("wb") as log:  # the child keeps its own copy
            started.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
            )
    return started


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _replies(sink: SmtpSink) -> Counter[str]:
    return Counter(
        str(message_from_bytes(r.content, policy=policy.default)["In-Reply-To"])
        for r in sink.received
    )


def _runs(database: PostgresDatabase) -> list[tuple[str, str, object, object]]:
    engine = create_engine(database.url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT mailbox, worker, started_at, finished_at FROM runrecord "
                "ORDER BY mailbox, started_at"
            )
        ).all()
    engine.dispose()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _assert_one_worker_at_a_time(runs: list[tuple[str, str, object, object]]) -> None:
    """Within a mailbox, no pass starts before the one before it ended."""
    for before, after in itertools.pairwise(runs):
        if before[0] == after[0]:
            assert before[3] is not None and before[3] <= after[2], (before, after)


@pytest.mark.parametrize("count", [2, 4], ids=["2-workers", "4-workers"])
def test_workers_started_at_once_reply_exactly_once_each(
    count: int,
    tmp_path: Path,
    dovecot_shops: Dovecot,
    smtp_sink: SmtpSink,
    postgres: PostgresDatabase,
) -> None:
    """N workers started together over three mailboxes send exactly one reply to every
    message, and the passes over each mailbox never overlap."""
    config, wanted = _setup(tmp_path, dovecot_shops, smtp_sink, postgres)
    workers = _workers(config, count, tmp_path)
    try:
        _until(lambda: sum(_replies(smtp_sink).values()) >= len(wanted), 90)
        time.sleep(POLL_SECONDS + 1)  # one more round: a double would come now
    finally:
        _stop(workers)
    logs = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("worker*.log"))
    replies = _replies(smtp_sink)
    assert sorted(replies) == sorted(wanted), logs[-3000:]
    assert set(replies.values()) == {1}, replies
    runs = _runs(postgres)
    _assert_one_worker_at_a_time(runs)
    shared = Counter(worker for _m, worker, _s, _f in runs)
    assert len(shared) >= 2, "the work was not shared"
    assert "Traceback" not in logs, logs[-3000:]
    engine = create_engine(postgres.url)
    with engine.connect() as conn:  # SIGTERM gave every lease back
        held = conn.execute(text("SELECT count(*) FROM mailboxlease WHERE expires_at > now()"))
        assert held.scalar() == 0
    engine.dispose()
    print(f"{count} workers: passes per worker {sorted(shared.values())}")


def test_sigkilled_worker_is_taken_over_without_a_double_reply(
    tmp_path: Path,
    dovecot_shops: Dovecot,
    smtp_sink: SmtpSink,
    postgres: PostgresDatabase,
) -> None:
    """A worker killed with SIGKILL while a reply it stored is pending (being sent): another
    worker takes its mailbox over once the lease runs out, settles that reply through the
    crash path (looked up in Sent before any resend) and finishes the mailbox, and every
    message has exactly one reply."""
    config, wanted = _setup(tmp_path, dovecot_shops, smtp_sink, postgres)
    smtp_sink.slow_seconds = 0.4
    victim, survivor = _workers(config, 2, tmp_path)
    victim_id = f"{socket.gethostname()}:{victim.pid}"
    engine = create_engine(postgres.url)

    def pending(where: str = "l.owner = :o AND l.expires_at > now()") -> list[tuple[str, str]]:
        """(mailbox, in_reply_to) of pending replies in the mailboxes the victim holds."""
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT l.mailbox, r.in_reply_to FROM mailboxlease l JOIN replyrecord r "
                        f"ON r.mailbox = l.mailbox AND r.status = 'pending' WHERE {where}"
                    ),
                    {"o": victim_id},
                ).all()
        except ProgrammingError:  # the workers have not made the tables yet
            return []
        return [(r[0], r[1]) for r in rows]

    try:
        assert _until(lambda: bool(pending()), 60, every=0.05), "the victim never sent"
        victim.send_signal(signal.SIGKILL)
        killed_at = time.time()
        victim.wait()
        left = pending("l.owner = :o")  # what the kill left behind
        assert left, "the reply was marked before the kill landed; nothing to take over"
        held = left[0][0]
        done = _until(lambda: sum(_replies(smtp_sink).values()) >= len(wanted), 90)
        finished = time.time()
        time.sleep(POLL_SECONDS + 1)
    finally:
        _stop([victim, survivor])
    unsettled = pending("true")
    engine.dispose()
    logs = (tmp_path / "worker1.log").read_text(errors="replace")
    assert done, logs[-3000:]
    replies = _replies(smtp_sink)
    assert sorted(replies) == sorted(wanted)
    assert set(replies.values()) == {1}, replies
    runs = _runs(postgres)
    taken = [r for r in runs if r[0] == held and r[1] != victim_id]
    assert taken, f"no other worker polled {held} after the kill"
    takeover = min(r[2] for r in taken if r[2].timestamp() > killed_at)  # type: ignore[attr-defined]
    assert unsettled == [], "a pending reply was never settled"
    settled = "looked up in Sent" if "was sent before a crash" in logs else "sent again"
    print(
        f"takeover of {held}: {takeover.timestamp() - killed_at:.1f} s after SIGKILL; "
        f"all replied {finished - killed_at:.1f} s after it; the pending reply was {settled}"
    )
    assert takeover.timestamp() - killed_at <= LEASE_SECONDS + POLL_SECONDS + 5
