"""`quotebot digest`, `quotebot status` and JSON logs over a database the bot built from the
example mailbox."""

from __future__ import annotations

import json
import mailbox
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).parent.parent


def _config(tmp_path: Path) -> Path:
    """The demo config on a private copy of the example mailbox, with a digest address."""
    shutil.copytree(ROOT / "examples" / "mailbox", tmp_path / "mailbox")
    text = (ROOT / "examples" / "quotebot.toml").read_text(encoding="utf-8")
    text = text.replace('path = "examples/mailbox"', f'path = "{tmp_path / "mailbox"}"')
    text = text.replace('path = "var/outbox"', f'path = "{tmp_path / "outbox"}"')
    text = text.replace("sqlite:///var/quotebot.db", f"sqlite:///{tmp_path / 'quotebot.db'}")
    text += '\n[digest]\nto = "ops@printshop.example"\ntimezone = "America/Chicago"\n'
    path = tmp_path / "quotebot.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """That config after one run."""
    path = _config(tmp_path)
    ran = CliRunner().invoke(main, ["run", "--once", "--config", str(path)])
    assert ran.exit_code == 0, ran.output
    return path


def test_digest_prints_every_section_and_writes_html(config: Path, tmp_path: Path) -> None:
    """The plain digest has its four parts; --html writes the HTML version."""
    html = tmp_path / "digest.html"
    result = CliRunner().invoke(main, ["digest", "--config", str(config), "--html", str(html)])
    assert result.exit_code == 0, result.output
    for heading in ("RELEASED SINCE THE LAST DIGEST", "AWAITING THE BUYER", "BOT HEALTH"):
        assert heading in result.output
    assert "Q-1042" in result.output and "Q-1047" in result.output
    assert "<table" in html.read_text(encoding="utf-8")


def test_digest_send_goes_to_the_ops_lead_once(config: Path, tmp_path: Path) -> None:
    """--send hands the digest to the outbox for [digest] to; the next digest starts after it."""
    runner = CliRunner()
    sent = runner.invoke(main, ["digest", "--send", "--config", str(config)])
    assert sent.exit_code == 0, sent.output
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    digests = [m for m in box if str(m["To"]) == "ops@printshop.example"]
    assert len(digests) == 1 and digests[0]["Auto-Submitted"] == "auto-generated"
    after = runner.invoke(main, ["digest", "--config", str(config)])
    assert "RELEASED SINCE THE LAST DIGEST (0)" in after.output


def test_status_shows_health_and_open_threads(config: Path) -> None:
    """status: health lines, then the open threads with their state."""
    result = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("health: ok")
    assert "Q-1047" in result.output and "awaiting" in result.output
    assert "conflict" in result.output


def test_digest_send_without_address_is_one_clear_error(tmp_path: Path) -> None:
    """--send with no [digest] to names the key to set."""
    result = CliRunner().invoke(
        main, ["digest", "--send", "--config", str(ROOT / "examples" / "quotebot.toml")]
    )
    assert result.exit_code == 2
    assert "digest.to is not set" in result.output


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    """--log-format json: every log line parses as JSON with time, level, logger, message;
    no message body appears."""
    config = _config(tmp_path)
    result = CliRunner().invoke(
        main, ["run", "--once", "-v", "--log-format", "json", "--config", str(config)]
    )
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert set(entry) >= {"time", "level", "logger", "message"}
    assert "Looks good, go ahead" not in result.stderr
