"""The writes of contacts, each in the request's transaction (`AsyncSession`), and the
maintenance that spans owners (the trash's purge, the tombstones' pruning, an owner's
erasure)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from contacts_kit.contact.errors import ContactEmailExists, TagExists, TooManyTags
from contacts_kit.contact.models import (
    CalendarToken,
    ChangeLog,
    Contact,
    ContactEmail,
    ContactTag,
    DuplicateDismissal,
    Merge,
    Tag,
    Tombstone,
)
from contacts_kit.contact.repository.statements import (
    ANY_BY_ID,
    BY_ID,
    LIVE,
    READ_COLUMNS,
    TRASHED,
    TRASHED_BY_ID,
    StoredTag,
    Where,
    record,
    search_text_of,
    sorted_stored_tags,
    sorted_tags,
    tags_statement,
)
from contacts_kit.contact.schemas import ContactRecord, TagRead
from contacts_kit.contact.text import tag_key
from contacts_kit.db.base import Base
from contacts_kit.webhooks.outbox import Outbox


def _insert(dialect: str) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (PostgreSQL and SQLite alike)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _upsert(session: AsyncSession, table: type[Base]) -> Any:
    """An INSERT into `table` with ON CONFLICT, in the session's dialect."""
    return _insert(session.get_bind().dialect.name)(table)


@functools.cache
def _next_change(dialect: str) -> Executable:
    """The owner's counter, one up (or created at 1), and its new value."""
    statement: Executable = (
        _insert(dialect)(ChangeLog)
        .values(owner_id=bindparam("counter_owner", type_=String()), seq=1, horizon=0)
        .on_conflict_do_update(index_elements=["owner_id"], set_={"seq": ChangeLog.seq + 1})
        .returning(ChangeLog.seq)
    )
    return statement


@functools.cache
def _update(columns: tuple[str, ...]) -> Executable:
    """The update of these columns of a contact at a version (bound as `new_<column>`), which
    bumps the version and takes the change number; the contact as it now is."""
    table = Contact.__table__
    assert isinstance(table, Table)
    new: dict[str, Any] = {
        name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns
    }
    new |= {"version": Contact.version + 1, "change_seq": bindparam("change_seq", BigInteger())}
    return (
        update(Contact)
        .where(
            # Not named after columns: an UPDATE's own parameters are.
            Contact.id == bindparam("where_id", type_=BigInteger()),
            Contact.owner_id == bindparam("where_owner", type_=String()),
            Contact.version == bindparam("where_version", type_=Integer()),
        )
        .values(new)
        .returning(*READ_COLUMNS)
    )


class ChangeNumbers:
    """The change numbers one session's transactions take, per owner (see `ChangeLog`): the
    counter row stays locked until the transaction ends, so an owner's writes commit in
    number order. `owners` are the owners whose books it changed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.owners: set[str] = set()
        self._held: dict[tuple[str, object], int] = {}

    def _key(self, owner_id: str) -> tuple[str, object]:
        # Keyed by the transaction too: a later transaction of the session takes its own.
        return owner_id, self.session.sync_session.get_transaction()

    async def next(self, owner_id: str) -> int:
        """The owner's next change number, or the one this transaction holds (`hold`)."""
        self.owners.add(owner_id)
        held = self._held.get(self._key(owner_id))
        if held is not None:
            return held
        statement = _next_change(self.session.get_bind().dialect.name)
        return int(await self.session.scalar(statement, {"counter_owner": owner_id}))

    async def hold(self, owner_id: str) -> None:
        """Give every later write of this transaction to the owner's book one change
        number. They commit together, so the changes feed, which orders by (number, contact
        id), loses nothing; a batch saves a counter update per operation. Taken outside any
        savepoint: the counter's lock lasts until the commit, whatever is rolled back."""
        self._held[self._key(owner_id)] = await self.next(owner_id)

    def holds(self, owner_id: str) -> bool:
        """Whether this transaction holds a change number of the owner's."""
        return self._key(owner_id) in self._held


