"""Alembic's entry point: runs the migrations on the connection `bot.adapters.schema` hands in
(no alembic.ini, no URL in a file: the config's database.url is the only one)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
