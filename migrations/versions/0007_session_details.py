"""Sessions can be listed: each refresh token keeps the user agent and a coarse address of
the client it was issued to. Existing tokens keep NULL (shown as unknown).

Revision ID: 0007_session_details
Revises: 0006_favorite
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_session_details"
down_revision: str | None = "0006_favorite"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_refresh_tokens"


def upgrade() -> None:
    # Nullable columns without a default: PostgreSQL adds them without rewriting the table.
    op.add_column(TABLE, sa.Column("user_agent", sa.String(length=255), nullable=True))
    op.add_column(TABLE, sa.Column("client_address", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("client_address")
        batch.drop_column("user_agent")
