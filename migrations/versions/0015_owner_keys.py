"""Address books keyed by an owner key, not by a row of the kit's users table: a host's own
ids (integers, strings, UUIDs) own books with no account of the kit's.

Each `owner_id` becomes a VARCHAR(255) with no foreign key. The kit's accounts key their books
by the UUID's 32 hex digits: SQLite stored them so already; PostgreSQL's `uuid` values lose
their hyphens. Deleting an account now erases its book explicitly (the cascade is gone).

The downgrade keeps the books of the kit's accounts; books of other owners cannot exist in
the earlier schema and are deleted.

Revision ID: 0015_owner_keys
Revises: 0014_identities
Create Date: 2026-12-07
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0015_owner_keys"
down_revision: str | None = "0014_identities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USERS = "contacts_kit_users"
# Children first: the downgrade deletes other owners' rows in this order.
TABLES = (
    "contacts_kit_calendar_tokens",
    "contacts_kit_tombstones",
    "contacts_kit_change_logs",
    "contacts_kit_tags",
    "contacts_kit_contacts",
)
OWNER_KEY = sa.String(length=255)
# SQLite tables that never hand a deleted row's id to a new one (AUTOINCREMENT).
AUTOINCREMENT = {"contacts_kit_contacts", "contacts_kit_tags"}


def _foreign_key(table: str) -> str:
    return f"fk_{table}_owner_id_{USERS}"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgres:
            op.drop_constraint(_foreign_key(table), table, type_="foreignkey")
            op.alter_column(
                table,
                "owner_id",
                type_=OWNER_KEY,
                existing_nullable=False,
                postgresql_using="replace(owner_id::text, '-', '')",
            )
        else:
            # SQLite kept each UUID as its 32 hex digits: the values stay as they are.
            _refuse_cascades()
            with _rebuilt(table) as batch:
                batch.drop_constraint(_foreign_key(table), type_="foreignkey")
                batch.alter_column(
                    "owner_id", type_=OWNER_KEY, existing_type=sa.Uuid(), existing_nullable=False
                )


@contextmanager
def _rebuilt(table: str) -> Iterator[Any]:
    """SQLite's rebuild of `table`, keeping AUTOINCREMENT and the last id handed out (a
    deleted contact's id must never come back: sync clients hold its tombstone)."""
    bind = op.get_bind()
    last = bind.exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)
    ).scalar()
    kwargs = {"sqlite_autoincrement": True} if table in AUTOINCREMENT else {}
    with op.batch_alter_table(table, recreate="always", table_kwargs=kwargs) as batch:
        yield batch
    if last is not None:
        bind.exec_driver_sql(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (last, table)
        )


def _refuse_cascades() -> None:
    """SQLite rebuilds a table to change a column; with foreign keys on, dropping the old
    contacts table would delete every tag link through the cascade (`contacts-kit migrate`
    and `contacts_kit.migrate` connect with them off)."""
    if op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("run contacts-kit's SQLite migrations with PRAGMA foreign_keys=OFF")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    account_keys = (
        f"SELECT replace(id::text, '-', '') FROM {USERS}" if postgres else f"SELECT id FROM {USERS}"
    )
    for table in TABLES:
        op.execute(f"DELETE FROM {table} WHERE owner_id NOT IN ({account_keys})")  # noqa: S608
    for table in TABLES:
        if postgres:
            op.alter_column(
                table,
                "owner_id",
                type_=sa.Uuid(),
                existing_nullable=False,
                postgresql_using="owner_id::uuid",
            )
            op.create_foreign_key(
                _foreign_key(table), table, USERS, ["owner_id"], ["id"], ondelete="CASCADE"
            )
        else:
            _refuse_cascades()
            with _rebuilt(table) as batch:
                batch.alter_column(
                    "owner_id", type_=sa.Uuid(), existing_type=OWNER_KEY, existing_nullable=False
                )
                batch.create_foreign_key(
                    _foreign_key(table), USERS, ["owner_id"], ["id"], ondelete="CASCADE"
                )
