"""Alembic environment: runs on the connection handed over by ``server.storage.upgrade``."""

from __future__ import annotations

from alembic import context

from server.models import Base
from server.storage import ours

# The connection ``upgrade`` opened, in the transaction that holds its lock (Alembic's recipe for sharing a
# connection: https://alembic.sqlalchemy.org/en/latest/api/commands.html).
context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    compare_type=True,
    include_name=ours,
)
context.run_migrations()
