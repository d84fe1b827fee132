"""Contacts, with trigram search indexes on PostgreSQL.

Revision ID: 0002_contacts
Revises: 0001_accounts
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_contacts"
down_revision: str | None = "0001_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"
# Must equal contacts_kit.contact.models.SEARCH_TEXT_SQL: a migration never imports the models.
SEARCH_TEXT_SQL = "first_name || '\x1f' || last_name || '\x1f' || email"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=False),
        sa.Column("birthday_key", sa.SmallInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "search_text",
            sa.Text(),
            sa.Computed(SEARCH_TEXT_SQL, persisted=True),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["contacts_kit_users.id"],
            name=op.f("fk_contacts_kit_contacts_owner_id_contacts_kit_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_contacts")),
        sa.UniqueConstraint("owner_id", "email", name=op.f("uq_contacts_kit_contacts_owner_id")),
    )
    op.create_index(
        "ix_contacts_kit_contacts_owner_name",
        TABLE,
        ["owner_id", "last_name", "first_name", "id"],
    )
    op.create_index("ix_contacts_kit_contacts_owner_birthday", TABLE, ["owner_id", "birthday_key"])
    if op.get_bind().dialect.name == "postgresql":
        # Substring search (ILIKE '%q%') within one owner's book is served by one trigram
        # GIN index over (owner_id, search_text); btree_gin lets GIN hold the uuid.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        op.create_index(
            "ix_contacts_kit_contacts_search_trgm",
            TABLE,
            ["owner_id", "search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def downgrade() -> None:
    op.drop_table(TABLE)
