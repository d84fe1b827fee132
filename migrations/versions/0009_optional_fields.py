"""Optional fields: a contact needs a first name and an email or a phone; the rest may be
missing. Every existing row keeps its values (all of them were required until now).

- `email`, `phone`, `birthday` and `birthday_key` accept NULL. The unique index on
  (owner_id, email) over live contacts already lets any number of contacts have no email.
- `last_name` stays NOT NULL: a missing one is stored as `''`, so that every database sorts
  alike and the name index serves the order (the API shows `null`).

PostgreSQL drops the NOT NULL constraints in place (no rewrite); SQLite rebuilds the table.

Revision ID: 0009_optional_fields
Revises: 0008_trash
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_optional_fields"
down_revision: str | None = "0008_trash"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"
COLUMNS = (
    ("email", sa.String(320)),
    ("phone", sa.String(64)),
    ("birthday", sa.Date()),
    ("birthday_key", sa.SmallInteger()),
)


def _nullable(nullable: bool) -> None:
    with op.batch_alter_table(
        TABLE, recreate="auto", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        for name, type_ in COLUMNS:
            batch.alter_column(name, existing_type=type_, nullable=nullable)


def upgrade() -> None:
    _nullable(True)


def downgrade() -> None:
    # A contact without one of these could not exist before: it leaves with the downgrade.
    missing = " OR ".join(f"{name} IS NULL" for name, _ in COLUMNS)
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE {missing}"))
    _nullable(False)
