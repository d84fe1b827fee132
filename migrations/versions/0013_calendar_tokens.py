"""The birthday calendar feed: each owner's feed secret, as a digest.

Revision ID: 0013_calendar_tokens
Revises: 0012_totp
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_calendar_tokens"
down_revision: str | None = "0012_totp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENS = "contacts_kit_calendar_tokens"


def upgrade() -> None:
    op.create_table(
        TOKENS,
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["contacts_kit_users.id"],
            name=op.f(f"fk_{TOKENS}_owner_id_contacts_kit_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", name=op.f(f"pk_{TOKENS}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{TOKENS}_token_hash")),
    )


def downgrade() -> None:
    op.drop_table(TOKENS)
