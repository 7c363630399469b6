"""`quotebot run` as the service it is: a real process that waits with IDLE, answers new mail
while it runs, survives the IMAP server going away, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from servers import PASSWORD, Dovecot, SmtpSink, write_config
from test_imap import vague

ROOT = Path(__file__).parent.parent


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` until it holds or `seconds` pass (a wait, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _service(config: Path) -> subprocess.Popen[bytes]:
    """`quotebot run -v` on `config`, as its own process, its log on stderr."""
    env = {**os.environ, "QUOTEBOT_TEST_PASSWORD": PASSWORD}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "-v", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_run_answers_while_running_and_reconnects(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    """Mail that arrives while the bot waits is answered; after the server restarts, the bot
    reconnects and answers the next message; SIGINT ends it with status 0."""
    config = write_config(
        tmp_path / "quotebot.toml",
        dovecot=dovecot,
        sink=smtp_sink,
        database_url=f"sqlite:///{tmp_path / 'quotebot.db'}",
        bot_extra="",
        imap_extra="timeout_seconds = 5\n",
    )
    bot = _service(config)
    answered, reconnected = False, False
    try:
        time.sleep(1.0)  # let the first pass end and IDLE begin (mail before it is fine too)
        dovecot.deliver(vague("Re: Quote Q-2001"))
        answered = _until(lambda: len(smtp_sink.received) == 1, 30)
        time.sleep(1.0)  # that pass ends and the bot waits in IDLE
        dovecot.restart()
        dovecot.deliver(vague("Re: Quote Q-2002"))
        reconnected = _until(lambda: len(smtp_sink.received) == 2, 60)
    finally:
        bot.send_signal(signal.SIGINT)
        _out, err = bot.communicate(timeout=30)
    log = err.decode()
    assert answered, f"no reply while running:\n{log}"
    assert reconnected, f"no reply after the server restarted:\n{log}"
    assert bot.returncode == 0, log
    assert "Traceback" not in log
    # logged once, with its cause, when the restart finds the bot in IDLE; a restart that
    # lands between a pass and its wait is found by the wait's NOOP, which reconnects and
    # says so at once
    assert log.count("connection lost") <= 1, log
    assert "connected again" in log, log
    assert len(smtp_sink.received) == 2


def test_one_mailbox_is_woken_by_idle_on_either_database(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, database_url: str
) -> None:
    """One mailbox, on SQLite or on PostgreSQL (where passes run under the mailbox's lease):
    with an hour between regular passes, a new message is answered within seconds, so IDLE
    woke the bot."""
    config = write_config(
        tmp_path / "quotebot.toml",
        dovecot=dovecot,
        sink=smtp_sink,
        database_url=database_url,
        bot_extra="",
        extra="[schedule]\npoll_seconds = 3600\n",
    )
    bot = _service(config)
    dovecot.deliver(vague("Re: Quote Q-2100"))  # answered by the first pass
    try:
        first = _until(lambda: len(smtp_sink.received) == 1, 30)
        time.sleep(1.0)  # that pass ends and the wait begins
        dovecot.deliver(vague("Re: Quote Q-2101"))
        answered = first and _until(lambda: len(smtp_sink.received) == 2, 30)
    finally:
        bot.send_signal(signal.SIGINT)
        _out, err = bot.communicate(timeout=30)
    log = err.decode()
    assert answered, f"no reply within 30 s of the message:\n{log}"
    assert bot.returncode == 0 and "Traceback" not in log, log
