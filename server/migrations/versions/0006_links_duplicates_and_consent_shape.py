"""links keep Belvo's institution_user_id (to spot a user linking the same bank twice); the consent JSON
takes the contract's shape (due_date instead of consent_due_date, no action)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_LINKS = sa.table("links", sa.column("id", sa.String), sa.column("consent", sa.JSON))


def upgrade() -> None:
    op.add_column("links", sa.Column("institution_user_id", sa.String(length=64), nullable=True))
    op.create_index("ix_links_user_institution_user", "links", ["user_id", "institution_user_id"])
    connection = op.get_bind()
    for link_id, consent in connection.execute(sa.select(_LINKS.c.id, _LINKS.c.consent)).all():
        if not isinstance(consent, dict) or "due_date" in consent:
            continue
        reshaped = {
            "status": consent.get("status"),
            "consent_id": consent.get("consent_id"),
            "due_date": consent.get("consent_due_date"),
            "institution": consent.get("institution"),
            "institution_display_name": consent.get("institution_display_name"),
            "institution_icon_logo": consent.get("institution_icon_logo"),
            "resources_issue": None,
            "updated_at": consent.get("updated_at"),
        }
        connection.execute(_LINKS.update().where(_LINKS.c.id == link_id).values(consent=reshaped))


def downgrade() -> None:
    op.drop_index("ix_links_user_institution_user", table_name="links")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("institution_user_id")
