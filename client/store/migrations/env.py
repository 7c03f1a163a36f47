"""Alembic environment: always run on the connection the store passes in."""

from alembic import context
from sqlmodel import SQLModel

import client.store  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Comptoir migrations run through client.store.migrations.upgrade()")
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=True, transaction_per_migration=False)
context.run_migrations()
