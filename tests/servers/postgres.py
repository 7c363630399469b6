"""A throwaway PostgreSQL database on the machine's server (127.0.0.1:5432, trust auth by
default; QUOTEBOT_TEST_POSTGRES names another server as a libpq conninfo string): each test gets
its own uniquely named database, dropped after."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from servers.common import LOOPBACK, free_port

POSTGRES_ENV = "QUOTEBOT_TEST_POSTGRES"
DEFAULT_CONNINFO = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
POSTGRES_MISSING = (
    "no PostgreSQL answers at {conninfo} ({error}); start one (apt-get install postgresql, "
    f"trust auth on 127.0.0.1) or set {POSTGRES_ENV}"
)


def _conninfo() -> str:
    return os.environ.get(POSTGRES_ENV, DEFAULT_CONNINFO)


def postgres_problem() -> str | None:
    """Why no test database can be made (the message to skip with), or None."""
    try:
        import psycopg

        with psycopg.connect(_conninfo(), autocommit=True) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # ImportError, OperationalError: either way, no server for us
        error = " ".join(str(exc).split()) or type(exc).__name__
        return POSTGRES_MISSING.format(conninfo=_conninfo(), error=error)
    return None


class PostgresDatabase:
    """A fresh database `quotebot_test_<random>`; `url` is its SQLAlchemy URL.

    with PostgresDatabase() as db:
        Store(db.url)
    """

    def __init__(self) -> None:
        import psycopg

        self.name = f"quotebot_test_{secrets.token_hex(6)}"
        info = psycopg.conninfo.conninfo_to_dict(_conninfo())
        self.conninfo = psycopg.conninfo.make_conninfo(_conninfo(), dbname=self.name)
        user = info.get("user") or os.environ.get("USER", "postgres")
        host, port = info.get("host", "127.0.0.1"), info.get("port", 5432)
        self.url = f"postgresql+psycopg://{user}@{host}:{port}/{self.name}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(_conninfo(), autocommit=True) as conn:
            conn.execute(sql)

    def create(self) -> PostgresDatabase:
        """Make the database."""
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        """Drop it, closing whatever is still connected."""
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def disconnect_all(self) -> int:
        """End every connection to the database, as a server restart does; returns how many."""
        import psycopg

        with psycopg.connect(_conninfo(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.name,),
            ).fetchall()
        return len(rows)

    def __enter__(self) -> PostgresDatabase:
        return self.create()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.drop()


def _bindir() -> Path | None:
    """Where initdb and pg_ctl are (Debian keeps them out of PATH)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


PG_CTL_MISSING = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not installed (apt-get install "
    "postgresql); the restart test runs a server of its own"
)


class PostgresServer:
    """A throwaway PostgreSQL server of our own (initdb in a temporary folder, trust auth, a
    free loopback port), so a test can stop and restart it; as root it runs as `postgres`.

    with PostgresServer() as server:
        Store(server.url)
        server.restart()
    """

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            raise RuntimeError(PG_CTL_MISSING)
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="quotebot-pg-"))
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@{LOOPBACK}:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> PostgresServer:
        """Start the server (making its cluster the first time); returns once it answers."""
        data = self.root / "data"
        if not data.exists():
            if os.geteuid() == 0:
                shutil.chown(self.root, "postgres")
            self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-N")
        options = f"-p {self.port} -k {self.root} -c listen_addresses={LOOPBACK} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )
        return self

    def stop(self) -> None:
        """Stop it at once (fast shutdown: every connection is cut)."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """Stop and start again, as an operator's restart or a failover does."""
        self.stop()
        self.start()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