class ContactRepository:
    """Writes `contacts_kit_contacts` for one owner in the request's transaction, and the
    reads a write needs inside it (the row it locks, the tags it resolves). Reads alone go
    through `ContactReads`."""

    def __init__(
        self, session: AsyncSession, owner_id: str, changes: ChangeNumbers | None = None
    ) -> None:
        self.session = session
        self.owner_id = owner_id
        self.changes = changes or ChangeNumbers(session)
        """The change numbers the session's transaction takes (and which books it changed)."""

    async def _row(self, statement: Executable, params: dict[str, Any]) -> ContactRecord | None:
        row = (await self.session.execute(statement, params)).first()
        return None if row is None else record(row)

    async def _claim_emails(
        self, records: Sequence[ContactRecord], *, replace: bool = False
    ) -> None:
        """Give the live `records` their emails in `contacts_kit_contact_emails` (after
        dropping what they held, when `replace`); its (owner, email) key refuses an address
        another live contact of the owner has (an `IntegrityError`)."""
        if replace:
            await self._release_emails([record.id for record in records])
        rows = [
            {"owner_id": self.owner_id, "email": entry["value"], "contact_id": record.id}
            for record in records
            for entry in record.emails
        ]
        if rows:
            await self.session.execute(insert(ContactEmail), rows)

    async def _release_emails(self, contact_ids: list[int]) -> None:
        await self.session.execute(
            delete(ContactEmail).where(ContactEmail.contact_id.in_(contact_ids))
        )

    async def add(self, values: dict[str, Any]) -> ContactRecord:
        """Insert a contact; an email another live contact of the book has (any of its
        emails) raises `ContactEmailExists`."""
        seq = await self.changes.next(self.owner_id)
        stmt = (
            insert(Contact)
            .values(
                owner_id=self.owner_id,
                **values,
                search_text=search_text_of(values),
                change_seq=seq,
            )
            .returning(*READ_COLUMNS)
        )
        try:
            added = record((await self.session.execute(stmt)).one())
            if values.get("deleted_at") is None:  # a card merged at once waits in the trash
                await self._claim_emails([added])
        except IntegrityError as exc:
            raise ContactEmailExists() from exc
        return added

    async def hold_change(self) -> None:
        """One change number for the rest of this transaction's writes (see
        `ChangeNumbers.hold`)."""
        await self.changes.hold(self.owner_id)

    def savepoint(self) -> AsyncSessionTransaction:
        """A SAVEPOINT in the request's transaction: what runs inside is undone, alone, when
        it raises."""
        return self.session.begin_nested()

    async def add_many(
        self, rows: Sequence[dict[str, Any]], tags: Sequence[Sequence[StoredTag]]
    ) -> list[ContactRecord]:
        """Insert contacts, `tags[i]` linked to the i-th, in few statements (multi-row
        `INSERT`s); the records in the order of `rows`. An email the book has already
        raises `ContactEmailExists` for the whole call."""
        seq = await self.changes.next(self.owner_id)
        values = [
            {
                "owner_id": self.owner_id,
                **row,
                "search_text": search_text_of(row),
                "change_seq": seq,
            }
            for row in rows
        ]
        stmt = insert(Contact).returning(*READ_COLUMNS, sort_by_parameter_order=True)
        try:
            records = [record(row) for row in await self.session.execute(stmt, values)]
            await self._claim_emails(records)
        except IntegrityError as exc:
            raise ContactEmailExists() from exc
        links = [
            {"contact_id": record.id, "tag_id": tag.id}
            for record, its_tags in zip(records, tags, strict=True)
            for tag in its_tags
        ]
        if links:
            await self.session.execute(insert(ContactTag), links)
        return records

    async def get_for_update(
        self, contact_id: int, *, where: Where = "live"
    ) -> ContactRecord | None:
        """The owner's contact (live, in the trash, or either), locked until the transaction
        ends (PostgreSQL; SQLite has one writer at a time anyway).

        The owner's change number is held first: every write of the book takes the
        counter's row lock before any contact's, so a single write and a batch touching the
        same contact wait for each other instead of deadlocking. A caller inside a savepoint
        holds it before the savepoint (a batch, an import), or its rollback would let the
        number go while this transaction keeps using it."""
        await self.changes.hold(self.owner_id)
        statement = {"live": BY_ID, "trash": TRASHED_BY_ID, "any": ANY_BY_ID}[where]
        params = {"contact_id": contact_id, "owner_id": self.owner_id}
        return await self._row(statement.with_for_update(), params)

    async def current(self, contact_id: int) -> ContactRecord | None:
        """The owner's live contact as this transaction sees it now, not locked (a write
        then names the version it read: `update`)."""
        return await self._row(BY_ID, {"contact_id": contact_id, "owner_id": self.owner_id})

    async def update(
        self,
        contact_id: int,
        version: int,
        values: dict[str, Any],
        conflict: ContactEmailExists | None = None,
    ) -> ContactRecord | None:
        """Write `values` into the contact if it is still at `version`, and bump its version;
        None when it is not (changed or deleted since it was read). An email taken by a live
        contact raises `conflict` (or the plain `ContactEmailExists`). A contact going to
        the trash frees its emails; one coming back claims them again."""
        seq = await self.changes.next(self.owner_id)
        params = {f"new_{name}": value for name, value in values.items()}
        params |= {
            "where_id": contact_id,
            "where_owner": self.owner_id,
            "where_version": version,
            "change_seq": seq,
        }
        try:
            row = (await self.session.execute(_update(tuple(sorted(values))), params)).first()
            if row is None:
                return None
            written = record(row)
            if values.get("deleted_at") is not None:
                await self._release_emails([contact_id])
            elif "emails" in values or "deleted_at" in values:
                await self._claim_emails([written], replace=True)
        except IntegrityError as exc:
            raise (conflict or ContactEmailExists()) from exc
        return written

    async def delete(self, contact_id: int, now: datetime) -> list[str]:
        """Delete the owner's contact for good, live or in the trash; a tombstone tells the
        changes feed. The storage keys of its photo, to delete once committed."""
        return (await bury(self.changes, self.owner_id, [contact_id], now))[1]

    async def photo_key(self, contact_id: int) -> str | None:
        """Where the storage keeps the contact's photo (None: no stored photo)."""
        return await self.session.scalar(
            select(Contact.photo_key).where(
                Contact.id == contact_id, Contact.owner_id == self.owner_id
            )
        )

    async def ids_by_email(self, emails: Sequence[str], chunk: int = 1000) -> dict[str, int]:
        """The ids of the owner's live contacts with these (stored, lower-cased) emails,
        whichever of a contact's emails it is."""
        found: dict[str, int] = {}
        for start in range(0, len(emails), chunk):
            rows = await self.session.execute(
                select(ContactEmail.email, ContactEmail.contact_id).where(
                    ContactEmail.owner_id == self.owner_id,
                    ContactEmail.email.in_(emails[start : start + chunk]),
                )
            )
            found.update((str(email), int(contact_id)) for email, contact_id in rows)
        return found

    async def ids_by_phone(self) -> dict[str, int]:
        """The id of the owner's live contact of each phone number (E.164) in the book,
        whichever of a contact's phones it is (the first contact of a shared one)."""
        rows = await self.session.execute(
            select(Contact.id, Contact.phones)
            .where(Contact.owner_id == self.owner_id, LIVE)
            .order_by(Contact.id)
        )
        found: dict[str, int] = {}
        for contact_id, phones in rows:
            for entry in phones:
                found.setdefault(str(entry["value"]), int(contact_id))
        return found

    async def live_ids(self, contact_ids: Sequence[int]) -> set[int]:
        """Which of these ids are the owner's live contacts."""
        found = await self.session.scalars(
            select(Contact.id).where(
                Contact.id.in_(list(contact_ids)), Contact.owner_id == self.owner_id, LIVE
            )
        )
        return set(found)

    async def dismiss(self, ids: str, now: datetime) -> None:
        """Record a dismissed group of duplicates (`ids`: ascending, comma-separated)."""
        await self.session.execute(
            _upsert(self.session, DuplicateDismissal)
            .values(owner_id=self.owner_id, ids=ids, created_at=now)
            .on_conflict_do_nothing(index_elements=["owner_id", "ids"])
        )

    async def photo_keys_of(self, contact_ids: Sequence[int]) -> dict[int, str | None]:
        """Where the storage keeps the photo of each of these contacts (None: no file)."""
        found = await self.session.execute(
            select(Contact.id, Contact.photo_key).where(
                Contact.id.in_(list(contact_ids)), Contact.owner_id == self.owner_id
            )
        )
        return {int(contact_id): key for contact_id, key in found}

    async def merged_away(self, contact_id: int, contact_ids: Sequence[int]) -> set[int]:
        """Which of these contacts wait in the trash, merged into `contact_id`."""
        found = await self.session.scalars(
            select(Contact.id).where(
                Contact.id.in_(list(contact_ids)),
                Contact.owner_id == self.owner_id,
                TRASHED,
                Contact.merged_into == contact_id,
            )
        )
        return set(found)

    async def add_merge(self, merge: Merge) -> int:
        """Keep a merge for its undo; its id."""
        merge.owner_id = self.owner_id
        self.session.add(merge)
        await self.session.flush()
        return merge.id

    async def merge_for_update(self, merge_id: int) -> Merge | None:
        """The owner's merge, locked until the transaction ends (one undo at a time)."""
        found: Merge | None = await self.session.scalar(
            select(Merge)
            .where(Merge.id == merge_id, Merge.owner_id == self.owner_id)
            .with_for_update()
        )
        return found

    async def undone(self, merge: Merge, now: datetime) -> None:
        """Mark the merge undone (it cannot be undone twice)."""
        merge.undone_at = now
        await self.session.flush()

    async def set_calendar_token(self, token_hash: str, now: datetime) -> None:
        """The owner's feed secret is now the one of `token_hash` (the old one dies)."""
        await self.drop_calendar_token()
        self.session.add(
            CalendarToken(owner_id=self.owner_id, token_hash=token_hash, created_at=now)
        )
        await self.session.flush()

    async def drop_calendar_token(self) -> None:
        """The owner has no feed secret any more."""
        await self.session.execute(
            delete(CalendarToken).where(CalendarToken.owner_id == self.owner_id)
        )

    # Tags. The link table is the truth for filters and counts; `Contact.tags` repeats the
    # names for the reads, and every method here that changes one changes the other.

    async def _tags_by_key(self, keys: Iterable[str]) -> dict[str, StoredTag]:
        result = await self.session.execute(
            select(Tag.name_key, Tag.id, Tag.name).where(
                Tag.owner_id == self.owner_id, Tag.name_key.in_(list(keys))
            )
        )
        return {key: StoredTag(tag_id, name) for key, tag_id, name in result}

    async def _tag_count(self) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Tag).where(Tag.owner_id == self.owner_id)
        )
        return int(count or 0)

    async def resolve_tags(
        self, names: Sequence[str], limit: int, now: datetime
    ) -> list[StoredTag]:
        """The owner's tags named `names` (compared by key; the first spelling of a new one
        wins), the missing ones created, sorted as a contact shows them. `TooManyTags` when
        the owner would have more than `limit`."""
        wanted: dict[str, str] = {}
        for name in names:
            wanted.setdefault(tag_key(name), name)
        if not wanted:
            return []
        found = await self._tags_by_key(wanted)
        missing = [key for key in wanted if key not in found]
        if missing:
            # Counted under the owner's change number, held until the commit (a row lock on
            # PostgreSQL, the write lock on SQLite): concurrent additions count in turn.
            await self.hold_change()
            if await self._tag_count() + len(missing) > limit:
                raise TooManyTags()
            rows = [
                {"owner_id": self.owner_id, "name": wanted[key], "name_key": key, "created_at": now}
                for key in missing
            ]
            # A concurrent request may create the same tag: both then use the one row.
            await self.session.execute(
                _upsert(self.session, Tag)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["owner_id", "name_key"])
            )
            found = await self._tags_by_key(wanted)
        tags = [found[key] for key in wanted]
        return sorted_stored_tags({tag_key(tag.name): tag for tag in tags})

    async def link_tags(
        self, contact_id: int, tags: Sequence[StoredTag], *, new: bool = False
    ) -> None:
        """Make `tags` the contact's, in the link table (a `new` contact has no links yet)."""
        if not new:
            await self.session.execute(
                delete(ContactTag).where(ContactTag.contact_id == contact_id)
            )
        if tags:
            await self.session.execute(
                insert(ContactTag), [{"contact_id": contact_id, "tag_id": tag.id} for tag in tags]
            )

    async def tag(self, tag_id: int) -> TagRead | None:
        """The owner's tag with this id, with its count of live contacts."""
        params = {"owner_id": self.owner_id, "tag_id": tag_id}
        row = (await self.session.execute(tags_statement(True), params)).first()
        return (
            None
            if row is None
            else TagRead(id=row[0], name=row[1], contacts=row[2], created_at=row[3])
        )

    async def add_tag(self, name: str, limit: int, now: datetime) -> StoredTag:
        """A new tag; `TagExists` when one has its key, `TooManyTags` past `limit` (counted
        under the owner's change number, as `resolve_tags` does)."""
        await self.hold_change()
        if await self._tag_count() >= limit:
            raise TooManyTags()
        try:
            async with self.session.begin_nested():
                tag_id = await self.session.scalar(
                    insert(Tag)
                    .values(
                        owner_id=self.owner_id, name=name, name_key=tag_key(name), created_at=now
                    )
                    .returning(Tag.id)
                )
        except IntegrityError as exc:
            raise TagExists() from exc
        assert tag_id is not None
        return StoredTag(tag_id, name)

    async def tag_for_update(self, tag_id: int) -> StoredTag | None:
        """The owner's tag, locked until the transaction ends."""
        result = await self.session.execute(
            select(Tag.id, Tag.name)
            .where(Tag.id == tag_id, Tag.owner_id == self.owner_id)
            .with_for_update()
        )
        row = result.first()
        return None if row is None else StoredTag(*row)

    async def rename_tag(self, tag: StoredTag, name: str, now: datetime) -> StoredTag:
        """Rename a tag, on every contact carrying it too; `TagExists` when another tag has
        the new name's key."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    update(Tag).where(Tag.id == tag.id).values(name=name, name_key=tag_key(name))
                )
        except IntegrityError as exc:
            raise TagExists() from exc
        await self._retag(tag, name, now)
        return StoredTag(tag.id, name)

    async def delete_tag(self, tag: StoredTag, now: datetime) -> None:
        """Delete a tag: it leaves every contact (in the trash too)."""
        await self._retag(tag, None, now)
        await self.session.execute(delete(Tag).where(Tag.id == tag.id))

    async def _retag(self, tag: StoredTag, new_name: str | None, now: datetime) -> None:
        """Rewrite the names of the contacts carrying `tag`: a new version of each."""
        carriers = await self.session.execute(
            select(Contact.id, Contact.tags)
            .join(ContactTag, ContactTag.contact_id == Contact.id)
            .where(ContactTag.tag_id == tag.id, Contact.owner_id == self.owner_id)
        )
        old_key = tag_key(tag.name)
        changes = []
        for contact_id, names in carriers:
            kept = [name for name in names if tag_key(name) != old_key]
            if new_name is not None:
                kept.append(new_name)
            changes.append({"b_id": contact_id, "b_tags": sorted_tags(kept)})
        if changes:
            seq = await self.changes.next(self.owner_id)
            table = Contact.__table__
            assert isinstance(table, Table)
            await self.session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values(
                    tags=bindparam("b_tags", type_=table.c.tags.type),
                    version=table.c.version + 1,
                    updated_at=now,
                    change_seq=seq,
                ),
                changes,
            )


async def purge_trash(
    session: AsyncSession, before: datetime, batch: int, now: datetime
) -> tuple[int, list[str]]:
    """Delete, for good, up to `batch` contacts of any owner that went to the trash before
    `before`; how many went, and the storage keys of their photos. Small batches keep each
    transaction's locks short."""
    doomed = (
        select(Contact.id)
        .where(TRASHED, Contact.deleted_at < before)
        .order_by(Contact.deleted_at)
        .limit(batch)
    )
    rows = (await session.execute(doomed.add_columns(Contact.owner_id))).all()
    owners: dict[str, list[int]] = {}
    for contact_id, owner_id in rows:
        owners.setdefault(owner_id, []).append(contact_id)
    changes = ChangeNumbers(session)
    keys: list[str] = []
    for owner_id, ids in owners.items():
        gone, files = await bury(changes, owner_id, ids, now, trashed_only=True)
        keys += files
        outbox = Outbox(session, owner_id, lambda: now)
        for contact_id in gone:  # each told to the owner's webhooks, in this transaction
            await outbox.add("contact.purged", {"id": contact_id})
    return len(rows), keys


