"""Tags: `contacts_kit_tags` (names unique per owner, compared case-folded), the link table
`contacts_kit_contact_tags`, and `contacts_kit_contacts.tags`, the sorted names every read
shows (`[]` for every existing contact).

Revision ID: 0010_tags
Revises: 0009_optional_fields
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_tags"
down_revision: str | None = "0009_optional_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACTS = "contacts_kit_contacts"
TAGS = "contacts_kit_tags"
LINKS = "contacts_kit_contact_tags"
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(CONTACTS, sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        TAGS,
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["contacts_kit_users.id"],
            name=op.f("fk_contacts_kit_tags_owner_id_contacts_kit_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_tags")),
        sqlite_autoincrement=True,
    )
    op.create_index("uq_contacts_kit_tags_owner_key", TAGS, ["owner_id", "name_key"], unique=True)
    op.create_table(
        LINKS,
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("tag_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            [f"{CONTACTS}.id"],
            name=op.f("fk_contacts_kit_contact_tags_contact_id_contacts_kit_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            [f"{TAGS}.id"],
            name=op.f("fk_contacts_kit_contact_tags_tag_id_contacts_kit_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "tag_id", name=op.f("pk_contacts_kit_contact_tags")),
    )
    op.create_index("ix_contacts_kit_contact_tags_tag", LINKS, ["tag_id", "contact_id"])


def downgrade() -> None:
    op.drop_table(LINKS)
    op.drop_table(TAGS)
    with op.batch_alter_table(CONTACTS) as batch:
        batch.drop_column("tags")
