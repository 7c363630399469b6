"""[security] verify_dkim: the bot checks DKIM signatures itself, with keys from a real DNS server
(dnsmasq), and a contact's authority counts only for mail signed by the From domain."""

from __future__ import annotations

import json
import mailbox
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, make_msgid
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from servers import OPENSSL_MISSING, unavailable
from servers.dns import DNSMASQ, DNSMASQ_MISSING, DnsServer

from bot.adapters.dkim import DkimVerifier
from bot.adapters.maildir import MaildirOutbox
from bot.adapters.store import Store
from bot.cli import main
from bot.config import Config, load_config
from bot.errors import MessageError
from bot.model import Cursor, Incoming
from bot.rules import load_rules
from bot.service import Bot, RunReport

ROOT = Path(__file__).parent.parent
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEE = "lee.park@acme-robotics.example"  # a purchasing contact in examples/quotebot.toml
SELECTOR = "s2026"
RELEASE = "Release 250 units of rev B4, start now."


class Keys:
    """An RSA key pair made with openssl, its private key in PEM and its DNS record."""

    def __init__(self, folder: Path) -> None:
        key = folder / "dkim.pem"
        subprocess.run(
            ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
            check=True,
            capture_output=True,
        )
        public = subprocess.run(
            ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "PEM"],
            check=True,
            capture_output=True,
        ).stdout.decode()
        self.private = key.read_bytes()
        body = "".join(line for line in public.splitlines() if "-----" not in line)
        self.record = f"v=DKIM1; k=rsa; p={body}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """One key pair for the module (a 2048-bit key takes a moment)."""
    if shutil.which("openssl") is None:
        unavailable(OPENSSL_MISSING)
    return Keys(tmp_path_factory.mktemp("dkim"))


@pytest.fixture
def dns_server(keys: Keys) -> Iterator[DnsServer]:
    """dnsmasq publishing the key for acme-robotics.example (split into 255-byte strings)."""
    if DNSMASQ is None:
        unavailable(DNSMASQ_MISSING)
    with DnsServer({f"{SELECTOR}._domainkey.acme-robotics.example": keys.record}) as server:
        yield server


def signed(
    keys: Keys, *, sender: str = LEE, domain: str = "acme-robotics.example", sign: bool = True
) -> bytes:
    """A release from `sender`, signed by `domain` with the test key (unless not `sign`), as a
    receiving server keeps it (no Authentication-Results)."""
    message = (
        f"From: Lee Park <{sender}>\r\nTo: quotes@printshop.example\r\n"
        f"Subject: Re: Quote Q-1042 brackets\r\nMessage-ID: {make_msgid(domain=domain)}\r\n"
        f"Date: {format_datetime(NOW)}\r\n\r\n{RELEASE}\r\n"
    ).encode()
    if not sign:
        return message
    signature = dkim.sign(
        message,
        SELECTOR.encode(),
        domain.encode(),
        keys.private,
        include_headers=[b"from", b"to", b"subject", b"message-id", b"date"],
    )
    return bytes(signature) + message


class OneMessage:
    """A source holding one raw message (the DKIM check does not care where mail comes from)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def incoming(self, cursors: object) -> Iterator[Incoming]:
        yield Incoming(key="INBOX/1/1", raw=self.raw, cursor=Cursor("test/INBOX", 1, 1))

    def fetch(self, key: str) -> bytes | None:
        return self.raw


@pytest.fixture
def config(tmp_path: Path, dns_server: DnsServer) -> Config:
    """The example config with verify_dkim on against `dns_server`, answering anything since
    the message's date."""
    base = load_config(ROOT / "examples" / "quotebot.toml")
    return replace(
        base,
        outbox=replace(base.outbox, path=tmp_path / "outbox"),
        database_url=f"sqlite:///{tmp_path / 'quotebot.db'}",
        bot=replace(base.bot, since=datetime(2026, 1, 1, tzinfo=UTC)),
        security=replace(base.security, verify_dkim=True, dkim_resolver=dns_server.address),
    )


