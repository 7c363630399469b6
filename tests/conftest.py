"""Shared fixtures: the shipped rules folder, loaded once per run, and ../shared/corpora."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the venv may not have quotebot installed in editable mode
    sys.path.insert(0, str(REPO))

from bot.rules import Rules, load_rules  # noqa: E402  (needs REPO on sys.path)


@pytest.fixture(scope="session")
def rules_dir() -> Path:
    """The rules/ folder shipped with quotebot."""
    return REPO / "rules"


@pytest.fixture(scope="session")
def templates_dir() -> Path:
    """The templates/ folder shipped with quotebot."""
    return REPO / "templates"


@pytest.fixture(scope="session")
def rules(rules_dir: Path) -> Rules:
    """The shipped rules, loaded once."""
    return load_rules(rules_dir)


def _corpora_candidates() -> list[Path]:
    """$QUOTEBOT_CORPORA, then shared/corpora beside the checkout, then beside the checkout
    a local clone was made from (`git clone . /tmp/fresh` keeps finding the corpora)."""
    found = [Path(os.environ["QUOTEBOT_CORPORA"])] if os.environ.get("QUOTEBOT_CORPORA") else []
    found.append(REPO.parent / "shared" / "corpora")
    origin = subprocess.run(
        ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        found.append(Path(origin).resolve().parent / "shared" / "corpora")
    return found


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The real-mail corpora. Missing: skip with the reason, or fail under
    QUOTEBOT_REQUIRE_SERVERS=1 (CI has shared/ beside the checkout)."""
    candidates = _corpora_candidates()
    for path in candidates:
        if path.is_dir():
            return path
    looked = ", ".join(map(str, candidates))
    if os.environ.get("QUOTEBOT_REQUIRE_SERVERS") == "1":
        pytest.fail(
            f"corpora missing (looked in {looked}): CI must have shared/ beside the checkout"
        )
    pytest.skip(f"corpora not found (looked in {looked}); set QUOTEBOT_CORPORA to run these")


def _mail_files(*folders: Path) -> list[Path]:
    """Every file under `folders` but their licences and read-mes, in path order."""
    skip = ("LICENSE", "README.md")
    return sorted(p for f in folders for p in f.rglob("*") if p.is_file() and p.name not in skip)


@pytest.fixture(scope="session")
def bundled_mail() -> list[Path]:
    """The example mailbox and the test data: every message the checkout itself carries."""
    return _mail_files(REPO / "examples" / "mailbox", REPO / "tests" / "data")


@pytest.fixture(scope="session")
def corpus_files(corpora: Path) -> list[Path]:
    """Every file of the real-mail corpora."""
    return _mail_files(corpora)


# Real servers (tests/servers.py): each test gets fresh ones on free loopback ports. Missing
# Dovecot, aiosmtpd or openssl skips these tests, or fails them under QUOTEBOT_REQUIRE_SERVERS=1.
import shutil  # noqa: E402  (the fixtures above came first)
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from servers import (  # noqa: E402  (pytest puts tests/ on sys.path for this file)
    AIOSMTPD,
    AIOSMTPD_MISSING,
    DOVECOT,
    DOVECOT_MISSING,
    OPENSSL_MISSING,
    PASSWORD,
    PG_CTL_MISSING,
    TOKEN,
    USERNAME,
    Dovecot,
    LocalCA,
    PostgresDatabase,
    PostgresServer,
    SmtpSink,
    TokenStore,
    postgres_problem,
    unavailable,
)


def _need_dovecot() -> None:
    if DOVECOT is None:
        unavailable(DOVECOT_MISSING)
    if os.geteuid() != 0:
        unavailable("the Dovecot fixtures run Dovecot as root (as CI does); run the tests as root")


