"""Tests for bot.config: quotebot.toml to typed objects, with errors that say how to fix."""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import ImapConfig, SmtpConfig, load_config, parse_config
from bot.errors import ConfigError, QuotebotError

SOURCE = Path("/etc/quotebot/quotebot.toml")

BASE: dict[str, Any] = {
    "bot": {"address": "Quotes@PrintShop.example"},
    "mailbox": {"kind": "maildir", "path": "var/inbox"},
    "outbox": {"kind": "maildir", "path": "var/outbox"},
    "customers": {"domains": ["Acme-Robotics.example"]},
    "contacts": [
        {"email": "Lee.Park@acme-robotics.example", "name": "Lee Park", "role": "purchasing"},
        {"email": "dana@acme-robotics.example", "name": "Dana", "role": "technical"},
    ],
}

GOOD_TOML = """\
[bot]
address = "quotes@printshop.example"
mode = "dry-run"
since = 2025-01-15
aliases = ["Sales@PrintShop.example"]
reply_interval_hours = 12

[mailbox]
path = "var/inbox"

[outbox]
path = "var/outbox"

[customers]
domains = ["acme.example"]

[[contacts]]
email = "buyer@acme.example"
role = "owner"
"""


DELETE = object()


def _with(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """A deep copy of BASE with one key set (or deleted when value is DELETE)."""
    raw = copy.deepcopy(BASE)
    target: Any = raw
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


def test_minimal_config_gets_documented_defaults() -> None:
    """A config with only the required tables gets mode send, a 24 h interval and no aliases."""
    config = parse_config(SOURCE, BASE)
    assert config.bot.address == "quotes@printshop.example"
    assert config.bot.mode == "send"
    assert config.bot.reply_interval_hours == 24.0
    assert config.bot.aliases == ()
    assert config.bot.reply_all is False
    assert config.customer_domains == ("acme-robotics.example",)
    assert config.source == SOURCE


@pytest.mark.parametrize(
    "address",
    [
        "lee.park@acme-robotics.example",
        "LEE.PARK@ACME-ROBOTICS.EXAMPLE",
        "Lee.Park@acme-robotics.example",
    ],
    ids=["lower", "upper", "mixed"],
)
def test_contact_lookup_ignores_case(address: str) -> None:
    """A contact is found by address whatever the case of either side."""
    contact = parse_config(SOURCE, BASE).contact(address)
    assert contact is not None
    assert contact.role == "purchasing"


def test_own_addresses_include_aliases_lower_cased(tmp_path: Path) -> None:
    """The bot's own addresses are its address and aliases, lower-cased."""
    path = tmp_path / "quotebot.toml"
    path.write_text(GOOD_TOML, encoding="utf-8")
    config = load_config(path)
    assert config.own_addresses == {"quotes@printshop.example", "sales@printshop.example"}
    assert config.bot.mode == "dry-run"
    assert config.bot.reply_interval_hours == 12.0
    assert config.bot.since == datetime(2025, 1, 15, tzinfo=UTC)
    assert config.contacts[0].role == "owner"


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("bot", "mode"), "sned", ["bot.mode", "'sned'", "send, draft, dry-run"]),
        (
            ("bot", "address"),
            "Quotes <quotes@printshop.example>",
            ["bot.address", "Quotes <quotes@printshop.example>", "bare address"],
        ),
        (("bot", "address"), DELETE, ["bot.address", "missing", "quotes@printshop.example"]),
        (("bot", "reply_interval_hours"), -1, ["bot.reply_interval_hours", "-1", "0 or more"]),
        (("bot", "reply_interval_hours"), "24", ["bot.reply_interval_hours", "'24'", "float"]),
        (("bot", "reply_all"), "yes", ["bot.reply_all", "'yes'", "bool"]),
        (("bot", "colour"), "blue", ["bot.colour", "'blue'", "unknown key", "address"]),
        (("bot", "since"), "yesterday", ["bot.since", "'yesterday'", "2025-01-01"]),
        (("bot", "rules_dir"), "/no/such/dir", ["bot.rules_dir", "/no/such/dir", "no such folder"]),
        (("mailbox", "kind"), "pop3", ["mailbox.kind", "'pop3'", "maildir", "imap"]),
        (("outbox", "path"), DELETE, ["outbox.path", "missing", "Maildir"]),
        (("customers", "domains"), ["@acme.example"], ["customers.domains", "@acme.example"]),
        (("contacts", 0, "role"), "buyer", ["contacts[0].role", "'buyer'", "purchasing"]),
        (
            ("contacts", 1, "email"),
            "not an address",
            ["contacts[1].email", "not an address", "bare address"],
        ),
        (("mailbox",), DELETE, ["mailbox", "missing", "add a [mailbox] table"]),
        (("extra",), 1, ["extra", "unknown key"]),
    ],
    ids=[
        "bad-mode",
        "address-with-name",
        "address-missing",
        "negative-interval",
        "interval-string",
        "reply-all-string",
        "unknown-bot-key",
        "bad-since",
        "rules-dir-missing",
        "mailbox-kind",
        "outbox-path-missing",
        "domain-with-at",
        "contact-role",
        "contact-email",
        "mailbox-table-missing",
        "unknown-top-key",
    ],
)
def test_bad_value_error_names_file_key_value_and_fix(
    path: tuple[str | int, ...], value: object, expected: list[str]
) -> None:
    """A bad or missing value raises ConfigError naming the file, the key, the value and a fix."""
    with pytest.raises(ConfigError) as caught:
        parse_config(SOURCE, _with(path, value))
    message = str(caught.value)
    assert str(SOURCE) in message
    for part in expected:
        assert part in message


