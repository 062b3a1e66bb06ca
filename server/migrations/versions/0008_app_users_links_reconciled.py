"""app users remember when their links were last reconciled with Belvo, and when that was last asked for

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_users", sa.Column("reconcile_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("app_users", sa.Column("links_reconciled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app_users") as batch:
        batch.drop_column("links_reconciled_at")
        batch.drop_column("reconcile_requested_at")
