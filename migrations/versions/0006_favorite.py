"""Contacts can be favourites: a flag, false for every existing contact.

Revision ID: 0006_favorite
Revises: 0005_ids_and_folded_search
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_favorite"
down_revision: str | None = "0005_ids_and_folded_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        TABLE, sa.Column("favorite", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("favorite")
