"""procrastinate's tables and functions, where webhook jobs wait for the worker (PostgreSQL only)

The schema SQL is the one shipped with the installed procrastinate (pinned in pyproject.toml): a later
procrastinate release brings its own migration files (procrastinate/sql/migrations), to be wrapped in a
migration of ours when the pin moves. SQLite deployments apply webhooks in-process and need nothing.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import re

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # exec_driver_sql: the schema is plain SQL for psycopg, with no parameters to bind.
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = SchemaManager.get_schema()
    for table in re.findall(r"CREATE TABLE (procrastinate_\w+)", schema):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for function in re.findall(r"CREATE FUNCTION (procrastinate_\w+)", schema):
        op.execute(f"DROP FUNCTION IF EXISTS {function} CASCADE")
    for type_ in re.findall(r"CREATE TYPE (procrastinate_\w+)", schema):
        op.execute(f"DROP TYPE IF EXISTS {type_} CASCADE")
