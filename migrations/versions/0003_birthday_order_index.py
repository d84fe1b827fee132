"""The birthday index also carries the name order, so a window needs no sort.

Revision ID: 0003_birthday_order_index
Revises: 0002_contacts
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_birthday_order_index"
down_revision: str | None = "0002_contacts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"


def upgrade() -> None:
    op.create_index(
        "ix_contacts_kit_contacts_owner_birthday_name",
        TABLE,
        ["owner_id", "birthday_key", "last_name", "first_name", "id"],
    )
    op.drop_index("ix_contacts_kit_contacts_owner_birthday", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_contacts_kit_contacts_owner_birthday", TABLE, ["owner_id", "birthday_key"])
    op.drop_index("ix_contacts_kit_contacts_owner_birthday_name", table_name=TABLE)