def test_missing_file_says_how_to_create_it(tmp_path: Path) -> None:
    """A missing config file raises ConfigError naming the path and the example to copy."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="config.example.toml") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    """A file that is not TOML raises ConfigError (a QuotebotError) naming the file."""
    path = tmp_path / "quotebot.toml"
    path.write_text("[bot\naddress = ", encoding="utf-8")
    with pytest.raises(QuotebotError, match="not valid TOML") as caught:
        load_config(path)
    assert isinstance(caught.value, ConfigError)
    assert str(path) in str(caught.value)


IMAP = {
    "kind": "imap",
    "host": "imap.printshop.example",
    "username": "quotes@printshop.example",
    "password_env": "QUOTEBOT_IMAP_PASSWORD",
}
SMTP = {**IMAP, "kind": "smtp", "host": "smtp.printshop.example"}


def test_imap_and_smtp_tables_take_secure_defaults() -> None:
    """IMAP and SMTP default to implicit TLS on their standard ports; nothing secret is read."""
    config = parse_config(SOURCE, {**_with(("mailbox",), IMAP), "outbox": SMTP})
    assert isinstance(config.mailbox, ImapConfig) and isinstance(config.outbox, SmtpConfig)
    assert (config.mailbox.server.security, config.mailbox.server.port) == ("tls", 993)
    assert (config.outbox.server.security, config.outbox.server.port) == ("tls", 465)
    assert config.mailbox.folder == "INBOX" and config.mailbox.sent_folder is None
    starttls = parse_config(
        SOURCE, {**_with(("mailbox",), {**IMAP, "security": "starttls"}), "outbox": SMTP}
    )
    assert isinstance(starttls.mailbox, ImapConfig) and starttls.mailbox.server.port == 143


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({**IMAP, "security": "none"}, ["mailbox.security", "'none'", "clear text", "tls"]),
        ({**IMAP, "security": "ssl"}, ["mailbox.security", "'ssl'", "tls, starttls, none"]),
        ({**IMAP, "password_env": None}, ["mailbox.password_env", "environment variable"]),
        ({**IMAP, "auth": "oauth2"}, ["mailbox.token_command", "OAuth2 access token"]),
        ({**IMAP, "port": 0}, ["mailbox.port", "0", "between 1 and 65535"]),
        ({**IMAP, "batch_size": 0}, ["mailbox.batch_size", "positive"]),
        ({**IMAP, "password": "hunter2"}, ["mailbox.password", "unknown key", "password_env"]),
        ({**IMAP, "ca_file": "/no/such.pem"}, ["mailbox.ca_file", "no such file"]),
    ],
    ids=[
        "clear-text-remote",
        "bad-security",
        "no-password-env",
        "oauth2-without-command",
        "port-zero",
        "batch-zero",
        "password-in-file",
        "ca-file-missing",
    ],
)
def test_bad_imap_table_is_one_clear_error(table: dict[str, object], expected: list[str]) -> None:
    """A wrong [mailbox] IMAP table names the key, the value and the fix."""
    table = {k: v for k, v in table.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        parse_config(SOURCE, _with(("mailbox",), table))
    for part in expected:
        assert part in str(caught.value)


def test_clear_text_is_allowed_on_loopback_only() -> None:
    """security = "none" is accepted for a server on this machine (the tests' Dovecot)."""
    local = {**IMAP, "host": "127.0.0.1", "security": "none"}
    config = parse_config(SOURCE, _with(("mailbox",), local))
    assert isinstance(config.mailbox, ImapConfig) and config.mailbox.server.port == 143


def test_schedule_and_digest_tables() -> None:
    """[schedule] and [digest] are read with their defaults; the timezone is an IANA zone."""
    raw = _with(("schedule",), {"poll_seconds": 30, "nudge_days": 1.5})
    raw["digest"] = {"to": "ops@printshop.example", "time": "06:45", "timezone": "Europe/Berlin"}
    config = parse_config(SOURCE, raw)
    assert (config.schedule.poll_seconds, config.schedule.nudge_days) == (30, 1.5)
    assert config.schedule.max_nudges == 2
    assert config.digest.to == ("ops@printshop.example",)
    assert config.digest.time.isoformat() == "06:45:00"
    assert str(config.digest.timezone) == "Europe/Berlin"
    assert config.digest.weekdays == ("mon", "tue", "wed", "thu", "fri")


@pytest.mark.parametrize(
    ("table", "value", "expected"),
    [
        (("digest", "timezone"), "Mars/Olympus", ["digest.timezone", "IANA"]),
        (("digest", "time"), "7.30am", ["digest.time", '"07:30"']),
        (("digest", "weekdays"), ["monday", "funday"], ["digest.weekdays", "'fun'"]),
        (("digest", "to"), "Ops <ops@printshop.example>", ["digest.to", "bare address"]),
        (("schedule", "poll_seconds"), 1, ["schedule.poll_seconds", "5 seconds"]),
    ],
    ids=["bad-zone", "bad-time", "bad-weekday", "named-address", "poll-too-fast"],
)
def test_bad_schedule_or_digest_value(
    table: tuple[str, str], value: object, expected: list[str]
) -> None:
    """A wrong [schedule] or [digest] value names the key, the value and the fix."""
    with pytest.raises(ConfigError) as caught:
        parse_config(SOURCE, _with(table, value))
    for part in expected:
        assert part in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MX.PrintShop.example", ("mx.printshop.example",)),
        (
            ["mx1.printshop.example", "MX2.printshop.example", "mx1.printshop.example"],
            ("mx1.printshop.example", "mx2.printshop.example"),
        ),
    ],
    ids=["one-id-lower-cased", "two-mx"],
)
def test_security_authserv_id(value: object, expected: tuple[str, ...]) -> None:
    """[security] authserv_id takes one id or a list of them (a shop with two MX hosts)."""
    config = parse_config(SOURCE, _with(("security", "authserv_id"), value))
    assert config.security.authserv_ids == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.53", ("10.0.0.53", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
    ],
    ids=["ipv4", "ipv4-port", "ipv6-port", "ipv6"],
)
def test_security_dkim_resolver(value: str, expected: tuple[str, int]) -> None:
    """[security] dkim_resolver takes an address with an optional port."""
    raw = _with(("security", "verify_dkim"), True)
    raw["security"]["dkim_resolver"] = value
    config = parse_config(SOURCE, raw)
    assert config.security.verify_dkim and config.security.dkim_resolver == expected