async def bury(
    changes: ChangeNumbers,
    owner_id: str,
    contact_ids: list[int],
    now: datetime,
    *,
    trashed_only: bool = False,
) -> tuple[list[int], list[str]]:
    """Delete the owner's contacts for good (`trashed_only`: those still in the trash), with
    one tombstone each for the changes feed; the ids deleted, and the storage keys of their
    photos."""
    session = changes.session
    seq = await changes.next(owner_id)
    condition = [Contact.id.in_(contact_ids), Contact.owner_id == owner_id]
    if trashed_only:
        condition.append(TRASHED)
    deleted = await session.execute(
        delete(Contact).where(*condition).returning(Contact.id, Contact.photo_key)
    )
    rows = deleted.all()
    gone = [row[0] for row in rows]
    if gone:
        await session.execute(
            insert(Tombstone),
            [
                {"owner_id": owner_id, "seq": seq, "contact_id": contact_id, "deleted_at": now}
                for contact_id in gone
            ],
        )
    return gone, [row[1] for row in rows if row[1] is not None]


async def prune_tombstones(session: AsyncSession, before: datetime) -> int:
    """Drop the tombstones older than `before`; each owner's horizon moves past them, so
    tokens from before it are answered 410. How many went."""
    horizons = (
        await session.execute(
            select(Tombstone.owner_id, func.max(Tombstone.seq))
            .where(Tombstone.deleted_at < before)
            .group_by(Tombstone.owner_id)
        )
    ).all()
    for owner_id, horizon in horizons:
        await session.execute(
            update(ChangeLog)
            .where(ChangeLog.owner_id == owner_id, ChangeLog.horizon < horizon)
            .values(horizon=horizon)
        )
    result = await session.execute(
        delete(Tombstone).where(Tombstone.deleted_at < before).returning(Tombstone.seq)
    )
    return len(result.all())


