"""Several mailboxes in one database, and the leases that give each to one worker.

Every row says which mailbox it belongs to (rows from before get "default", the name of the
single `[mailbox]` form); thread keys, thread links and folder cursors are unique per mailbox
(two shops' Message-IDs and folder names may collide); one reply per inbound message per
mailbox; passes record the worker that ran them.

Revision ID: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DEFAULT = "default"


def _mailbox() -> sa.Column[str]:
    return sa.Column("mailbox", sa.String(), nullable=False, server_default=DEFAULT)


def _rebuild(table: str, keep: list[str], columns: list[sa.Column[Any]], key: list[str]) -> None:
    """Recreate `table` with a new primary key (SQLite cannot alter one): copy, drop, rename."""
    op.create_table(f"{table}_new", *columns, sa.PrimaryKeyConstraint(*key))
    names = ", ".join(f'"{c}"' for c in keep)
    op.execute(
        f"INSERT INTO {table}_new (mailbox, {names}) SELECT '{DEFAULT}', {names} FROM {table}"
    )
    op.drop_table(table)
    op.rename_table(f"{table}_new", table)


def upgrade() -> None:
    s, dt, i = sa.String(), sa.DateTime(timezone=True), sa.Integer()
    for table in ("messagerecord", "replyrecord", "nudgerecord", "runrecord", "digestrecord"):
        op.add_column(table, _mailbox())
    op.add_column("runrecord", sa.Column("worker", s, nullable=False, server_default=""))
    op.create_index("ix_runrecord_mailbox", "runrecord", ["mailbox"])
    op.create_index("ix_nudgerecord_mailbox", "nudgerecord", ["mailbox"])
    op.drop_index("ix_messagerecord_message_id", "messagerecord")
    op.create_index(
        "ux_messagerecord_message_id_mailbox",
        "messagerecord",
        ["message_id", "mailbox"],
        unique=True,
    )
    op.drop_index("ix_replyrecord_in_reply_to", "replyrecord")
    op.create_index(
        "ux_replyrecord_in_reply_to_mailbox", "replyrecord", ["in_reply_to", "mailbox"], unique=True
    )
    thread = [
        "key", "subject", "status", "carry_revision", "released_revision", "released_quantity",
        "hold_by", "release_by", "last_clarify_at", "last_clarify_to", "bot_sentences",
        "quoted_revisions", "updated_at",
    ]  # fmt: skip
    _rebuild(
        "threadrecord",
        thread,
        [
            _mailbox(),
            sa.Column("key", s, nullable=False),
            sa.Column("subject", s, nullable=False),
            sa.Column("status", s, nullable=False),
            sa.Column("carry_revision", s),
            sa.Column("released_revision", s),
            sa.Column("released_quantity", i),
            sa.Column("hold_by", s),
            sa.Column("release_by", s),
            sa.Column("last_clarify_at", dt),
            sa.Column("last_clarify_to", s),
            sa.Column("bot_sentences", s, nullable=False),
            sa.Column("quoted_revisions", s, nullable=False),
            sa.Column("updated_at", dt, nullable=False),
        ],
        ["mailbox", "key"],
    )
    _rebuild(
        "foldercursor",
        ["folder", "uidvalidity", "uid", "updated_at"],
        [
            _mailbox(),
            sa.Column("folder", s, nullable=False),
            sa.Column("uidvalidity", i, nullable=False),
            sa.Column("uid", i, nullable=False),
            sa.Column("updated_at", dt, nullable=False),
        ],
        ["mailbox", "folder"],
    )
    _rebuild(
        "threadlink",
        ["message_id", "thread_key"],
        [
            _mailbox(),
            sa.Column("message_id", s, nullable=False),
            sa.Column("thread_key", s, nullable=False),
        ],
        ["mailbox", "message_id"],
    )
    op.create_index("ix_threadlink_thread_key", "threadlink", ["thread_key"])
    op.create_table(
        "mailboxlease",
        sa.Column("mailbox", s, primary_key=True),
        sa.Column("owner", s, nullable=False),
        sa.Column("expires_at", dt, nullable=False),
        sa.Column("claimed_at", dt, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("quotebot has no downgrades: restore the backup made before")
