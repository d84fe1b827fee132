"""Sign-in with identity providers: linked provider accounts, the one-time codes of the
sign-in, and accounts without a password.

Revision ID: 0014_identities
Revises: 0013_calendar_tokens
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_identities"
down_revision: str | None = "0013_calendar_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDENTITIES = "contacts_kit_identities"
CODES = "contacts_kit_oauth_codes"
USERS = "contacts_kit_users"


def _user_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"],
        [f"{USERS}.id"],
        name=op.f(f"fk_{table}_user_id_{USERS}"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        IDENTITIES,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        _user_key(IDENTITIES),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{IDENTITIES}")),
        sa.UniqueConstraint("provider", "subject", name=op.f(f"uq_{IDENTITIES}_provider")),
        sa.UniqueConstraint("user_id", "provider", name=op.f(f"uq_{IDENTITIES}_user_id")),
    )
    op.create_index(op.f(f"ix_{IDENTITIES}_user_id"), IDENTITIES, ["user_id"])
    op.create_table(
        CODES,
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        _user_key(CODES),
        sa.PrimaryKeyConstraint("code_hash", name=op.f(f"pk_{CODES}")),
    )
    op.create_index(op.f(f"ix_{CODES}_user_id"), CODES, ["user_id"])
    # SQLite cannot alter a column in place: batch mode copies the table.
    with op.batch_alter_table(USERS) as batch:
        batch.alter_column("hashed_password", existing_type=sa.String(length=255), nullable=True)


def downgrade() -> None:
    # Accounts made by a provider sign-in have no password: they get one nobody knows (the
    # reset flow still works for them).
    op.execute(
        sa.text(
            f"UPDATE {USERS} SET hashed_password = '!' WHERE hashed_password IS NULL"
        )
    )
    with op.batch_alter_table(USERS) as batch:
        batch.alter_column("hashed_password", existing_type=sa.String(length=255), nullable=False)
    op.drop_index(op.f(f"ix_{CODES}_user_id"), table_name=CODES)
    op.drop_table(CODES)
    op.drop_index(op.f(f"ix_{IDENTITIES}_user_id"), table_name=IDENTITIES)
    op.drop_table(IDENTITIES)
