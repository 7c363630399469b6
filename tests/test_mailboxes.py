"""Several mailboxes in one config and one database (SQLite, one process): each is read,
answered, recorded and reported on its own, even when two hold the same Message-IDs; the digest
covers them all, grouped by mailbox, or one per mailbox with its own recipients."""

from __future__ import annotations

import mailbox
import re
import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.adapters.digest_queries import last_digest_at
from bot.adapters.leases import Leases
from bot.adapters.maildir import MaildirOutbox
from bot.adapters.store import Store
from bot.cli import main
from bot.config import load_config
from bot.reports import ALL, send_digests
from bot.rules import load_rules
from bot.wiring import open_bots, service

ROOT = Path(__file__).parent.parent
NAMES = ("berlin", "lyon")


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """Two mailboxes holding copies of the example mailbox (the same Message-IDs in both);
    lyon has its own digest recipient, berlin shares [digest] to."""
    example = tomllib.loads((ROOT / "examples" / "quotebot.toml").read_text(encoding="utf-8"))
    domains = ", ".join(f'"{d}"' for d in example["customers"]["domains"])
    contacts = "".join(
        f'[[mailboxes.contacts]]\nemail = "{c["email"]}"\nname = "{c["name"]}"\n'
        f'role = "{c["role"]}"\n'
        for c in example["contacts"]
    )
    text = (
        '[bot]\nsince = "2025-01-01"\n[digest]\nto = "ops@printshop.example"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "q.db"}"\n'
    )
    for name in NAMES:
        shutil.copytree(ROOT / "examples" / "mailbox", tmp_path / name)
        own = '[mailboxes.digest]\nto = "ops-lyon@printshop.example"\n' if name == "lyon" else ""
        text += (
            f'[[mailboxes]]\nname = "{name}"\naddress = "quotes@printshop.example"\n'
            f'[mailboxes.mailbox]\npath = "{tmp_path / name}"\n'
            f'[mailboxes.outbox]\npath = "{tmp_path / name}-out"\n'
            f"[mailboxes.customers]\ndomains = [{domains}]\n{own}{contacts}"
        )
    path = tmp_path / "quotebot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_mailbox_is_answered_on_its_own_and_once(config_path: Path) -> None:
    """One `run --once` answers both mailboxes alike (same mail, same replies, separate
    threads); the second run sends nothing in either."""
    runner = CliRunner()
    first = runner.invoke(main, ["run", "--once", "--config", str(config_path)])
    assert first.exit_code == 0, first.output
    table = first.output.splitlines()
    assert table[0].split()[:2] == ["mailbox", "message"]
    rows = [line.split()[0] for line in table[1:] if line and not line.startswith("...")]
    assert {"berlin", "lyon"} <= set(rows)  # each row says whose it is
    outboxes = [mailbox.Maildir(config_path.parent / f"{n}-out", create=False) for n in NAMES]
    counts = [len(box) for box in outboxes]
    assert counts[0] == counts[1] > 0
    answered = [sorted(str(m["In-Reply-To"]) for m in box) for box in outboxes]
    assert answered[0] == answered[1]
    second = runner.invoke(main, ["run", "--once", "--config", str(config_path)])
    assert second.exit_code == 0 and "0 replies written" in second.output
    assert [len(box) for box in outboxes] == counts
    config = load_config(config_path)
    store = Store(config.database_url)
    berlin, lyon = store.for_mailbox("berlin"), store.for_mailbox("lyon")
    assert berlin.thread("quote:Q-1042").status == lyon.thread("quote:Q-1042").status != "open"
    assert store.thread("quote:Q-1042").status == "open"  # "default" holds nothing
    store.close()


def test_status_and_digest_cover_every_mailbox(config_path: Path) -> None:
    """`status` has a section per mailbox and says no worker holds one; `digest` prints every
    mailbox's digest under its name."""
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--once", "--config", str(config_path)]).exit_code == 0
    status = runner.invoke(main, ["status", "--config", str(config_path)])
    assert status.exit_code == 0, status.output
    for name in NAMES:
        assert f"== mailbox {name} (quotes@printshop.example)" in status.output
    assert "workers: none polling now" in status.output
    digest = runner.invoke(main, ["digest", "--config", str(config_path)])
    assert digest.exit_code == 0, digest.output
    assert "=== MAILBOX berlin" in digest.output and "=== MAILBOX lyon" in digest.output


