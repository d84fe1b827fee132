"""Accounts and refresh tokens.

Revision ID: 0001_accounts
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_accounts"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contacts_kit_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("hashed_password", sa.String(length=255), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("avatar_url", sa.String(length=1024), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_users")),
        sa.UniqueConstraint("email", name=op.f("uq_contacts_kit_users_email")),
    )
    op.create_table(
        "contacts_kit_refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["contacts_kit_users.id"],
            name=op.f("fk_contacts_kit_refresh_tokens_user_id_contacts_kit_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_kit_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_contacts_kit_refresh_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_contacts_kit_refresh_tokens_family_id"),
        "contacts_kit_refresh_tokens",
        ["family_id"],
    )
    op.create_index(
        op.f("ix_contacts_kit_refresh_tokens_user_id"),
        "contacts_kit_refresh_tokens",
        ["user_id"],
    )


def downgrade() -> None:
    op.drop_table("contacts_kit_refresh_tokens")
    op.drop_table("contacts_kit_users")
