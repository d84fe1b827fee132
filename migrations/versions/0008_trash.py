"""Deleted contacts go to a trash: `deleted_at`, and an email unique among live contacts only.

- `deleted_at` (NULL for every existing contact) marks a contact in the trash.
- The unique constraint on (owner_id, email) becomes a unique index over the live contacts
  (`WHERE deleted_at IS NULL`), so a trashed contact's email can be used again; restoring it
  then is a conflict the API reports.
- A partial index on (owner_id, deleted_at) over trashed rows serves the trash list and the
  purge without growing with the live book.

On SQLite the table is rebuilt (a constraint cannot be dropped in place); on PostgreSQL the
new unique index is built before the constraint is dropped, so no moment is unguarded.

Revision ID: 0008_trash
Revises: 0007_session_details
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_trash"
down_revision: str | None = "0007_session_details"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"
OLD_UNIQUE = "uq_contacts_kit_contacts_owner_id"
LIVE_EMAIL = "uq_contacts_kit_contacts_owner_email_live"
TRASH = "ix_contacts_kit_contacts_owner_trash"
LIVE = sa.text("deleted_at IS NULL")
TRASHED = sa.text("deleted_at IS NOT NULL")


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        LIVE_EMAIL,
        TABLE,
        ["owner_id", "email"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            TABLE, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ) as batch:
            batch.drop_constraint(OLD_UNIQUE, type_="unique")
    else:
        op.drop_constraint(OLD_UNIQUE, TABLE, type_="unique")
    op.create_index(
        TRASH, TABLE, ["owner_id", "deleted_at"], postgresql_where=TRASHED, sqlite_where=TRASHED
    )


def downgrade() -> None:
    # Trashed contacts would break the old constraint: they leave with the trash.
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE deleted_at IS NOT NULL"))
    op.drop_index(TRASH, table_name=TABLE)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            TABLE, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ) as batch:
            batch.create_unique_constraint(OLD_UNIQUE, ["owner_id", "email"])
    else:
        op.create_unique_constraint(OLD_UNIQUE, TABLE, ["owner_id", "email"])
    op.drop_index(LIVE_EMAIL, table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_column("deleted_at")
