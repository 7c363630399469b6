"""Read quotebot.toml into typed, validated objects; every error names file, key, value and fix."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError
from bot.model import ROLES, Contact, Role
from bot.parse import parse_address

Mode = Literal["send", "draft", "dry-run"]
MODES: tuple[Mode, ...] = ("send", "draft", "dry-run")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BotConfig:
    """The `[bot]` table: who the mailbox is and how replies go out."""

    address: str
    mode: Mode = "send"
    since: datetime | None = None  # None: the moment the bot first ran on its database
    name: str = "Quotes desk"
    aliases: tuple[str, ...] = ()
    reply_interval_hours: float = 24.0
    reply_all: bool = False
    rules_dir: Path = PACKAGE_ROOT / "rules"
    templates_dir: Path = PACKAGE_ROOT / "templates"


@dataclass(frozen=True)
class FolderConfig:
    """A `[mailbox]` or `[outbox]` table on the embedded default: a Maildir folder."""

    kind: Literal["maildir"]
    path: Path


Security = Literal["tls", "starttls", "none"]
SECURITIES: tuple[Security, ...] = ("tls", "starttls", "none")
Auth = Literal["password", "oauth2"]
AUTHS: tuple[Auth, ...] = ("password", "oauth2")
LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServerConfig:
    """How to reach and log in to an IMAP or SMTP server. Secrets are never stored here:
    `password_env` names an environment variable, `token_command` prints an OAuth2 token."""

    host: str
    port: int
    security: Security = "tls"
    username: str = ""
    auth: Auth = "password"
    password_env: str | None = None
    token_command: str | None = None
    ca_file: Path | None = None  # extra CA to trust (a private CA); verification stays on
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class ImapConfig:
    """`[mailbox] kind = "imap"`: the shared quotes mailbox on an IMAP server."""

    kind: Literal["imap"]
    server: ServerConfig
    folder: str = "INBOX"
    sent_folder: str | None = None  # the shop's sent mail: thread context, never answered
    drafts_folder: str = "Drafts"  # where replies go in draft mode
    batch_size: int = 200  # messages per FETCH
    max_message_bytes: int = 25_000_000  # larger: decided from headers and the first part
    idle: bool = True  # wait with IDLE where the server offers it
    save_sent: bool = True  # append a copy of each sent reply to sent_folder (Gmail does it itself)


@dataclass(frozen=True)
class SmtpConfig:
    """`[outbox] kind = "smtp"`: replies go out through this submission server."""

    kind: Literal["smtp"]
    server: ServerConfig


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ScheduleConfig:
    """The `[schedule]` table: how often the mailbox is read and when to remind."""

    poll_seconds: int = 60  # between passes (IMAP IDLE wakes the bot sooner)
    nudge_days: float = 2.0  # a clarification unanswered this long gets a reminder
    max_nudges: int = 2  # reminders per thread; after that the digest asks for a call
    max_attempts: int = 5  # tries at a message that fails before it is quarantined


@dataclass(frozen=True)
class DigestConfig:
    """The `[digest]` table: the ops lead's morning email."""

    to: tuple[str, ...] = ()  # empty: no digest is sent (quotebot digest still prints one)
    time: time = time(7, 30)
    timezone: tzinfo | None = None  # None: the machine's
    weekdays: tuple[str, ...] = WEEKDAYS[:5]
    stale_days: float = 3.0  # awaiting longer than this: marked for a phone call


@dataclass(frozen=True)
class SecurityConfig:
    """The `[security]` table: which receiving servers' Authentication-Results the bot trusts.
    Empty: sender authentication is not checked and the contact directory is taken as written."""

    authserv_ids: tuple[str, ...] = ()  # lower-cased; a list for shops with several MX hosts
    verify_dkim: bool = False  # check DKIM signatures itself (no trusted Authentication-Results)
    dkim_resolver: tuple[str, int] | None = None  # the DNS server for DKIM keys; None: system's