def run(config: Config, raw: bytes, *, at: datetime = NOW) -> RunReport:
    """One pass over `raw` at `at` with the config's DKIM check."""
    bot = Bot(
        config,
        load_rules(config.bot.rules_dir),
        source=OneMessage(raw),
        outbox=MaildirOutbox(config.outbox.path),  # type: ignore[union-attr]
        store=Store(config.database_url),
        clock=lambda: at,
    )
    return bot.run_once()


def test_signed_release_from_purchasing_is_recorded(config: Config, keys: Keys) -> None:
    """A release signed by the From domain keeps the purchasing contact's authority."""
    report = run(config, signed(keys))
    assert [(r.action, r.missing) for r in report.rows] == [("record", ())]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda keys: signed(keys).replace(b"250 u", b"2500 u"), id="body-changed"),
        pytest.param(lambda keys: signed(keys, sign=False), id="unsigned"),
    ],
)
def test_unsigned_or_altered_release_asks_for_authority(
    config: Config, keys: Keys, tamper: Callable[[Keys], bytes]
) -> None:
    """A release whose signature is missing or no longer matches asks for authority."""
    raw = tamper(keys)
    report = run(config, raw)
    assert [(r.action, r.missing) for r in report.rows] == [("clarify", ("authority",))]


def test_signature_of_another_domain_does_not_count(config: Config, keys: Keys) -> None:
    """A valid signature by a domain not aligned with From (an attacker's own) is no pass."""
    attacker = signed(keys, domain="acme-robotics.example.attacker.example")
    report = run(config, attacker)
    assert [(r.action, r.missing) for r in report.rows] == [("clarify", ("authority",))]


def test_verifier_joins_a_split_key_record(dns_server: DnsServer, keys: Keys) -> None:
    """A 2048-bit key spans two TXT strings; the verifier reads it whole."""
    assert len(keys.record) > 255
    verifier = DkimVerifier(resolver=dns_server.address, timeout=2)
    assert verifier.signers(signed(keys)) == ("acme-robotics.example",)


def test_dns_outage_fails_the_message_for_a_later_retry(
    config: Config, dns_server: DnsServer, keys: Keys
) -> None:
    """With the resolver down the message is not answered as unverified: it fails with a clear
    error and waits for its retry; once DNS is back, the retry records the release."""
    dns_server.stop()
    verifier = DkimVerifier(resolver=dns_server.address, timeout=1)
    with pytest.raises(MessageError, match="DKIM key lookup failed"):
        verifier.signers(signed(keys))
    raw = signed(keys)
    quick = replace(config, schedule=replace(config.schedule, max_attempts=3))
    report = run(quick, raw)
    assert [r.action for r in report.rows] == ["ignore"]
    assert "DKIM key lookup failed" in (report.rows[0].error or "")
    assert len(mailbox.Maildir(config.outbox.path, create=True)) == 0  # type: ignore[union-attr]
    dns_server.start()
    later = run(quick, raw, at=NOW + timedelta(hours=1))
    assert [(r.action, r.missing, r.error) for r in later.rows] == [("record", (), None)]
    assert Store(config.database_url).failure("INBOX/1/1") is None


def test_check_command_verifies_signatures_too(
    tmp_path: Path, dns_server: DnsServer, keys: Keys
) -> None:
    """`quotebot check` with verify_dkim looks the key up as the service does: the signed
    release is verified, the unsigned one is not."""
    text = (ROOT / "examples" / "quotebot.toml").read_text(encoding="utf-8")
    host, port = dns_server.address
    path = tmp_path / "quotebot.toml"
    path.write_text(
        f'{text}\n[security]\nverify_dkim = true\ndkim_resolver = "{host}:{port}"\n',
        encoding="utf-8",
    )
    (tmp_path / "signed.eml").write_bytes(signed(keys))
    (tmp_path / "unsigned.eml").write_bytes(signed(keys, sign=False))
    names = [str(tmp_path / "signed.eml"), str(tmp_path / "unsigned.eml")]
    result = CliRunner().invoke(main, ["check", "--json", "--config", str(path), *names])
    assert result.exit_code == 0, result.output
    verdicts = [json.loads(line)["sender_verified"] for line in result.output.splitlines()]
    assert verdicts == [True, False]
