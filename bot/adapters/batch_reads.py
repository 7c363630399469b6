"""The reads a batch makes for every message (Store.seen, thread_of, thread), as plain DB-API
calls on one pooled connection: on SQLite, SQLAlchemy's execution layer costs several times
the query itself (20 against 3 microseconds for `seen`), and a backlog makes three a message.

On SQLite the reads between two commits of the batch share one read transaction, as they do
on PostgreSQL, where the driver opens one: a transaction for each query took and released
the WAL's read lock every time, and with a message's parse and decision in between the
query ran from cold caches. A `seen` between two parses took 15.3 microseconds that way and
8.5 in one transaction (over a copy of the bench's database; 4.2 with nothing between).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import Engine

from bot.errors import StoreError


class ThreadRow(NamedTuple):
    """The columns of a thread row a state is read from (bot.adapters.store._state)."""

    status: str
    carry_revision: str | None
    released_revision: str | None
    released_quantity: int | None
    hold_by: str | None
    release_by: str | None
    bot_sentences: str  # JSON lists
    quoted_revisions: str
    last_clarify_at: datetime | None
    last_clarify_to: str | None


_THREAD_COLUMNS = ", ".join(ThreadRow._fields)


class BatchReads:
    """One connection's reads for one mailbox; `fresh()` before each write of the store."""

    def __init__(self, engine: Engine, mailbox: str) -> None:
        self.mailbox = mailbox
        self._connection = engine.connect()
        self._dbapi: Any = self._connection.connection.dbapi_connection
        self._errors: Any = getattr(engine.dialect.dbapi, "Error", Exception)
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"  # SQLite, PostgreSQL
        self._mark = mark
        self._sqlite = engine.dialect.name == "sqlite"
        self._seen = (
            f"SELECT 1 FROM messagerecord WHERE message_id = {mark} AND mailbox = {mark}"
            f" UNION ALL SELECT 1 FROM replyrecord WHERE reply_message_id = {mark}"
            f" AND mailbox = {mark} LIMIT 1"
        )
        self._thread = (
            f'SELECT {_THREAD_COLUMNS} FROM threadrecord WHERE mailbox = {mark} AND "key" = {mark}'
        )

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            cursor = self._dbapi.cursor()
            try:
                if self._sqlite and not self._dbapi.in_transaction:
                    cursor.execute("BEGIN")  # until fresh(): one read lock, warm pages
                cursor.execute(sql, params)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except self._errors as exc:
            raise StoreError(f"cannot read the database: {type(exc).__name__}: {exc}") from None

    def seen(self, message_id: str) -> bool:
        """Whether the message is recorded, or is a reply the bot wrote (committed rows)."""
        return bool(self._rows(self._seen, (message_id, self.mailbox, message_id, self.mailbox)))

    def links(self, ids: tuple[str, ...]) -> dict[str, str]:
        """Committed thread keys of any of `ids`."""
        marks = ", ".join([self._mark] * len(ids))
        sql = (
            f"SELECT message_id, thread_key FROM threadlink WHERE mailbox = {self._mark}"
            f" AND message_id IN ({marks})"
        )
        return dict(self._rows(sql, (self.mailbox, *ids)))

    def thread(self, key: str) -> ThreadRow | None:
        """A thread's committed row (the columns Store reads a state from), or None."""
        rows = self._rows(self._thread, (self.mailbox, key))
        if not rows:
            return None
        row = ThreadRow(*rows[0])
        if isinstance(row.last_clarify_at, str):  # SQLite hands back the text SQLAlchemy wrote
            return row._replace(last_clarify_at=datetime.fromisoformat(row.last_clarify_at))
        return row

    def fresh(self) -> None:
        """End the read transaction (this module opens one on SQLite, the driver on
        PostgreSQL): the next read sees what was committed since. The store calls it before
        each of its writes."""
        try:
            self._dbapi.rollback()
        except self._errors as exc:
            raise StoreError(f"cannot read the database: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._connection.close()
