"""A full disk under the database: the run stops with one clear line, loses and doubles nothing,
and the next run after space is freed finishes the mailbox."""

from __future__ import annotations

import mailbox
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import unavailable

from bot.adapters.store import Store

ROOT = Path(__file__).parent.parent
DISK_BYTES = 4 * 1024 * 1024
LEAVE = 300_000  # room for the schema's first pages and a message or two, not 31


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of its own (root only), so filling it fills nothing else."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        unavailable("the full-disk test mounts a small tmpfs: it needs root and mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, *, leave: int) -> Path:
    """Fill `disk` until about `leave` bytes are free; returns the filler file."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with filler.open("wb") as out:
        out.write(b"\0" * max(free - leave, 0))
    return filler


def config_file(folder: Path, database: Path) -> Path:
    """The example config over a copy of the example mailbox, with the database at `database`."""
    shutil.copytree(ROOT / "examples" / "mailbox", folder / "mailbox")
    text = (ROOT / "examples" / "quotebot.toml").read_text(encoding="utf-8")
    text = text.replace('path = "examples/mailbox"', f'path = "{folder / "mailbox"}"')
    text = text.replace('path = "var/outbox"', f'path = "{folder / "outbox"}"')
    text = text.replace("sqlite:///var/quotebot.db", f"sqlite:///{database}")
    path = folder / "quotebot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_once(config: Path) -> subprocess.CompletedProcess[str]:
    """`quotebot run --once` as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def replies(folder: Path) -> Counter[str]:
    """How many replies the outbox holds per message answered."""
    box = mailbox.Maildir(folder / "outbox", create=True)
    return Counter(str(m["In-Reply-To"]) for m in box)


def test_full_disk_stops_cleanly_and_the_next_run_finishes(
    small_disk: Path, tmp_path: Path
) -> None:
    """With a few KB left for the database the run fails with one line naming the database;
    after space is freed the next run answers every message that needs it exactly once, as a
    run on a roomy disk does."""
    reference = tmp_path / "reference"
    reference.mkdir()
    roomy = run_once(config_file(reference, reference / "quotebot.db"))
    assert roomy.returncode == 0, roomy.stderr
    expected = replies(reference)
    assert expected and set(expected.values()) == {1}

    work = tmp_path / "work"
    work.mkdir()
    config = config_file(work, small_disk / "quotebot.db")
    Store(f"sqlite:///{small_disk / 'quotebot.db'}")  # the schema fits; the mail will not
    filler = fill(small_disk, leave=LEAVE)
    full = run_once(config)
    assert full.returncode != 0
    lines = [line for line in full.stderr.splitlines() if line.strip()]
    assert "Traceback" not in full.stderr
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1 and "disk is full; free disk space" in errors[0], full.stderr
    assert sum(replies(work).values()) < sum(expected.values())  # it did stop part way

    filler.unlink()
    again = run_once(config)
    assert again.returncode == 0, again.stderr
    assert replies(work) == expected
