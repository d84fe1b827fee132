"""Merges: the merges kept for their undo (`contacts_kit_merges`), and the contact each
merged-away one was folded into (`contacts_kit_contacts.merged_into`).

Revision ID: 0020_merges
Revises: 0019_duplicate_dismissals
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_merges"
down_revision: str | None = "0019_duplicate_dismissals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_merges"
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("merged_ids", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("photo_from", sa.BigInteger(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_merges")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_contacts_kit_merges_owner_id", TABLE, ["owner_id", "id"])
    with op.batch_alter_table("contacts_kit_contacts") as batch:
        batch.add_column(sa.Column("merged_into", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts_kit_contacts") as batch:
        batch.drop_column("merged_into")
    op.drop_index("ix_contacts_kit_merges_owner_id", table_name=TABLE)
    op.drop_table(TABLE)
