"""Accounts remember the storage key of their avatar, so a replaced or deleted one is removed.

Revision ID: 0004_avatar_key
Revises: 0003_birthday_order_index
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_avatar_key"
down_revision: str | None = "0003_birthday_order_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_users"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("avatar_key", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("avatar_key")
