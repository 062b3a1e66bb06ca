"""widget sessions may keep a keyed hash of the client's address (the optional per-address rate limit)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("widget_sessions", sa.Column("client_key", sa.String(length=64), nullable=True))
    op.create_index("ix_widget_sessions_client_created", "widget_sessions", ["client_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_widget_sessions_client_created", table_name="widget_sessions")
    with op.batch_alter_table("widget_sessions") as batch:
        batch.drop_column("client_key")