@dataclass(frozen=True)
class Config:
    """The whole config file."""

    source: Path
    bot: BotConfig
    mailbox: FolderConfig | ImapConfig
    outbox: FolderConfig | SmtpConfig
    database_url: str
    customer_domains: tuple[str, ...]
    contacts: tuple[Contact, ...]
    schedule: ScheduleConfig = ScheduleConfig()
    digest: DigestConfig = DigestConfig()
    security: SecurityConfig = SecurityConfig()
    name: str = "default"  # the mailbox's name in the database ([[mailboxes]] name)
    mailboxes: tuple[Config, ...] = ()  # [[mailboxes]]: one Config per entry; empty: [mailbox]
    lease_seconds: float = 30.0  # [database] lease_seconds: a dead worker's mailbox waits this
    own_digest: bool = False  # a [[mailboxes]] entry with its own [mailboxes.digest] to

    def each(self) -> tuple[Config, ...]:
        """Every mailbox's config: the [[mailboxes]] entries, or this one ([mailbox])."""
        return self.mailboxes or (self,)

    @property
    def postgres(self) -> bool:
        """Whether the store is PostgreSQL (several workers may share it)."""
        return self.database_url.startswith("postgresql")

    def contact(self, address: str) -> Contact | None:
        """The directory entry for an address, compared case-insensitively."""
        wanted = address.lower()
        for contact in self.contacts:
            if contact.email == wanted:
                return contact
        return None

    @property
    def own_addresses(self) -> frozenset[str]:
        """The bot's address and aliases, lower-cased."""
        return frozenset(a.lower() for a in (self.bot.address, *self.bot.aliases))


class _Reader:
    """Typed access to one TOML table that reports the dotted key at fault."""

    def __init__(self, source: Path, table: Mapping[str, Any], prefix: str) -> None:
        self.source, self.table, self.prefix = source, table, prefix

    def fail(self, key: str, value: object, fix: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.prefix}{key} = {value!r}: {fix}")

    def get(
        self, key: str, kind: type | tuple[type, ...], default: Any = ..., *, fix: str = ""
    ) -> Any:
        if key not in self.table:
            if default is ...:
                raise ConfigError(f"{self.source}: {self.prefix}{key} is missing: {fix}")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            kinds = kind if isinstance(kind, tuple) else (kind,)
            expected = " or ".join(k.__name__ for k in kinds)
            raise self.fail(key, value, f"expected a {expected}. {fix}".strip())
        return value

    def check_known(self, known: set[str]) -> None:
        for key in self.table:
            if key not in known:
                raise self.fail(
                    key, self.table[key], f"unknown key; known: {', '.join(sorted(known))}"
                )


def _address(reader: _Reader, key: str, value: str) -> str:
    name, addr = parse_address(value)
    if not addr or name:
        raise reader.fail(key, value, "write a bare address such as quotes@printshop.example")
    return addr.lower()