@pytest.mark.parametrize("value", ["dns.example", "127.0.0.1:99999", "1.2.3.4:x"])
def test_bad_dkim_resolver(value: str) -> None:
    """A resolver that is not an address and port is refused with the form to write."""
    raw = _with(("security", "verify_dkim"), True)
    raw["security"]["dkim_resolver"] = value
    with pytest.raises(ConfigError, match="127.0.0.1:53"):
        parse_config(SOURCE, raw)


def test_security_defaults_to_no_check() -> None:
    """Without a [security] table no receiving server is trusted and nothing is checked."""
    assert parse_config(SOURCE, copy.deepcopy(BASE)).security.authserv_ids == ()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("authserv_id", "", ["security.authserv_id = ''", "mx.printshop.example"]),
        ("authserv_id", "mx.printshop.example; dmarc=pass", ["security.authserv_id", "receiving"]),
        ("authserv_id", [], ["security.authserv_id = []", "at least one"]),
        ("authserv_id", ["mx1.printshop.example", 7], ["security.authserv_id = 7"]),
        ("authserv_id", 7, ["security.authserv_id = 7", "expected a str or list"]),
        ("verify_dkim", "yes", ["security.verify_dkim = 'yes'", "expected a bool"]),
        ("dkim_resolver", "127.0.0.1", ["security.dkim_resolver", "verify_dkim = true"]),
        ("authserv", "mx.printshop.example", ["security.authserv", "unknown key"]),
    ],
    ids=[
        "empty",
        "not-an-id",
        "empty-list",
        "list-with-number",
        "number",
        "verify-dkim-not-bool",
        "resolver-without-verify",
        "typo",
    ],
)
def test_bad_security_value_names_the_key(key: str, value: object, expected: list[str]) -> None:
    """A bad [security] value raises ConfigError naming the file, the key, the value and a fix."""
    with pytest.raises(ConfigError) as caught:
        parse_config(SOURCE, _with(("security", key), value))
    assert str(SOURCE) in str(caught.value)
    for part in expected:
        assert part in str(caught.value)


