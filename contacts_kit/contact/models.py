"""The table of contacts."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from contacts_kit.db.base import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer, "sqlite")


class Contact(Base):
    """One entry of a user's address book. `email` is stored lower-cased."""

    __tablename__ = "contacts_kit_contacts"
    __table_args__ = (
        # An email is unique in the book, the trash aside: a trashed contact's email is free.
        Index(
            "uq_contacts_kit_contacts_owner_email_live",
            "owner_id",
            "email",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        # The trash of one owner, newest first, and the purge of old trash: trashed rows only.
        Index(
            "ix_contacts_kit_contacts_owner_trash",
            "owner_id",
            "deleted_at",
            postgresql_where=text("deleted_at IS NOT NULL"),
            sqlite_where=text("deleted_at IS NOT NULL"),
        ),
        Index("ix_contacts_kit_contacts_owner_name", "owner_id", "last_name", "first_name", "id"),
        # Serves the birthday window already sorted (see ContactRepository.upcoming_birthdays).
        Index(
            "ix_contacts_kit_contacts_owner_birthday_name",
            "owner_id",
            "birthday_key",
            "last_name",
            "first_name",
            "id",
        ),
        # SQLite would otherwise hand a deleted contact's id to the next one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_kit_users.id", ondelete="CASCADE")
    )
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    # E.164, with `;ext=` and the extension when the number has one.
    phone: Mapped[str] = mapped_column(String(64))
    birthday: Mapped[date] = mapped_column(Date)
    # month * 100 + day, so the birthday window is an indexed range.
    birthday_key: Mapped[int] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    favorite: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The folded first name, last name and email (`contact.text.search_text`), written with
    # every change of them; served by a trigram GIN index on (owner_id, search_text) on
    # PostgreSQL.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    # Bumped on every change; with the id, the ETag of the contact.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the contact goes to the trash: every read but the trash's skips it.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
