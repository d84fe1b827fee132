"""Search finds Latin letters that have no decomposition by their ASCII spelling: `orsted`,
`lukasz`, `zolc` find Ørsted, Łukasz, Żółć (and Đ, Æ, Œ, Þ). Every contact's folded
`search_text` is computed again; the downgrade computes it the earlier way.

Revision ID: 0017_transliterated_search
Revises: 0016_stale_keys
Create Date: 2026-12-07
"""

import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from anyascii import anyascii

revision: str = "0017_transliterated_search"
down_revision: str | None = "0016_stale_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "contacts_kit_contacts"
SEPARATOR = "\x1f"
BATCH = 5000


def _bare(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def _latin_ascii(char: str) -> str:
    if char.isascii() or not unicodedata.name(char, "").startswith("LATIN "):
        return char
    return anyascii(char).casefold() or char


def fold(text: str | None) -> str:
    """Must equal contacts_kit.contact.text.fold: a migration never imports the package."""
    if not text:
        return ""
    folded = _bare(text)
    if not folded.isascii():
        folded = "".join(_latin_ascii(char) for char in folded)
    return unicodedata.normalize("NFC", folded)


def earlier_fold(text: str | None) -> str:
    """The fold of revisions 0005 to 0016."""
    return unicodedata.normalize("NFC", _bare(text)) if text else ""


def _refold(folding: Callable[[str | None], str]) -> None:
    bind = op.get_bind()
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
        changed = [
            {
                "row_id": row.id,
                "folded": SEPARATOR.join(
                    (folding(row.first_name), folding(row.last_name), folding(row.email))
                ),
            }
            for row in rows
            if not f"{row.first_name or ''}{row.last_name or ''}{row.email or ''}".isascii()
        ]
        if changed:
            bind.execute(
                contacts.update()
                .where(contacts.c.id == sa.bindparam("row_id"))
                .values(search_text=sa.bindparam("folded")),
                changed,
            )
        last = rows[-1].id


def upgrade() -> None:
    _refold(fold)


def downgrade() -> None:
    _refold(earlier_fold)
