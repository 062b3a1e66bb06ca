"""Alembic environment: runs against the engine handed over by ``server.storage.upgrade``."""

from __future__ import annotations

from alembic import context

from server.models import Base
from server.storage import ours

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection, target_metadata=Base.metadata, compare_type=True, include_name=ours
    )
    context.run_migrations()