def _since(reader: _Reader, value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _since(reader, datetime.fromisoformat(value))
        except ValueError:
            pass
    raise reader.fail("since", value, 'write a date such as "2025-01-01"')


def _bot(source: Path, raw: Mapping[str, Any]) -> BotConfig:
    r = _Reader(source, raw, "bot.")
    r.check_known(
        {
            "address",
            "mode",
            "since",
            "name",
            "aliases",
            "reply_interval_hours",
            "reply_all",
            "rules_dir",
            "templates_dir",
        }
    )
    address = _address(r, "address", r.get("address", str, fix='e.g. "quotes@printshop.example"'))
    mode = r.get("mode", str, "send")
    if mode not in MODES:
        raise r.fail("mode", mode, f"use one of {', '.join(MODES)}")
    aliases = tuple(_address(r, "aliases", a) for a in r.get("aliases", list, []))
    interval = r.get("reply_interval_hours", float, 24.0)
    if interval < 0:
        raise r.fail("reply_interval_hours", interval, "use 0 or more hours")
    defaults = BotConfig(address=address)
    return BotConfig(
        address=address,
        mode=cast(Mode, mode),
        since=_since(r, raw["since"]) if "since" in raw else defaults.since,
        name=r.get("name", str, defaults.name),
        aliases=aliases,
        reply_interval_hours=interval,
        reply_all=r.get("reply_all", bool, False),
        rules_dir=_dir(r, "rules_dir", defaults.rules_dir),
        templates_dir=_dir(r, "templates_dir", defaults.templates_dir),
    )


def _dir(r: _Reader, key: str, default: Path) -> Path:
    if key not in r.table:
        return default
    path = Path(r.get(key, str))
    if not path.is_dir():
        raise r.fail(key, str(path), "no such folder; point it at a folder that exists")
    return path


def _folder(source: Path, raw: Mapping[str, Any], table: str) -> FolderConfig:
    r = _Reader(source, raw, f"{table}.")
    r.check_known({"kind", "path"})
    return FolderConfig(kind="maildir", path=Path(r.get("path", str, fix="name a Maildir folder")))


SERVER_KEYS = {
    "host",
    "port",
    "security",
    "username",
    "auth",
    "password_env",
    "token_command",
    "ca_file",
    "timeout_seconds",
}


def _server(r: _Reader, ports: Mapping[Security, int], *, login: bool = True) -> ServerConfig:
    """A server table; `login=False`: a relay that takes mail without AUTH is allowed (no
    username)."""
    host = r.get("host", str, fix='the server name, e.g. "outlook.office365.com"').strip()
    if not host:
        raise r.fail("host", host, "name the server")
    security = r.get("security", str, "tls")
    if security not in SECURITIES:
        raise r.fail("security", security, f"use one of {', '.join(SECURITIES)}")
    if security == "none" and host.lower() not in LOOPBACK:
        raise r.fail(
            "security",
            security,
            f"a password in clear text to {host} is refused; use tls or starttls "
            "(none is only for a server on this machine's loopback)",
        )
    port = r.get("port", int, ports[cast(Security, security)])
    if not 0 < port < 65536:
        raise r.fail("port", port, "use a port between 1 and 65535")
    auth = r.get("auth", str, "password")
    if auth not in AUTHS:
        raise r.fail("auth", auth, f"use one of {', '.join(AUTHS)}")
    if login:
        username = r.get("username", str, fix="the login name, usually the mailbox address")
    else:
        username = r.get("username", str, "")
    password_env = r.get("password_env", str, None)
    token_command = r.get("token_command", str, None)
    if auth == "password" and username and not password_env:
        raise r.fail(
            "password_env",
            password_env,
            "name the environment variable that holds the password, "
            'e.g. password_env = "QUOTEBOT_IMAP_PASSWORD"',
        )
    if auth == "oauth2" and not token_command:
        raise r.fail(
            "token_command",
            token_command,
            "name a command that prints a fresh OAuth2 access token (see README)",
        )
    ca_file = r.get("ca_file", str, None)
    if ca_file is not None and not Path(ca_file).is_file():
        raise r.fail("ca_file", ca_file, "no such file; name a PEM file of CA certificates")
    timeout = r.get("timeout_seconds", float, 30.0)
    if timeout <= 0:
        raise r.fail("timeout_seconds", timeout, "use a positive number of seconds")
    return ServerConfig(
        host=host,
        port=port,
        security=cast(Security, security),
        username=username,
        auth=cast(Auth, auth),
        password_env=password_env,
        token_command=token_command,
        ca_file=Path(ca_file) if ca_file else None,
        timeout_seconds=timeout,
    )


def _positive(r: _Reader, key: str, default: int) -> int:
    value: int = r.get(key, int, default)
    if value <= 0:
        raise r.fail(key, value, "use a positive whole number")
    return value


def _mailbox(
    source: Path, raw: Mapping[str, Any], table: str = "mailbox"
) -> FolderConfig | ImapConfig:
    r = _Reader(source, raw, f"{table}.")
    kind = r.get("kind", str, "maildir")
    if kind == "maildir":
        return _folder(source, raw, table)
    if kind != "imap":
        raise r.fail("kind", kind, 'use "maildir" or "imap"')
    r.check_known(
        SERVER_KEYS
        | {"kind", "folder", "sent_folder", "drafts_folder", "batch_size", "max_message_bytes"}
        | {"idle", "save_sent"}
    )
    return ImapConfig(
        kind="imap",
        server=_server(r, {"tls": 993, "starttls": 143, "none": 143}),
        folder=r.get("folder", str, "INBOX"),
        sent_folder=r.get("sent_folder", str, None),
        drafts_folder=r.get("drafts_folder", str, "Drafts"),
        batch_size=_positive(r, "batch_size", 200),
        max_message_bytes=_positive(r, "max_message_bytes", 25_000_000),
        idle=r.get("idle", bool, True),
        save_sent=r.get("save_sent", bool, True),
    )


def _outbox(
    source: Path, raw: Mapping[str, Any], table: str = "outbox"
) -> FolderConfig | SmtpConfig:
    r = _Reader(source, raw, f"{table}.")
    kind = r.get("kind", str, "maildir")
    if kind == "maildir":
        return _folder(source, raw, table)
    if kind != "smtp":
        raise r.fail("kind", kind, 'use "maildir" or "smtp"')
    r.check_known(SERVER_KEYS | {"kind"})
    ports: dict[Security, int] = {"tls": 465, "starttls": 587, "none": 25}
    return SmtpConfig(kind="smtp", server=_server(r, ports, login=False))


def _schedule(source: Path, raw: Mapping[str, Any]) -> ScheduleConfig:
    r = _Reader(source, raw, "schedule.")
    r.check_known({"poll_seconds", "nudge_days", "max_nudges", "max_attempts"})
    poll = r.get("poll_seconds", int, 60)
    if poll < 5:
        raise r.fail("poll_seconds", poll, "use 5 seconds or more")
    nudge_days = r.get("nudge_days", float, 2.0)
    if nudge_days <= 0:
        raise r.fail("nudge_days", nudge_days, "use a positive number of days")
    max_nudges = r.get("max_nudges", int, 2)
    if not 0 <= max_nudges <= 5:
        raise r.fail("max_nudges", max_nudges, "use 0 (no reminders) to 5")
    max_attempts = r.get("max_attempts", int, 5)
    if not 1 <= max_attempts <= 20:
        raise r.fail("max_attempts", max_attempts, "use 1 to 20 tries")
    return ScheduleConfig(
        poll_seconds=poll, nudge_days=nudge_days, max_nudges=max_nudges, max_attempts=max_attempts
    )


def _digest(source: Path, raw: Mapping[str, Any]) -> DigestConfig:
    r = _Reader(source, raw, "digest.")
    r.check_known({"to", "time", "timezone", "weekdays", "stale_days"})
    to = r.get("to", (str, list), [])
    recipients = tuple(_address(r, "to", a) for a in ([to] if isinstance(to, str) else to))
    at = r.get("time", (str, time), "07:30")
    if isinstance(at, str):
        try:
            at = time.fromisoformat(at)
        except ValueError:
            raise r.fail("time", at, 'write the time of day as "07:30"') from None
    zone = None
    if "timezone" in raw:
        name = r.get("timezone", str)
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise r.fail(
                "timezone", name, 'use an IANA name such as "Europe/Berlin" or "America/Chicago"'
            ) from None
    days = tuple(str(d).lower()[:3] for d in r.get("weekdays", list, list(WEEKDAYS[:5])))
    for day in days:
        if day not in WEEKDAYS:
            raise r.fail("weekdays", day, f"use day names: {', '.join(WEEKDAYS)}")
    stale = r.get("stale_days", float, 3.0)
    if stale <= 0:
        raise r.fail("stale_days", stale, "use a positive number of days")
    return DigestConfig(
        to=recipients, time=at, timezone=zone, weekdays=days or WEEKDAYS[:5], stale_days=stale
    )


_AUTHSERV_FIX = (
    "name your receiving server as it writes its Authentication-Results header, e.g. "
    'authserv_id = "mx.printshop.example" (a list for several MX hosts)'
)
_NOT_ID = frozenset(' \t\r\n;=()"\\')


_RESOLVER_FIX = 'write the DNS server as an address with an optional port: "127.0.0.1:53"'


def _resolver(r: _Reader) -> tuple[str, int] | None:
    value = r.get("dkim_resolver", str, None, fix=_RESOLVER_FIX)
    if value is None:
        return None
    host, port = value.strip(), "53"
    if host.startswith("["):  # [::1]:53
        host, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif host.count(":") == 1:
        host, port = host.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise r.fail("dkim_resolver", value, _RESOLVER_FIX) from None
    if not 0 < number < 65536:
        raise r.fail("dkim_resolver", value, _RESOLVER_FIX)
    return host, number


def _security(source: Path, raw: Mapping[str, Any]) -> SecurityConfig:
    r = _Reader(source, raw, "security.")
    r.check_known({"authserv_id", "verify_dkim", "dkim_resolver"})
    value = r.get("authserv_id", (str, list), [], fix=_AUTHSERV_FIX)
    if isinstance(value, list) and not value and "authserv_id" in raw:
        raise r.fail(
            "authserv_id", value, f"list at least one id, or remove the key. {_AUTHSERV_FIX}"
        )
    ids = []
    for item in [value] if isinstance(value, str) else value:
        text = item.strip() if isinstance(item, str) else ""
        if not text or any(ch in _NOT_ID for ch in text):
            raise r.fail("authserv_id", item, _AUTHSERV_FIX)
        ids.append(text.lower())
    verify_dkim = r.get("verify_dkim", bool, False)
    resolver = _resolver(r)
    if resolver is not None and not verify_dkim:
        raise r.fail("dkim_resolver", raw["dkim_resolver"], "set verify_dkim = true, or remove it")
    return SecurityConfig(
        authserv_ids=tuple(dict.fromkeys(ids)), verify_dkim=verify_dkim, dkim_resolver=resolver
    )


def _contacts(source: Path, raw: object, table: str = "contacts") -> tuple[Contact, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: {table} = {raw!r}: write each contact as a [[{table}]] table")
    contacts = []
    for index, entry in enumerate(raw):
        r = _Reader(source, entry, f"{table}[{index}].")
        r.check_known({"email", "name", "role"})
        role = r.get("role", str, fix=f"use one of {', '.join(ROLES)}")
        if role not in ROLES:
            raise r.fail("role", role, f"use one of {', '.join(ROLES)}")
        email = _address(r, "email", r.get("email", str, fix="the contact's address"))
        contacts.append(Contact(email=email, name=r.get("name", str, ""), role=cast(Role, role)))
    return tuple(contacts)


def _domains(source: Path, raw: Mapping[str, Any], table: str) -> tuple[str, ...]:
    customers = _Reader(source, raw, f"{table}.")
    customers.check_known({"domains"})
    domains = customers.get("domains", list, [])
    for domain in domains:
        if not isinstance(domain, str) or "@" in domain or "." not in domain:
            raise customers.fail("domains", domain, 'list bare domains such as "acme.example"')
    return tuple(d.lower() for d in domains)


def _database(source: Path, raw: Mapping[str, Any]) -> tuple[str, float]:
    db = _Reader(source, raw, "database.")
    db.check_known({"url", "lease_seconds"})
    url = db.get("url", str, "sqlite:///var/quotebot.db")
    if not url.startswith(("sqlite", "postgresql")):
        raise db.fail("url", url, 'use "sqlite:///FILE" or "postgresql+psycopg://USER@HOST/DB"')
    if url.startswith("postgresql") and not url.startswith("postgresql+psycopg://"):
        raise db.fail("url", url, 'write PostgreSQL URLs as "postgresql+psycopg://USER@HOST/DB"')
    lease = db.get("lease_seconds", float, 30.0)
    if not 5 <= lease <= 3600:
        raise db.fail("lease_seconds", lease, "use 5 to 3600 seconds")
    return url, lease


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
ENTRY_KEYS = {"name", "address", "aliases", "mailbox", "outbox", "customers", "contacts"}


def _entries(source: Path, raw: object, base: Config) -> tuple[Config, ...]:
    """The [[mailboxes]] entries, each a whole Config: the shared tables ([bot], [schedule],
    [database], [security], [digest]) with the entry's own address, mailbox, outbox, customers,
    contacts and, when it has one, its own [mailboxes.digest] to."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f"{source}: mailboxes = {raw!r}: write each mailbox as a [[mailboxes]] table"
        )
    found: list[Config] = []
    for index, entry in enumerate(raw):
        where = f"mailboxes[{index}]"
        r = _Reader(source, entry if isinstance(entry, dict) else {}, f"{where}.")
        r.check_known(ENTRY_KEYS | {"digest"})
        name = r.get("name", str, fix='a short unique name such as "berlin"')
        if not name or set(name) - NAME_CHARS or len(name) > 40:
            raise r.fail("name", name, "use lower-case letters, digits, - and _ (at most 40)")
        if any(c.name == name for c in found):
            raise r.fail("name", name, "another [[mailboxes]] entry has this name; rename one")
        address = _address(r, "address", r.get("address", str, fix="the mailbox's own address"))
        aliases = tuple(_address(r, "aliases", a) for a in r.get("aliases", list, []))
        digest = base.digest
        if "digest" in entry:
            d = _Reader(source, r.get("digest", dict), f"{where}.digest.")
            d.check_known({"to"})
            to = d.get("to", (str, list), [])
            digest = replace(
                digest,
                to=tuple(_address(d, "to", a) for a in ([to] if isinstance(to, str) else to)),
            )
        found.append(
            replace(
                base,
                name=name,
                bot=replace(base.bot, address=address, aliases=aliases),
                mailbox=_mailbox(source, _table(r, "mailbox"), f"{where}.mailbox"),
                outbox=_outbox(source, _table(r, "outbox"), f"{where}.outbox"),
                customer_domains=_domains(
                    source, r.get("customers", dict, {}), f"{where}.customers"
                ),
                contacts=_contacts(source, entry.get("contacts", []), f"{where}.contacts"),
                digest=digest,
                own_digest="digest" in entry,
            )
        )
    return tuple(found)


def _table(r: _Reader, key: str) -> Mapping[str, Any]:
    fix = f"add a [mailboxes.{key}] table after this [[mailboxes]] entry"
    table: Mapping[str, Any] = r.get(key, dict, fix=fix)
    return table


def parse_config(source: Path, raw: Mapping[str, Any]) -> Config:
    """Validate a TOML document already read into a dict."""
    top = _Reader(source, raw, "")
    optional = ("database", "customers", "schedule", "digest", "security")
    top.check_known({"bot", "mailbox", "outbox", "contacts", "mailboxes", *optional})
    several = "mailboxes" in raw
    if several:
        for single in ("mailbox", "outbox", "contacts", "customers"):
            if single in raw:
                raise top.fail(
                    single,
                    raw[single],
                    f"with [[mailboxes]], move [{single}] into each entry "
                    f"([mailboxes.{single}]); see config.example.toml",
                )
    tables = {}
    for name in ("bot", "mailbox", "outbox", *optional):
        tables[name] = top.get(
            name,
            dict,
            {} if name in optional or several else ...,
            fix=f"add a [{name}] table (see config.example.toml)",
        )
    bot_table = tables["bot"]
    if several and "address" not in bot_table:  # each entry names its own
        bot_table = {**bot_table, "address": "quotes@quotebot.invalid"}
    url, lease = _database(source, tables["database"])
    config = Config(
        source=source,
        bot=_bot(source, bot_table),
        mailbox=FolderConfig("maildir", Path("."))
        if several
        else _mailbox(source, tables["mailbox"]),
        outbox=FolderConfig("maildir", Path(".")) if several else _outbox(source, tables["outbox"]),
        database_url=url,
        customer_domains=_domains(source, tables["customers"], "customers"),
        contacts=() if several else _contacts(source, raw.get("contacts", [])),
        schedule=_schedule(source, tables["schedule"]),
        digest=_digest(source, tables["digest"]),
        security=_security(source, tables["security"]),
        lease_seconds=lease,
    )
    if not several:
        return config
    entries = _entries(source, raw["mailboxes"], config)
    first = entries[0]
    return replace(first, mailboxes=entries, digest=config.digest, own_digest=False)


def load_config(path: Path) -> Config:
    """Read and validate the config file at `path`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; copy config.example.toml to {path} or pass --config"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(path, raw)
