"""Contact ids are never reused, and search folds case and accents on every database.

- SQLite gets AUTOINCREMENT: without it a new contact takes the id of the last one deleted,
  and a stale `Location` or `If-Match` of the deleted contact would name the new one
  (PostgreSQL's sequence never hands out an id twice already).
- `search_text` stops being a generated column (`first || sep || last || sep || email`) and
  becomes one the application fills with the folded fields (NFKD, no combining marks,
  case-folded), so SQLite finds `ZOË` in "Zoë" as PostgreSQL does. Existing rows are folded
  here, in batches; names are brought to NFC on the way.
- `phone` grows to 64 characters: a number keeps its extension (`+12025550143;ext=12`).

Revision ID: 0005_ids_and_folded_search
Revises: 0004_avatar_key
Create Date: 2026-12-02
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_ids_and_folded_search"
down_revision: str | None = "0004_avatar_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"
SEPARATOR = "\x1f"
OLD_SEARCH_TEXT_SQL = "first_name || '\x1f' || last_name || '\x1f' || email"
BATCH = 5000


def fold(text: str | None) -> str:
    """Must equal contacts_kit.contact.text.fold: a migration never imports the package."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", bare.casefold())


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Rebuilt as `INTEGER PRIMARY KEY AUTOINCREMENT`, rows and indexes copied over; the
        # generated column cannot be copied, so it is dropped and made again as a plain one.
        with op.batch_alter_table(
            TABLE, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ) as batch:
            batch.drop_column("search_text")
            batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
            batch.alter_column("phone", type_=sa.String(64), existing_nullable=False)
    else:
        op.execute(f"ALTER TABLE {TABLE} ALTER COLUMN search_text DROP EXPRESSION")
        op.execute(f"ALTER TABLE {TABLE} ALTER COLUMN search_text SET DEFAULT ''")
        op.alter_column(TABLE, "phone", type_=sa.String(64), existing_nullable=False)
    contacts = sa.table(
        TABLE,
        sa.column("id", sa.BigInteger()),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("search_text", sa.Text()),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(contacts.c.id, contacts.c.first_name, contacts.c.last_name, contacts.c.email)
            .where(contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("row_id"))
            .values(
                first_name=sa.bindparam("first"),
                last_name=sa.bindparam("last"),
                search_text=sa.bindparam("folded"),
            ),
            [
                {
                    "row_id": row.id,
                    "first": _nfc(row.first_name),
                    "last": _nfc(row.last_name),
                    "folded": SEPARATOR.join(
                        (fold(row.first_name), fold(row.last_name), fold(row.email))
                    ),
                }
                for row in rows
            ],
        )
        last = rows[-1].id


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(
            TABLE, recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ) as batch:
            batch.drop_column("search_text")
            batch.alter_column("phone", type_=sa.String(32), existing_nullable=False)
        with op.batch_alter_table(TABLE, recreate="always") as batch:
            batch.add_column(
                sa.Column(
                    "search_text",
                    sa.Text(),
                    sa.Computed(OLD_SEARCH_TEXT_SQL, persisted=True),
                    nullable=False,
                )
            )
    else:
        op.alter_column(TABLE, "phone", type_=sa.String(32), existing_nullable=False)
        op.drop_index("ix_contacts_kit_contacts_search_trgm", table_name=TABLE)
        op.drop_column(TABLE, "search_text")
        op.add_column(
            TABLE,
            sa.Column(
                "search_text",
                sa.Text(),
                sa.Computed(OLD_SEARCH_TEXT_SQL, persisted=True),
                nullable=False,
            ),
        )
        op.create_index(
            "ix_contacts_kit_contacts_search_trgm",
            TABLE,
            ["owner_id", "search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )
