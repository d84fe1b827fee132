"""The changes feed: each owner's change counter, a change number on every contact (0 for
the existing ones, so a first sync still returns them), and tombstones of contacts deleted
for good.

Revision ID: 0011_changes_feed
Revises: 0010_tags
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_changes_feed"
down_revision: str | None = "0010_tags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACTS = "contacts_kit_contacts"
LOGS = "contacts_kit_change_logs"
TOMBSTONES = "contacts_kit_tombstones"
CHANGES_INDEX = "ix_contacts_kit_contacts_owner_changes"


def _owner() -> sa.Column[object]:
    return sa.Column("owner_id", sa.Uuid(), nullable=False)


def _owner_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["owner_id"],
        ["contacts_kit_users.id"],
        name=op.f(f"fk_{table}_owner_id_contacts_kit_users"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        CONTACTS, sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.create_index(CHANGES_INDEX, CONTACTS, ["owner_id", "change_seq", "id"])
    op.create_table(
        LOGS,
        _owner(),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("horizon", sa.BigInteger(), nullable=False),
        _owner_key(LOGS),
        sa.PrimaryKeyConstraint("owner_id", name=op.f(f"pk_{LOGS}")),
    )
    op.create_table(
        TOMBSTONES,
        _owner(),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        _owner_key(TOMBSTONES),
        sa.PrimaryKeyConstraint("owner_id", "seq", "contact_id", name=op.f(f"pk_{TOMBSTONES}")),
    )


def downgrade() -> None:
    op.drop_table(TOMBSTONES)
    op.drop_table(LOGS)
    op.drop_index(CHANGES_INDEX, table_name=CONTACTS)
    with op.batch_alter_table(CONTACTS) as batch:
        batch.drop_column("change_seq")
