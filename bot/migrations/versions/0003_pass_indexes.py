"""Indexes for what every pass and poll looks up, whatever the mailbox's size: replies by
status (pending ones after a crash), threads by status (awaiting ones, for reminders), and the
failed messages alone (a partial index: retries stay flat as the mailbox grows).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_replyrecord_status", "replyrecord", ["status"])
    op.create_index("ix_threadrecord_status", "threadrecord", ["status"])
    failed = sa.text("error IS NOT NULL")
    op.create_index(
        "ix_messagerecord_failed",
        "messagerecord",
        ["retry_at", "source_key"],
        sqlite_where=failed,
        postgresql_where=failed,
    )


def downgrade() -> None:
    raise NotImplementedError("quotebot has no downgrades: restore the backup made before")
