"""The tables of contacts and their tags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from contacts_kit.contact.owner import MAX_OWNER_KEY
from contacts_kit.db.base import Base, UTCDateTime, utcnow

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ID = BigInteger().with_variant(Integer, "sqlite")
# Whose book a row belongs to (`contacts_kit.contact.owner`): the host's id of a user or a
# team, with no foreign key to any users table, the kit's own included.
OWNER_KEY = String(MAX_OWNER_KEY)


class Contact(Base):
    """One entry of a user's address book: a full card. Emails are stored lower-cased.

    A contact has a first name and an email or a phone (or both); everything else is
    optional. A missing last name is stored as `''`, so that contacts sort the same on every
    database (NULLs do not) and the name index serves every order; the API shows it as
    `null`. A missing email, phone, birthday or anniversary is NULL.

    `emails`, `phones`, `addresses` and `urls` are lists of labelled entries (JSON);
    `email` and `phone` repeat the value of the first entry of their list (the primary), so
    that the seed's API, its unique index and its lookups keep working on one column.
    """

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
        # Anniversaries, as birthdays (`?kind=anniversary`).
        Index(
            "ix_contacts_kit_contacts_owner_anniversary_name",
            "owner_id",
            "anniversary_key",
            "last_name",
            "first_name",
            "id",
        ),
        # The changes feed: one owner's contacts in write order.
        Index("ix_contacts_kit_contacts_owner_changes", "owner_id", "change_seq", "id"),
        # SQLite would otherwise hand a deleted contact's id to the next one.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    # E.164, with `;ext=` and the extension when the number has one.
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    birthday: Mapped[date | None] = mapped_column(Date, default=None)
    # month * 100 + day, so the birthday window is an indexed range; NULL without a birthday.
    birthday_key: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    favorite: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The names of the contact's tags, sorted, as every read shows them: kept in step with
    # `contacts_kit_contact_tags` by every write, so a read needs no join. Filters use the
    # link table.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Every entry of the lists, in order; the first is the primary (`email`, `phone`).
    emails: Mapped[list[dict[str, str | None]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    phones: Mapped[list[dict[str, str | None]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    addresses: Mapped[list[dict[str, str | None]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    urls: Mapped[list[dict[str, str | None]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    nickname: Mapped[str | None] = mapped_column(String(100), default=None)
    organization: Mapped[str | None] = mapped_column(String(200), default=None)
    job_title: Mapped[str | None] = mapped_column(String(200), default=None)
    anniversary: Mapped[date | None] = mapped_column(Date, default=None)
    # As `birthday_key`, for the anniversary.
    anniversary_key: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    photo_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    # Where the storage keeps the photo: replacing it or purging the contact removes the file.
    photo_key: Mapped[str | None] = mapped_column(String(300), default=None)
    # The vCard properties the card has no field for (`X-...`, `IMPP`, `GEO`, `RELATED`,
    # ...), each an unfolded content line as the imported card had it: written back on export.
    extra: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # The folded names, every email, the phones' digits, the organisation and the nickname
    # (`contact.text.search_text`), written with every change of them; served by a trigram
    # GIN index on (owner_id, search_text) on PostgreSQL.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    # Bumped on every change; with the id, the ETag of the contact.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the contact goes to the trash: every read but the trash's skips it.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The owner's change number of the contact's last write (`ChangeLog`): the changes feed
    # reads the contacts written after a client's token in this order. 0 for contacts last
    # written before the feed existed.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # The contact a merge folded this one into (`Merge`): set while it waits in the trash
    # for the merge's undo, cleared when it comes back.
    merged_into: Mapped[int | None] = mapped_column(BigInteger, default=None)


class ContactEmail(Base):
    """An email address of a live contact: one row per entry of its `emails`, so that an
    address belongs to at most one live contact of an owner, whichever entry it is. A
    contact's rows go when it goes to the trash and come back when it is restored."""

    __tablename__ = "contacts_kit_contact_emails"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "email"),)

    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    email: Mapped[str] = mapped_column(String(320))
    contact_id: Mapped[int] = mapped_column(
        _ID, ForeignKey("contacts_kit_contacts.id", ondelete="CASCADE"), index=True
    )


class Tag(Base):
    """A label of one owner's contacts. Names are unique per owner, compared case-folded."""

    __tablename__ = "contacts_kit_tags"
    __table_args__ = (
        Index("uq_contacts_kit_tags_owner_key", "owner_id", "name_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    name: Mapped[str] = mapped_column(String(50))
    # `contact.tags.tag_key(name)`: what makes two names the same tag.
    name_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactTag(Base):
    """A contact carries a tag."""

    __tablename__ = "contacts_kit_contact_tags"
    __table_args__ = (
        PrimaryKeyConstraint("contact_id", "tag_id"),
        # The contacts of a tag: `?tag=` filters and the counts.
        Index("ix_contacts_kit_contact_tags_tag", "tag_id", "contact_id"),
    )

    contact_id: Mapped[int] = mapped_column(
        _ID, ForeignKey("contacts_kit_contacts.id", ondelete="CASCADE")
    )
    tag_id: Mapped[int] = mapped_column(_ID, ForeignKey("contacts_kit_tags.id", ondelete="CASCADE"))


class ChangeLog(Base):
    """One owner's change counter. Every write to the owner's contacts takes the next number
    with `UPDATE ... seq + 1` (or the first insert), which locks this row until the write
    commits: the owner's writes commit in number order, so a client that has seen number n
    has seen every change numbered below it (a rolled-back write gives its number back).

    `horizon`: tombstones numbered up to it were pruned; a token older than that cannot be
    answered (410) and its client starts over."""

    __tablename__ = "contacts_kit_change_logs"

    owner_id: Mapped[str] = mapped_column(OWNER_KEY, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    horizon: Mapped[int] = mapped_column(BigInteger, default=0)


class Tombstone(Base):
    """A contact deleted for good (from the trash, by the purge, or at once): what the
    changes feed reports to clients that still hold it."""

    __tablename__ = "contacts_kit_tombstones"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "seq", "contact_id"),)

    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    seq: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarToken(Base):
    """The secret of an owner's birthday calendar feed, kept only as a SHA-256 digest: one
    per owner, replaced when rotated, deleted when revoked."""

    __tablename__ = "contacts_kit_calendar_tokens"

    owner_id: Mapped[str] = mapped_column(OWNER_KEY, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DuplicateDismissal(Base):
    """A group of contacts an owner said are not duplicates: `GET /contacts/duplicates`
    leaves out a group of exactly these ids. `ids`: the ids ascending, comma-separated."""

    __tablename__ = "contacts_kit_duplicate_dismissals"
    __table_args__ = (PrimaryKeyConstraint("owner_id", "ids"),)

    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    ids: Mapped[str] = mapped_column(String(2100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Merge(Base):
    """Contacts folded into one (`POST /contacts/merge`, or an import with
    `on_conflict=merge`), kept for the undo: the primary's fields before and right after
    (`contact.merges.snapshot`), and the contacts merged away, which wait in the trash.
    `source`: `merge`, or `import` (the card merged away was an imported one, not a contact
    of the book: the undo leaves it in the trash)."""

    __tablename__ = "contacts_kit_merges"
    __table_args__ = (
        Index("ix_contacts_kit_merges_owner_id", "owner_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    contact_id: Mapped[int] = mapped_column(BigInteger)
    merged_ids: Mapped[list[int]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(10))
    # The contact merged away whose photo the primary took (they swapped photos).
    photo_from: Mapped[int | None] = mapped_column(BigInteger, default=None)
    before: Mapped[dict[str, object]] = mapped_column(JSON)
    after: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