def _need_aiosmtpd() -> None:
    if not AIOSMTPD:
        unavailable(AIOSMTPD_MISSING)


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """A throwaway CA and its certificate for 127.0.0.1 and localhost, made once per run."""
    if shutil.which("openssl") is None:
        unavailable(OPENSSL_MISSING)
    return LocalCA.create(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def oauth2_tokens() -> TokenStore:
    """The OAuth2 tokens the servers accept: servers.TOKEN for servers.USERNAME to begin with."""
    return TokenStore({TOKEN: USERNAME})


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A fresh plain-IMAP Dovecot with user servers.USERNAME / servers.PASSWORD."""
    _need_dovecot()
    with Dovecot() as server:
        yield server


@pytest.fixture
def dovecot_shops() -> Iterator[Dovecot]:
    """A fresh plain-IMAP Dovecot with three users, three shops' quotes mailboxes (password
    servers.PASSWORD for each)."""
    _need_dovecot()
    users = {f"quotes@shop-{name}.example": PASSWORD for name in "abc"}
    with Dovecot(users=users) as server:
        yield server


@pytest.fixture
def dovecot_tls(local_ca: LocalCA) -> Iterator[Dovecot]:
    """A fresh Dovecot speaking implicit TLS (imaps) with a certificate from `local_ca`."""
    _need_dovecot()
    with Dovecot(ca=local_ca) as server:
        yield server


@pytest.fixture
def dovecot_oauth2(oauth2_tokens: TokenStore) -> Iterator[Dovecot]:
    """A fresh plain-IMAP Dovecot whose XOAUTH2/OAUTHBEARER logins are checked against
    `oauth2_tokens` (revoke one there and the next login fails); passwords work too."""
    _need_dovecot()
    with Dovecot(tokens=oauth2_tokens) as server:
        yield server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A plain SMTP server without AUTH that records what it accepts in `.received`."""
    _need_aiosmtpd()
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp_sink_auth(oauth2_tokens: TokenStore) -> Iterator[SmtpSink]:
    """A plain SMTP server that requires AUTH: PLAIN and LOGIN with servers.USERNAME /
    servers.PASSWORD (allowed without TLS on loopback), XOAUTH2 with `oauth2_tokens`."""
    _need_aiosmtpd()
    with SmtpSink(users={USERNAME: PASSWORD}, tokens=oauth2_tokens) as sink:
        yield sink


@pytest.fixture
def smtp_sink_starttls(local_ca: LocalCA, oauth2_tokens: TokenStore) -> Iterator[SmtpSink]:
    """An SMTP server that requires STARTTLS (certificate from `local_ca`), then AUTH."""
    _need_aiosmtpd()
    with SmtpSink(
        security="starttls", ca=local_ca, users={USERNAME: PASSWORD}, tokens=oauth2_tokens
    ) as sink:
        yield sink


@pytest.fixture
def smtp_sink_tls(local_ca: LocalCA, oauth2_tokens: TokenStore) -> Iterator[SmtpSink]:
    """An SMTP server speaking implicit TLS (port 465 style), then requiring AUTH."""
    _need_aiosmtpd()
    with SmtpSink(
        security="tls", ca=local_ca, users={USERNAME: PASSWORD}, tokens=oauth2_tokens
    ) as sink:
        yield sink


@pytest.fixture
def start_smtp_sink() -> Iterator[Callable[..., SmtpSink]]:
    """Start SmtpSink variants by keyword (security, ca, users, tokens, exclude_mechanisms);
    each is stopped after the test."""
    _need_aiosmtpd()
    started: list[SmtpSink] = []

    def start(**options: Any) -> SmtpSink:
        sink = SmtpSink(**options).start()
        started.append(sink)
        return sink

    yield start
    for sink in started:
        sink.stop()


@pytest.fixture
def postgres() -> Iterator[PostgresDatabase]:
    """A fresh, uniquely named database on the machine's PostgreSQL, dropped after the test;
    no server: skip with the reason (fail under QUOTEBOT_REQUIRE_SERVERS=1)."""
    problem = postgres_problem()
    if problem is not None:
        unavailable(problem)
    with PostgresDatabase() as database:
        yield database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'quotebot.db'}"
    database: PostgresDatabase = request.getfixturevalue("postgres")
    return database.url


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own on a free port, which it may stop and restart."""
    try:
        server = PostgresServer()
    except RuntimeError:
        unavailable(PG_CTL_MISSING)
    with server:
        yield server
