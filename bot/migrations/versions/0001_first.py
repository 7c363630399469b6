"""The first schema: the tables as quotebot made them before Alembic (one mailbox).

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    s, dt, i = sa.String(), sa.DateTime(timezone=True), sa.Integer()
    op.create_table(
        "messagerecord",
        sa.Column("id", i, primary_key=True),
        sa.Column("message_id", s, nullable=False),
        sa.Column("source_key", s, nullable=False),
        sa.Column("thread_key", s, nullable=False),
        sa.Column("sender", s, nullable=False),
        sa.Column("subject", s, nullable=False),
        sa.Column("received_at", dt),
        sa.Column("processed_at", dt, nullable=False),
        sa.Column("action", s, nullable=False),
        sa.Column("stage", s, nullable=False),
        sa.Column("missing", s, nullable=False),
        sa.Column("reason", s, nullable=False),
        sa.Column("fields_json", s, nullable=False),
        sa.Column("sentence", s, nullable=False),
        sa.Column("thread_status", s, nullable=False),
        sa.Column("error", s),
        sa.Column("attempts", i, nullable=False),
        sa.Column("retry_at", dt),
    )
    op.create_index("ix_messagerecord_thread_key", "messagerecord", ["thread_key"])
    op.create_index("ix_messagerecord_source_key", "messagerecord", ["source_key"])
    op.create_index("ix_messagerecord_message_id", "messagerecord", ["message_id"], unique=True)
    op.create_table(
        "threadrecord",
        sa.Column("key", s, primary_key=True),
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
    )
    op.create_table(
        "foldercursor",
        sa.Column("folder", s, primary_key=True),
        sa.Column("uidvalidity", i, nullable=False),
        sa.Column("uid", i, nullable=False),
        sa.Column("updated_at", dt, nullable=False),
    )
    op.create_table(
        "runrecord",
        sa.Column("id", i, primary_key=True),
        sa.Column("started_at", dt, nullable=False),
        sa.Column("finished_at", dt),
        sa.Column("handled", i, nullable=False),
        sa.Column("sent", i, nullable=False),
        sa.Column("drafted", i, nullable=False),
        sa.Column("failed", i, nullable=False),
        sa.Column("error", s),
    )
    op.create_index("ix_runrecord_started_at", "runrecord", ["started_at"])
    op.create_table(
        "digestrecord",
        sa.Column("id", i, primary_key=True),
        sa.Column("sent_at", dt, nullable=False),
        sa.Column("recipient", s, nullable=False),
    )
    op.create_index("ix_digestrecord_sent_at", "digestrecord", ["sent_at"])
    op.create_table(
        "nudgerecord",
        sa.Column("id", i, primary_key=True),
        sa.Column("thread_key", s, nullable=False),
        sa.Column("number", i, nullable=False),
        sa.Column("reply_message_id", s, nullable=False, unique=True),
        sa.Column("recipient", s, nullable=False),
        sa.Column("status", s, nullable=False),
        sa.Column("body", s, nullable=False),
        sa.Column("created_at", dt, nullable=False),
        sa.Column("sent_at", dt),
    )
    op.create_index("ix_nudgerecord_thread_key", "nudgerecord", ["thread_key"])
    op.create_table(
        "setting",
        sa.Column("key", s, primary_key=True),
        sa.Column("value", s, nullable=False),
    )
    op.create_table(
        "threadlink",
        sa.Column("message_id", s, primary_key=True),
        sa.Column("thread_key", s, nullable=False),
    )
    op.create_index("ix_threadlink_thread_key", "threadlink", ["thread_key"])
    op.create_table(
        "replyrecord",
        sa.Column("id", i, primary_key=True),
        sa.Column("in_reply_to", s, nullable=False),
        sa.Column("reply_message_id", s, nullable=False),
        sa.Column("thread_key", s, nullable=False),
        sa.Column("recipient", s, nullable=False),
        sa.Column("status", s, nullable=False),
        sa.Column("reason", s, nullable=False),
        sa.Column("body", s, nullable=False),
        sa.Column("created_at", dt, nullable=False),
        sa.Column("sent_at", dt),
    )
    op.create_index("ix_replyrecord_reply_message_id", "replyrecord", ["reply_message_id"])
    op.create_index("ix_replyrecord_thread_key", "replyrecord", ["thread_key"])
    op.create_index("ix_replyrecord_in_reply_to", "replyrecord", ["in_reply_to"], unique=True)


def downgrade() -> None:
    for table in (
        "replyrecord",
        "threadlink",
        "setting",
        "nudgerecord",
        "digestrecord",
        "runrecord",
        "foldercursor",
        "threadrecord",
        "messagerecord",
    ):
        op.drop_table(table)
