"""SIGKILL at random moments, again and again, until the mailbox is done: every message that
needs a reply gets exactly one (the SMTP server files what it accepts in Sent, as Gmail and
Microsoft 365 do, and the bot looks a reply up there before sending it again)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path

from servers import PASSWORD, Dovecot, SmtpSink, write_config
from test_imap import vague

ROOT = Path(__file__).parent.parent
KILLS = 30
MESSAGES = 12


def _config(tmp_path: Path, dovecot: Dovecot, sink: SmtpSink) -> Path:
    return write_config(
        tmp_path / "quotebot.toml",
        dovecot=dovecot,
        sink=sink,
        database_url=f"sqlite:///{tmp_path / 'quotebot.db'}",
        imap_extra='sent_folder = "Sent"\nsave_sent = false\nbatch_size = 3\n',
    )


def test_sigkill_at_random_moments_gives_exactly_one_reply_each(
    tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink
) -> None:
    smtp_sink.slow_seconds = 0.15  # the bot spends its time waiting on the server, mid-reply
    smtp_sink.on_accept = lambda raw: dovecot.deliver(raw, folder="Sent")
    wanted = []
    for n in range(MESSAGES):
        raw = vague(f"Re: Quote Q-{3000 + n}")
        wanted.append(str(message_from_bytes(raw, policy=policy.default)["Message-ID"]))
        dovecot.deliver(raw)
    config = _config(tmp_path, dovecot, smtp_sink)
    env = {**os.environ, "QUOTEBOT_TEST_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "bot", "run", "--once", "--config", str(config)]
    chance = random.Random(20261122)  # the same moments on every run of the suite
    kills = finished = 0
    while kills < KILLS:
        bot = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        time.sleep(chance.uniform(0.3, 1.5))
        if bot.poll() is None:
            bot.send_signal(signal.SIGKILL)
            kills += 1
        else:
            finished += 1
        bot.wait(timeout=30)
    final = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    replies = [
        str(message_from_bytes(r.content, policy=policy.default)["In-Reply-To"])
        for r in smtp_sink.received
    ]
    assert sorted(replies) == sorted(wanted), (
        f"{kills} kills, {finished} runs finished: "
        f"{len(replies)} replies for {len(wanted)} messages"
    )
