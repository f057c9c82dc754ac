"""Alembic environment: migrations run on the connection :mod:`keel.store.migrate` passes in
``config.attributes["connection"]`` (online only; Keel never renders offline SQL)."""

from __future__ import annotations

from alembic import context

from keel.store.migrate import VERSION_TABLE
from keel.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("keel.store migrations run through keel.store.migrate (no connection was given)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
