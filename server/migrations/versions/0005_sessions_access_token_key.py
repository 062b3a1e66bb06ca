"""widget sessions keep a keyed hash of Belvo's access token, to find the session an App2App return is for

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("widget_sessions", sa.Column("access_token_key", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_widget_sessions_user_access_token_key", "widget_sessions", ["user_id", "access_token_key"]
    )


def downgrade() -> None:
    op.drop_index("ix_widget_sessions_user_access_token_key", table_name="widget_sessions")
    with op.batch_alter_table("widget_sessions") as batch:
        batch.drop_column("access_token_key")
