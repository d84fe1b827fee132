"""Full cards: a contact's emails, phones, addresses and URLs as labelled lists, its
nickname, organisation, job title, anniversary and photo, and the vCard properties it has no
field for; `contacts_kit_contact_emails` makes an address belong to one live contact of an
owner, whichever of its emails it is.

Each existing contact's email and phone become the first (and only) entry of their lists;
`search_text` gains the emails and phone digits. The downgrade keeps the primary values
(`email`, `phone` never stopped holding them) and drops the rest.

Revision ID: 0018_full_cards
Revises: 0017_transliterated_search
Create Date: 2026-12-07
"""

import unicodedata
from collections.abc import Sequence
from typing import Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata
import sqlalchemy as sa
from alembic import op
from anyascii import anyascii

revision: str = "0018_full_cards"
down_revision: str | None = "0017_transliterated_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"
EMAILS = "contacts_kit_contact_emails"
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SEPARATOR = "\x1f"
BATCH = 5000
LISTS = ("emails", "phones", "addresses", "urls", "extra")


def _latin_ascii(char: str) -> str:
    if char.isascii() or not unicodedata.name(char, "").startswith("LATIN "):
        return char
    return anyascii(char).casefold() or char


def fold(text: str | None) -> str:
    """Must equal contacts_kit.contact.text.fold: a migration never imports the package."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    if not folded.isascii():
        folded = "".join(_latin_ascii(char) for char in folded)
    return unicodedata.normalize("NFC", folded)


def phone_digits(stored: str) -> list[str]:
    """Must equal contacts_kit.contact.phones.phone_digits."""
    e164 = stored.partition(";")[0]
    international = e164.lstrip("+")
    for size in (1, 2, 3):
        code = international[:size]
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(code)) if code.isdigit() else None
        if regions:
            meta = PhoneMetadata.metadata_for_region_or_calling_code(int(code), regions[0])
            national = ((meta.national_prefix if meta else None) or "") + international[size:]
            return [international] if national in international else [international, national]
    return [international]


def _contacts() -> Any:
    return sa.table(
        TABLE,
        sa.column("id", ID),
        sa.column("owner_id", sa.String()),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("phone", sa.String()),
        sa.column("deleted_at", sa.DateTime(timezone=True)),
        sa.column("emails", sa.JSON()),
        sa.column("phones", sa.JSON()),
        sa.column("search_text", sa.Text()),
    )


def _rows(contacts: Any) -> Any:
    """Every contact, in batches by id."""
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(contacts).where(contacts.c.id > last).order_by(contacts.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def upgrade() -> None:
    # Constant defaults: PostgreSQL adds the columns without rewriting the table.
    for name in LISTS:
        op.add_column(TABLE, sa.Column(name, sa.JSON(), nullable=False, server_default="[]"))
    op.add_column(TABLE, sa.Column("nickname", sa.String(length=100), nullable=True))
    op.add_column(TABLE, sa.Column("organization", sa.String(length=200), nullable=True))
    op.add_column(TABLE, sa.Column("job_title", sa.String(length=200), nullable=True))
    op.add_column(TABLE, sa.Column("anniversary", sa.Date(), nullable=True))
    op.add_column(TABLE, sa.Column("anniversary_key", sa.SmallInteger(), nullable=True))
    op.add_column(TABLE, sa.Column("photo_url", sa.String(length=1024), nullable=True))
    op.add_column(TABLE, sa.Column("photo_key", sa.String(length=300), nullable=True))
    op.create_index(
        "ix_contacts_kit_contacts_owner_anniversary_name",
        TABLE,
        ["owner_id", "anniversary_key", "last_name", "first_name", "id"],
    )
    op.create_table(
        EMAILS,
        sa.Column("owner_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            [f"{TABLE}.id"],
            name=op.f("fk_contacts_kit_contact_emails_contact_id_contacts_kit_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner_id", "email", name=op.f("pk_contacts_kit_contact_emails")),
    )
    op.create_index(op.f("ix_contacts_kit_contact_emails_contact_id"), EMAILS, ["contact_id"])
    bind = op.get_bind()
    contacts = _contacts()
    emails = sa.table(
        EMAILS,
        sa.column("owner_id", sa.String()),
        sa.column("email", sa.String()),
        sa.column("contact_id", ID),
    )
    for rows in _rows(contacts):
        changed = []
        for row in rows:
            its_emails = [{"value": row.email, "label": None}] if row.email else []
            its_phones = [{"value": row.phone, "label": None}] if row.phone else []
            digits = phone_digits(row.phone) if row.phone else []
            folded = SEPARATOR.join(
                (
                    fold(row.first_name),
                    fold(row.last_name),
                    fold(row.email),
                    fold(" ".join(digits)),
                )
            )
            changed.append(
                {
                    "row_id": row.id,
                    "new_emails": its_emails,
                    "new_phones": its_phones,
                    "folded": folded,
                }
            )
        bind.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("row_id"))
            .values(
                emails=sa.bindparam("new_emails", type_=sa.JSON()),
                phones=sa.bindparam("new_phones", type_=sa.JSON()),
                search_text=sa.bindparam("folded"),
            ),
            changed,
        )
        live = [
            {"owner_id": row.owner_id, "email": row.email, "contact_id": row.id}
            for row in rows
            if row.email and row.deleted_at is None
        ]
        if live:
            bind.execute(emails.insert(), live)


def downgrade() -> None:
    op.drop_index(op.f("ix_contacts_kit_contact_emails_contact_id"), table_name=EMAILS)
    op.drop_table(EMAILS)
    op.drop_index("ix_contacts_kit_contacts_owner_anniversary_name", table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:
        for name in (
            *LISTS,
            "nickname",
            "organization",
            "job_title",
            "anniversary",
            "anniversary_key",
            "photo_url",
            "photo_key",
        ):
            batch.drop_column(name)
    bind = op.get_bind()
    contacts = sa.table(
        TABLE,
        sa.column("id", ID),
        sa.column("first_name", sa.String()),
        sa.column("last_name", sa.String()),
        sa.column("email", sa.String()),
        sa.column("search_text", sa.Text()),
    )
    for rows in _rows(contacts):
        bind.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("row_id"))
            .values(search_text=sa.bindparam("folded")),
            [
                {
                    "row_id": row.id,
                    "folded": SEPARATOR.join(
                        (fold(row.first_name), fold(row.last_name), fold(row.email))
                    ),
                }
                for row in rows
            ],
        )
