"""The database schema's version (Alembic): create a fresh database at the newest revision,
refuse an old one, and upgrade it on request (`quotebot db upgrade`). A database at the newest
revision is recognised with one query, and a new one created and stamped, without loading
Alembic (0.18 s of every command's start-up); Alembic is imported only to refuse or upgrade
one.

A database quotebot made before Alembic has the tables and no `alembic_version`: it is brought
to the first revision's shape (the columns added ad hoc back then), stamped, then upgraded.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

import bot.adapters.leases  # noqa: F401  (its table belongs in a fresh database)
from bot.adapters.store import _add_missing_columns, _full, _why
from bot.errors import SchemaError, StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
FIRST = "0001"
UPGRADE_HINT = "quotebot db upgrade --config FILE"
SCHEMA_LOCK = 0x71756F7465  # "quote": the advisory lock around creating or upgrading
# the newest revision in bot/migrations/versions (tests/test_migrations.py checks that it is
# Alembic's head): a new migration changes it too
HEAD = "0003"
# Alembic's own revision table, as its `stamp` creates it (tests/test_migrations.py compares
# the two): a new database is stamped with it, without importing Alembic (0.12 s of a first
# start)
_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _alembic(connection: Connection | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest revision this quotebot knows."""
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(_alembic()).get_current_head()
    assert found is not None
    return found


@cache
def known() -> frozenset[str]:
    """Every revision this quotebot knows."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic())
    return frozenset(rev.revision for rev in script.walk_revisions())


def _newer(url: str, found: str) -> SchemaError:
    return SchemaError(
        f"{_safe(url)}: the database schema is at revision {found}, made by a newer quotebot "
        f"than this one (newest known: {head()}); run that version, or restore a backup"
    )


def revision(engine: Engine) -> str | None:
    """The database's revision; "unversioned" for tables made before Alembic; None: empty."""
    with engine.connect() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        return current
    return "unversioned" if inspect(conn).has_table("messagerecord") else None


def _serialised(conn: Connection) -> None:
    """Make creating or upgrading the schema one transaction that only one process runs at a
    time. Workers starting together on an empty PostgreSQL database: one creates it, the
    others wait for its transaction (DDL is transactional there) and find it made. SQLite's
    driver would run each CREATE TABLE on its own (it opens a transaction before data changes
    only), so a process killed mid-way left tables without a revision stamp, a database every
    later run refused: an explicit BEGIN IMMEDIATE makes the tables and the stamp land
    together or not at all, and holds off other writers meanwhile."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _stamped(engine: Engine) -> str | None:
    """The revision stamped in the database, read with a plain query; None when there is no
    stamp to read (a new database) or it cannot be read (`ensure_current` then says why)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def _empty(conn: Connection) -> bool:
    """No tables of quotebot's and no revision stamped (what `_revision` calls None)."""
    tables = inspect(conn)
    if tables.has_table("messagerecord"):
        return False
    if not tables.has_table("alembic_version"):
        return True
    return conn.execute(select(_VERSION.c.version_num)).first() is None


def ensure_current(engine: Engine, url: str) -> None:
    """Create an empty database at the newest revision; refuse one at another revision with
    the command that fixes it."""
    if _stamped(engine) == HEAD:
        return
    try:
        with engine.begin() as conn:
            _serialised(conn)
            if _empty(conn):  # created at the newest revision
                SQLModel.metadata.create_all(conn)
                _VERSION.create(conn, checkfirst=True)
                conn.execute(_VERSION.insert().values(version_num=HEAD))
                return
            found = _revision(conn)
            assert found is not None  # None is what _empty() answered above
    except SQLAlchemyError as exc:
        fix = "free disk space for it" if _full(exc) else "check database.url"
        raise StoreError(f"{_safe(url)}: cannot open the database: {_why(exc)}; {fix}") from None
    wanted = head()
    if found not in known() and found != "unversioned":
        raise _newer(url, found)
    if found != wanted:
        raise SchemaError(
            f"{_safe(url)}: the database schema is at revision {found}, this quotebot needs "
            f"{wanted}; back it up and run `{UPGRADE_HINT}`"
        )


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision (creating it when empty); returns the
    revision it was at and the one it is at now."""
    from alembic import command

    try:
        with engine.begin() as conn:
            _serialised(conn)
            found = _revision(conn)
            if found is not None and found != "unversioned" and found not in known():
                raise _newer(engine.url.render_as_string(hide_password=True), found)
            if found == "unversioned":
                _add_missing_columns(conn)
                command.stamp(_alembic(conn), FIRST)
            command.upgrade(_alembic(conn), "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the database: {_why(exc)}") from None
    return found, head()


def _safe(url: str) -> str:
    """The URL without a password (it may be written into database.url)."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
