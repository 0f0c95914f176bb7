"""Alembic environment: always driven programmatically with a live connection."""

from __future__ import annotations

from alembic import context

from loyalty_plugins.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we never run alembic's own CLI on this package
    raise RuntimeError("run migrations through loyalty_plugins.storage.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