async def photo_keys(session: AsyncSession, owner: str) -> list[str]:
    """The storage keys of the photos of the owner's contacts (the trash's too)."""
    found = await session.scalars(
        select(Contact.photo_key).where(Contact.owner_id == owner, Contact.photo_key.is_not(None))
    )
    return [key for key in found if key is not None]


async def erase_book(session: AsyncSession, owner: str) -> dict[str, int]:
    """Delete every row of the owner's book (contacts, the trash, tags, the changes feed,
    the calendar secret), without a tombstone: the owner is gone. The rows deleted, per
    table (the photos' files: `photo_keys`, read first)."""
    links = ContactTag.contact_id.in_(
        select(Contact.id).where(Contact.owner_id == owner).scalar_subquery()
    )
    counts: dict[str, int] = {}
    for table, of_owner in (
        (ContactTag, links),
        (ContactEmail, ContactEmail.owner_id == owner),
        (Contact, Contact.owner_id == owner),
        (Tag, Tag.owner_id == owner),
        (Tombstone, Tombstone.owner_id == owner),
        (ChangeLog, ChangeLog.owner_id == owner),
        (CalendarToken, CalendarToken.owner_id == owner),
        (DuplicateDismissal, DuplicateDismissal.owner_id == owner),
        (Merge, Merge.owner_id == owner),
    ):
        result = await session.execute(delete(table).where(of_owner).returning(literal(1)))
        counts[str(table.__tablename__)] = len(result.all())
    return counts
