"""Two-factor authentication: each user's TOTP factor and recovery codes.

Revision ID: 0012_totp
Revises: 0011_changes_feed
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_totp"
down_revision: str | None = "0011_changes_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACTORS = "contacts_kit_totp_factors"
CODES = "contacts_kit_recovery_codes"


def _user_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"],
        ["contacts_kit_users.id"],
        name=op.f(f"fk_{table}_user_id_contacts_kit_users"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        FACTORS,
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("encrypted_secret", sa.String(length=255), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _user_key(FACTORS),
        sa.PrimaryKeyConstraint("user_id", name=op.f(f"pk_{FACTORS}")),
    )
    op.create_table(
        CODES,
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _user_key(CODES),
        sa.PrimaryKeyConstraint("user_id", "code_hash", name=op.f(f"pk_{CODES}")),
    )


def downgrade() -> None:
    op.drop_table(CODES)
    op.drop_table(FACTORS)
