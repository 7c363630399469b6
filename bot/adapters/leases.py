"""Mailbox leases: which worker polls which mailbox, so each is polled by one at a time.

A lease is a row (`mailboxlease`) with an owner and an expiry. A worker claims a free or expired
lease, or renews its own, with one conditional UPDATE; on PostgreSQL the row is first locked
with `SELECT ... FOR UPDATE SKIP LOCKED`, so a worker never waits on another's claim and moves
on to the next mailbox. Expiry uses the database's clock (PostgreSQL), so the workers' own
clocks may disagree. A worker that dies stops renewing; another claims the mailbox once the
lease runs out (at most `lease_seconds` later) and starts with the pass's crash recovery
(pending replies looked up in the sent folder before they are sent again).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, SQLModel

from bot.adapters.store import _why
from bot.errors import StoreError


class MailboxLease(SQLModel, table=True):
    """Which worker polls a mailbox, until when (renewed while it works)."""

    mailbox: str = Field(primary_key=True)
    owner: str
    expires_at: datetime
    claimed_at: datetime


class Leases:
    """Claim, renew and release mailbox leases for one worker (`owner`)."""

    def __init__(self, engine: Engine, owner: str, *, seconds: float) -> None:
        self.engine, self.owner, self.seconds = engine, owner, seconds
        self.postgres = engine.dialect.name == "postgresql"

    def _now(self, conn: Connection) -> datetime:
        if self.postgres:  # one clock for every worker: the database's
            value = conn.execute(text("SELECT clock_timestamp()")).scalar()
            assert isinstance(value, datetime)
            return value
        return datetime.now(UTC)

    def claim(self, mailbox: str) -> bool:
        """Take the mailbox's lease (free, expired or already ours); False when another live
        worker holds it."""
        lease = MailboxLease.__table__  # type: ignore[attr-defined]
        try:
            with self.engine.begin() as conn:
                now = self._now(conn)
                until = now + timedelta(seconds=self.seconds)
                query = select(lease.c.owner).where(lease.c.mailbox == mailbox)
                if self.postgres:  # a row another worker is claiming right now: skip it
                    query = query.with_for_update(skip_locked=True)
                if conn.execute(query).first() is None:
                    return self._insert(conn, mailbox, until, now)
                done = conn.execute(
                    update(lease)
                    .where(lease.c.mailbox == mailbox)
                    .where(or_(lease.c.owner == self.owner, lease.c.expires_at < now))
                    .values(
                        owner=self.owner,
                        expires_at=until,
                        claimed_at=case(
                            (lease.c.owner == self.owner, lease.c.claimed_at), else_=now
                        ),
                    )
                )
                return done.rowcount == 1
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot claim mailbox {mailbox}: {_why(exc)}") from None

    def _insert(self, conn: Connection, mailbox: str, until: datetime, now: datetime) -> bool:
        """The first claim on a mailbox; a row SKIP LOCKED hid (another worker is claiming
        it) or a racing insert means another worker has it."""
        lease = MailboxLease.__table__  # type: ignore[attr-defined]
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(lease).values(
                        mailbox=mailbox, owner=self.owner, expires_at=until, claimed_at=now
                    )
                )
        except IntegrityError:
            return False
        return True

    def release(self, mailbox: str) -> None:
        """Give the lease back (a clean stop), so another worker need not wait for it to run
        out."""
        lease = MailboxLease.__table__  # type: ignore[attr-defined]
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(lease)
                    .where(lease.c.mailbox == mailbox, lease.c.owner == self.owner)
                    .values(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot release mailbox {mailbox}: {_why(exc)}") from None

    def held(self) -> list[tuple[str, str, datetime]]:
        """Every lease still running: mailbox, owner, expiry (UTC), for `quotebot status`."""
        lease = MailboxLease.__table__  # type: ignore[attr-defined]
        try:
            with self.engine.connect() as conn:
                now = self._now(conn)
                rows = conn.execute(
                    select(lease.c.mailbox, lease.c.owner, lease.c.expires_at)
                    .where(lease.c.expires_at >= now)
                    .order_by(lease.c.mailbox)
                ).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the mailbox leases: {_why(exc)}") from None
        return [(r[0], r[1], r[2]) for r in rows]
