"""widget sessions remember the client's Idempotency-Key (one session per user and key)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a constraint to an existing table in place.
    with op.batch_alter_table("widget_sessions") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("request_hmac", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(
            "uq_widget_sessions_user_idempotency_key", ["user_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("widget_sessions") as batch:
        batch.drop_constraint("uq_widget_sessions_user_idempotency_key", type_="unique")
        batch.drop_column("request_hmac")
        batch.drop_column("idempotency_key")
