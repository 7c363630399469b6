"""The servers the benchmark runs against (the tests' throwaway Dovecot and SMTP sink, from
tests/servers), filling them with generated mail, and the bot's config for them."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

from benchmarks.mailgen import Generated
from benchmarks.people import CONTACTS, CUSTOMER_DOMAINS, SHOP_ADDRESS

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))  # the tests' server helpers are reused, not copied

from servers import DOVECOT, PASSWORD, Dovecot, ServerSettings, SmtpSink  # noqa: E402  (tests/)

__all__ = [
    "DOVECOT",
    "PASSWORD",
    "PASSWORD_ENV",
    "REPO",
    "Dovecot",
    "Filled",
    "SmtpSink",
    "bot_config",
    "fill",
]

PASSWORD_ENV = "QUOTEBOT_BENCH_PASSWORD"
APPEND_BATCH = 200  # messages per MULTIAPPEND (RFC 3502): one round trip for the batch
BIG_BYTES = 900_000
# Dovecot rescans a Maildir folder whose directory changed in the last moments on every open;
# after the fill it settles first, as a mailbox does between two deliveries
SETTLE_SECONDS = 2.0


@dataclass
class Filled:
    """What went into the mailbox, and how long it took (never part of a figure)."""

    folders: dict[str, int] = field(default_factory=dict)  # folder: messages
    bytes: int = 0
    sizes: list[int] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def median_bytes(self) -> int:
        return int(statistics.median(self.sizes)) if self.sizes else 0

    @property
    def big(self) -> int:
        return sum(1 for size in self.sizes if size >= BIG_BYTES)


def fill(server: Dovecot, mail: Iterable[Generated], *, small: str, small_count: int) -> Filled:
    """APPEND the mail to INBOX in batches over one connection, the first `small_count`
    messages to the folder `small` too, then read every message once (untimed) so Dovecot's
    caches are as warm for the first measurement as for the last."""
    done = Filled()
    started = time.perf_counter()
    with server.connect() as client:
        client.create_folder(small)
        batch: list[Generated] = []
        for item in mail:
            done.sizes.append(len(item.raw))
            done.bytes += len(item.raw)
            done.kinds[item.kind] += 1
            batch.append(item)
            if len(done.sizes) <= small_count:
                _append(client, small, [item])
            if len(batch) == APPEND_BATCH:
                _append(client, "INBOX", batch)
                batch = []
        if batch:
            _append(client, "INBOX", batch)
        for folder in ("INBOX", small):
            done.folders[folder] = _read_all(client, folder)
    done.seconds = time.perf_counter() - started
    time.sleep(SETTLE_SECONDS)
    return done


def _append(client: IMAPClient, folder: str, batch: list[Generated]) -> None:
    client.multiappend(folder, [{"msg": item.raw, "date": item.date} for item in batch])


def _read_all(client: IMAPClient, folder: str) -> int:
    """Open the folder read-write once, as the people reading the shared mailbox do (Dovecot
    moves the mail from Maildir new/ to cur/ and clears \\Recent), and read every message."""
    client.select_folder(folder)
    uids = client.search(["ALL"])
    for start in range(0, len(uids), 500):
        client.fetch(uids[start : start + 500], ["RFC822.SIZE", "BODY.PEEK[]"])
    client.unselect_folder()
    return len(uids)


def bot_config(
    path: Path,
    *,
    imap: ServerSettings,
    database: Path,
    since: datetime,
    folder: str = "INBOX",
    outbox: Path | ServerSettings,
) -> Path:
    """A quotebot.toml for the bench servers: the bench's customers and contacts, replies to a
    Maildir folder or through an SMTP server."""
    if isinstance(outbox, Path):
        out = f'kind = "maildir"\npath = "{outbox}"'
    else:
        out = f'kind = "smtp"\nhost = "{outbox.host}"\nport = {outbox.port}\nsecurity = "none"'
    contacts = "".join(
        f'[[contacts]]\nemail = "{p.email}"\nname = "{p.name}"\nrole = "{p.role}"\n'
        for p in CONTACTS
    )
    path.write_text(
        f"""[bot]
address = "{SHOP_ADDRESS}"
since = "{since.isoformat()}"
[mailbox]
kind = "imap"
host = "{imap.host}"
port = {imap.port}
security = "none"
username = "{imap.username}"
password_env = "{PASSWORD_ENV}"
folder = "{folder}"
[outbox]
{out}
[database]
url = "sqlite:///{database}"
[customers]
domains = {json.dumps(list(CUSTOMER_DOMAINS))}
{contacts}""",
        encoding="utf-8",
    )
    return path
