"""widget sessions keep only the indexes their queries use, partial where the column is often empty

A new session is written twice (its reservation, then the session), and each write updates the
indexes its columns are in: the indexes on ``user_id`` alone and on ``external_id`` served no query, and
the ones on the client's address key, the Idempotency-Key and the access token key now hold only the rows
that have one (a reservation has none of them unless the client sent a key or the per-address limit is on).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _partial(column: str) -> dict[str, sa.TextClause]:
    condition = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


def upgrade() -> None:
    # batch mode: SQLite cannot drop a table constraint in place.
    with op.batch_alter_table("widget_sessions") as batch:
        batch.drop_constraint("uq_widget_sessions_user_idempotency_key", type_="unique")
    for name in (
        "ix_widget_sessions_user_id",
        "ix_widget_sessions_external_id",
        "ix_widget_sessions_client_created",
        "ix_widget_sessions_user_access_token_key",
    ):
        op.drop_index(name, table_name="widget_sessions")
    op.create_index(
        "uq_widget_sessions_user_idempotency_key",
        "widget_sessions",
        ["user_id", "idempotency_key"],
        unique=True,
        **_partial("idempotency_key"),
    )
    op.create_index(
        "ix_widget_sessions_client_created",
        "widget_sessions",
        ["client_key", "created_at"],
        **_partial("client_key"),
    )
    op.create_index(
        "ix_widget_sessions_access_token_key",
        "widget_sessions",
        ["access_token_key"],
        **_partial("access_token_key"),
    )


def downgrade() -> None:
    for name in (
        "ix_widget_sessions_access_token_key",
        "ix_widget_sessions_client_created",
        "uq_widget_sessions_user_idempotency_key",
    ):
        op.drop_index(name, table_name="widget_sessions")
    op.create_index(
        "ix_widget_sessions_user_access_token_key", "widget_sessions", ["user_id", "access_token_key"]
    )
    op.create_index("ix_widget_sessions_client_created", "widget_sessions", ["client_key", "created_at"])
    op.create_index("ix_widget_sessions_external_id", "widget_sessions", ["external_id"])
    op.create_index("ix_widget_sessions_user_id", "widget_sessions", ["user_id"])
    with op.batch_alter_table("widget_sessions") as batch:
        batch.create_unique_constraint(
            "uq_widget_sessions_user_idempotency_key", ["user_id", "idempotency_key"]
        )
