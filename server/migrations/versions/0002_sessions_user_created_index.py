"""index widget sessions by user and creation time (the per-user rate limit)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_widget_sessions_user_created", "widget_sessions", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_widget_sessions_user_created", table_name="widget_sessions")