def test_digests_go_per_mailbox_or_grouped(config_path: Path, tmp_path: Path) -> None:
    """lyon, with its own [mailboxes.digest] to, gets its own digest; berlin's goes to [digest]
    to in the grouped digest, headed by its name; each is recorded, so the next starts there."""
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--once", "--config", str(config_path)]).exit_code == 0
    config = load_config(config_path)
    store = Store(config.database_url)
    senders = {name: MaildirOutbox(tmp_path / f"digest-{name}") for name in NAMES}
    now = datetime.now(UTC)
    sent = send_digests(config, store, senders, now)
    assert sorted(str(m["To"]) for m in sent) == [
        "ops-lyon@printshop.example",
        "ops@printshop.example",
    ]
    grouped = next(m for m in sent if m["To"] == "ops@printshop.example")
    text = grouped.get_body(preferencelist=("plain",)).get_content()
    html = grouped.get_body(preferencelist=("html",)).get_content()
    assert "=== MAILBOX berlin" in text and "MAILBOX lyon" not in text
    assert "Mailbox berlin (quotes@printshop.example)" in html and html.count("<body") == 1
    assert str(grouped["Subject"]).count("berlin: ") == 1
    assert len(mailbox.Maildir(tmp_path / "digest-lyon", create=False)) == 1
    assert last_digest_at(store, "lyon") == last_digest_at(store, ALL) == now
    assert last_digest_at(store, "berlin") is None  # berlin went in the grouped one
    store.close()


def test_digest_goes_out_once_when_every_worker_fires(config_path: Path, tmp_path: Path) -> None:
    """Two workers' digest jobs firing at 07:30: the first sends lyon's and the grouped
    digest, the second finds them just sent and sends nothing."""
    config = load_config(config_path)
    senders = {name: MaildirOutbox(tmp_path / f"digest-{name}") for name in NAMES}
    jobs = []
    for _worker in range(2):
        opened = open_bots(config, load_rules(config.bot.rules_dir))
        first = next(iter(opened.adapters.values()))
        jobs.append((opened, service(config, opened.passes, first, opened.store, senders=senders)))
    for _opened, job in jobs:
        assert job.digest is not None
        job.digest()
    counts = [len(mailbox.Maildir(tmp_path / f"digest-{n}", create=False)) for n in NAMES]
    assert counts == [1, 1]  # berlin's outbox carried the grouped one, lyon's its own
    for opened, _job in jobs:
        opened.close()
        opened.store.close()


def test_status_shows_which_worker_holds_a_mailbox(config_path: Path) -> None:
    """While a worker holds a mailbox's lease, `status` names the mailbox, the worker and until
    when; once it is given back, no worker is listed."""
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--once", "--config", str(config_path)]).exit_code == 0
    store = Store(load_config(config_path).database_url)
    leases = Leases(store.engine, "worker-2:4711", seconds=60)
    assert leases.claim("berlin")
    status = runner.invoke(main, ["status", "--config", str(config_path)])
    assert "workers (mailbox leases):" in status.output
    assert re.search(r"^  berlin +worker-2:4711 +until \d\d:\d\d:\d\d UTC$", status.output, re.M)
    leases.release("berlin")
    status = runner.invoke(main, ["status", "--config", str(config_path)])
    assert "workers: none polling now" in status.output
    store.close()


def _failed(config_path: Path) -> dict[str, int]:
    """Each mailbox's failed record of the broken message: its attempts (0: sent back)."""
    store = Store(load_config(config_path).database_url)
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT mailbox, attempts FROM messagerecord WHERE error IS NOT NULL"
        ).all()
    store.close()
    return dict(rows)  # type: ignore[arg-type]


def test_retry_sends_a_message_back_in_every_mailbox_or_in_the_one_named(
    config_path: Path, tmp_path: Path
) -> None:
    """The same broken message failed in both mailboxes (one Message-ID): `retry ID` sends it
    back in both, `retry --mailbox lyon ID` in lyon alone; an unknown mailbox is one line."""
    for name in NAMES:
        (tmp_path / name / "new" / "0000000001.M0P0.broken").write_bytes(b"")
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--once", "--config", str(config_path)]).exit_code == 0
    assert _failed(config_path) == {"berlin": 1, "lyon": 1}
    message_id = "<0000000001.M0P0.broken@quotebot.invalid>"

    retry = ["retry", "--config", str(config_path)]
    one = runner.invoke(main, [*retry, "--mailbox", "lyon", message_id])
    assert one.exit_code == 0, one.output
    assert "(mailbox lyon)" in one.output
    assert _failed(config_path) == {"berlin": 1, "lyon": 0}
    both = runner.invoke(main, [*retry, message_id])
    assert both.exit_code == 0, both.output
    assert "(mailbox berlin, lyon)" in both.output
    assert _failed(config_path) == {"berlin": 0, "lyon": 0}

    unknown = runner.invoke(main, [*retry, "--mailbox", "paris", message_id])
    assert unknown.exit_code == 2
    assert "no mailbox named 'paris'" in unknown.output and "berlin, lyon" in unknown.output
    nothing = runner.invoke(main, [*retry, "--mailbox", "lyon", "<nope@x>"])
    assert (
        nothing.exit_code == 2
        and "no failed message with this id in mailbox lyon" in nothing.output
    )
