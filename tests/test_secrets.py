"""Passwords never appear in logs (debug included), error messages, the database or the mail
sent; the database file is readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from servers import USERNAME, Dovecot, SmtpSink, write_config
from test_imap import vague

ROOT = Path(__file__).parent.parent
SECRET = "s3cret-Passw0rd-4711"  # the same for IMAP and SMTP here


def _config(tmp_path: Path, dovecot: Dovecot, sink: SmtpSink) -> Path:
    return write_config(
        tmp_path / "quotebot.toml",
        dovecot=dovecot,
        sink=sink,
        database_url=f"sqlite:///{tmp_path / 'db' / 'quotebot.db'}",
        password_env="QUOTEBOT_SECRET",
        imap_extra='sent_folder = "Sent"\n',
        smtp_extra=f'username = "{USERNAME}"\npassword_env = "QUOTEBOT_SECRET"\n',
    )


def test_no_password_in_logs_errors_database_or_mail(
    tmp_path: Path, start_smtp_sink: Callable[..., SmtpSink], dovecot: Dovecot
) -> None:  # `dovecot`: skips (or fails under REQUIRE) when there is no Dovecot
    """A run with debug logging (-vv: imapclient's protocol lines too), then a run with a
    wrong password: the password is nowhere in what they print, store or send."""
    smtp_sink_auth = start_smtp_sink(users={USERNAME: SECRET})
    with Dovecot(users={USERNAME: SECRET}) as server:
        server.deliver(vague())
        config = _config(tmp_path, server, smtp_sink_auth)
        command = [sys.executable, "-m", "bot", "run", "--once", "-vv", "--config", str(config)]
        good = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "QUOTEBOT_SECRET": SECRET},
            capture_output=True,
            text=True,
        )
        assert good.returncode == 0, good.stderr
        assert "LOGIN" in good.stderr or "AUTHENTICATE" in good.stderr  # debug really on
        assert len(smtp_sink_auth.received) == 1
        wrong = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "QUOTEBOT_SECRET": SECRET + "-wrong"},
            capture_output=True,
            text=True,
        )
        assert wrong.returncode == 1 and "login refused" in wrong.stderr
    printed = good.stdout + good.stderr + wrong.stdout + wrong.stderr
    assert SECRET not in printed
    stored = b"".join(p.read_bytes() for p in (tmp_path / "db").iterdir())
    assert SECRET.encode() not in stored
    assert all(SECRET.encode() not in r.content for r in smtp_sink_auth.received)
    database = tmp_path / "db" / "quotebot.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