def _example_mailboxes() -> dict[str, Any]:
    """The [[mailboxes]] example of config.example.toml, uncommented, with the shared tables."""
    text = (Path(__file__).parent.parent / "config.example.toml").read_text(encoding="utf-8")
    block = text.split("# --- mailboxes example begin ---\n")[1].split("# --- mailboxes")[0]
    body = "\n".join(line.removeprefix("#").removeprefix(" ") for line in block.splitlines())
    return tomllib.loads(
        '[bot]\nname = "Quotes desk"\n[digest]\nto = "ops@printshop.example"\n' + body
    )


def test_example_mailboxes_block_parses_into_one_config_per_mailbox() -> None:
    """The documented [[mailboxes]] example gives one Config per entry, each with its own name,
    address, mailbox, outbox, customers, contacts and digest recipients."""
    config = parse_config(SOURCE, _example_mailboxes())
    berlin, lyon = config.each()
    assert (berlin.name, lyon.name) == ("berlin", "lyon")
    assert berlin.bot.address == "quotes@berlin.printshop.example"
    assert berlin.own_addresses == {
        "quotes@berlin.printshop.example",
        "sales@berlin.printshop.example",
    }
    assert isinstance(berlin.mailbox, ImapConfig) and isinstance(berlin.outbox, SmtpConfig)
    assert berlin.customer_domains == ("acme-robotics.example",)
    assert [c.email for c in berlin.contacts] == ["lee.park@acme-robotics.example"]
    assert (berlin.digest.to, berlin.own_digest) == (("ops-berlin@printshop.example",), True)
    assert (lyon.digest.to, lyon.own_digest) == (("ops@printshop.example",), False)
    assert lyon.contacts == () and lyon.bot.name == "Quotes desk"
    assert config.mailboxes == (berlin, lyon) and config.digest.to == ("ops@printshop.example",)


def test_single_mailbox_form_is_one_mailbox_named_default() -> None:
    """A config with [mailbox] is one mailbox, named "default" (the name of rows from before)."""
    config = parse_config(SOURCE, _with(("bot", "mode"), "send"))
    assert config.each() == (config,) and config.name == "default"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda raw: raw.update(mailbox={"path": "x"}), ["mailbox", "move [mailbox] into each"]),
        (lambda raw: raw["mailboxes"][1].update(name="berlin"), ["mailboxes[1].name", "another"]),
        (lambda raw: raw["mailboxes"][0].update(name="Berlin 2"), ["mailboxes[0].name", "lower-case"]),
        (lambda raw: raw["mailboxes"][1].pop("outbox"), ["mailboxes[1].outbox is missing", "[mailboxes.outbox]"]),
        (lambda raw: raw["mailboxes"][0]["mailbox"].pop("host"), ["mailboxes[0].mailbox.host is missing"]),
        (lambda raw: raw["mailboxes"][0]["contacts"][0].update(role="boss"), ["mailboxes[0].contacts[0].role", "'boss'"]),
        (lambda raw: raw["mailboxes"][1].update(colour="red"), ["mailboxes[1].colour", "unknown key"]),
        (lambda raw: raw.update(database={"url": "mysql://x/y"}), ["database.url", "postgresql+psycopg"]),
        (lambda raw: raw.update(database={"url": "postgresql://u@h/d"}), ["database.url", "postgresql+psycopg://"]),
        (lambda raw: raw.update(database={"lease_seconds": 1}), ["database.lease_seconds", "5 to 3600"]),
    ],
    ids=[
        "both-forms", "duplicate-name", "bad-name", "entry-outbox-missing", "entry-host-missing",
        "entry-contact-role", "entry-unknown-key", "database-kind", "postgres-driver", "lease-short",
    ],
)  # fmt: skip
def test_bad_mailboxes_entry_is_one_line_naming_the_key(change: Any, expected: list[str]) -> None:
    """A mistake in [[mailboxes]] or [database] raises ConfigError naming the file, the entry's
    key and the fix, on one line."""
    raw = _example_mailboxes()
    change(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config(SOURCE, raw)
    message = str(caught.value)
    assert str(SOURCE) in message and "\n" not in message
    for part in expected:
        assert part in message
