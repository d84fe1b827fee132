"""Duplicates: the groups an owner dismissed (`contacts_kit_duplicate_dismissals`).

Revision ID: 0019_duplicate_dismissals
Revises: 0018_full_cards
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_duplicate_dismissals"
down_revision: str | None = "0018_full_cards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_duplicate_dismissals"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("ids", sa.String(length=2100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "ids", name=op.f("pk_contacts_kit_duplicate_dismissals")),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
