"""SQL of contacts. Every query is scoped to one owner; every row leaves as a `ContactRecord`."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Executable,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, AsyncSessionTransaction
from sqlalchemy.sql import Select

from contacts_kit.contact.birthdays import FEB_28, FEB_29, BirthdayWindow
from contacts_kit.contact.errors import ContactEmailExists, TagExists, TooManyTags
from contacts_kit.contact.models import (
    CalendarToken,
    ChangeLog,
    Contact,
    ContactTag,
    Tag,
    Tombstone,
)
from contacts_kit.contact.schemas import ContactRecord, TagRead, TrashedRecord
from contacts_kit.contact.text import LIKE_ESCAPE, like_pattern, search_text, tag_key
from contacts_kit.db.base import Base
from contacts_kit.db.engine import transactional

Statement: TypeAlias = Select[*tuple[Any, ...]]
"""A read statement whose values are all bound parameters."""

# What every statement returns, in the order of `ContactRecord`'s fields: plain rows, no ORM
# objects to build and track.
READ_COLUMNS = (
    Contact.id,
    Contact.first_name,
    # Stored as '' when missing (see `Contact`), shown as null.
    func.nullif(Contact.last_name, "").label("last_name"),
    Contact.email,
    Contact.phone,
    Contact.birthday,
    Contact.notes,
    Contact.favorite,
    Contact.tags,
    Contact.version,
    Contact.created_at,
    Contact.updated_at,
)

# Every read statement is built once per shape, with each value a bound parameter: a request
# only binds its values, and SQLAlchemy's compiled cache (and asyncpg's prepared statements)
# do the rest once per shape.
_OWNER = bindparam("owner_id", type_=String())
_LIMIT = bindparam("limit", type_=Integer())
_OFFSET = bindparam("offset", type_=Integer())
_ID = bindparam("contact_id", type_=BigInteger())
# Every read but the trash's sees live contacts only.
_LIVE = Contact.deleted_at.is_(None)
_TRASHED = Contact.deleted_at.is_not(None)
_BY_ID = select(*READ_COLUMNS).where(Contact.id == _ID, Contact.owner_id == _OWNER, _LIVE)
_TRASHED_BY_ID = select(*READ_COLUMNS).where(
    Contact.id == _ID, Contact.owner_id == _OWNER, _TRASHED
)
_ANY_BY_ID = select(*READ_COLUMNS).where(Contact.id == _ID, Contact.owner_id == _OWNER)
_WITH_BIRTHDAYS = (
    select(*READ_COLUMNS)
    .where(Contact.owner_id == _OWNER, _LIVE, Contact.birthday.is_not(None))
    .order_by(Contact.id)
)
_TRASH_PAGE = (
    select(*READ_COLUMNS, Contact.deleted_at)
    .where(Contact.owner_id == _OWNER, _TRASHED)
    .order_by(Contact.deleted_at.desc(), Contact.id.desc())
    .limit(_LIMIT)
    .offset(_OFFSET)
)
_PAGE = (
    select(*READ_COLUMNS)
    .where(Contact.owner_id == _OWNER, _LIVE)
    .order_by(Contact.last_name, Contact.first_name, Contact.id)
    .limit(_LIMIT)
    .offset(_OFFSET)
)


def _matches(name: str) -> ColumnElement[bool]:
    """`search_text` against the pattern bound as `name` (already folded: plain LIKE)."""
    pattern = bindparam(name, type_=Text())
    result: ColumnElement[bool] = Contact.search_text.like(pattern, escape=LIKE_ESCAPE)
    return result


def _tagged(index: int) -> ColumnElement[bool]:
    """The contact carries the tag whose key is bound as `tag_<index>`."""
    return (
        select(ContactTag.contact_id)
        .join(Tag, Tag.id == ContactTag.tag_id)
        .where(
            ContactTag.contact_id == Contact.id,
            Tag.owner_id == _OWNER,
            Tag.name_key == bindparam(f"tag_{index}", type_=Text()),
        )
        .exists()
    )


@functools.cache
def _search_page(filtered: tuple[str, ...], favorite: bool = False, tags: int = 0) -> Statement:
    """The page of a search on the `filtered` fields (`q` and/or field names), of favourites
    only (or not) when `favorite` (a bound `favorite` value) is asked, of the contacts that
    carry each of `tags` tags (keys bound as `tag_0`, `tag_1`, ...).

    Every filter is a pattern of the folded `search_text` (see `contact.text`), which the
    trigram index serves. The page orders by the same keys as `_PAGE`, but through an
    expression (`|| ''` changes no value and no collation) that the (owner, name) index
    cannot serve: otherwise PostgreSQL may walk the whole book in name order, filtering, when
    the matches sit late in the alphabet, instead of collecting them through the trigram index.
    Without a pattern (favourites alone) the index order is the right plan.
    """
    clauses = [_matches(name) for name in filtered]
    if favorite:
        clauses.append(Contact.favorite == bindparam("favorite", type_=Boolean()))
    clauses.extend(_tagged(index) for index in range(tags))
    last_name = Contact.last_name.concat("") if filtered else Contact.last_name
    return (
        select(*READ_COLUMNS)
        .where(Contact.owner_id == _OWNER, _LIVE, *clauses)
        .order_by(last_name, Contact.first_name, Contact.id)
        .limit(_LIMIT)
        .offset(_OFFSET)
    )


def _in_key_order(window: BirthdayWindow) -> bool:
    """Whether sorting by `birthday_key` alone sorts this window by date."""
    if window.everything or len(window.ranges) != 1:
        return False
    low, high = window.ranges[0]
    return window.leap_this_year or not low <= FEB_29 <= high


@functools.cache
def _birthdays_in_key_order() -> Statement:
    """One range, all of it this year, no 29 February to move: the index on (owner,
    birthday_key, last_name, first_name, id) returns the rows already in order."""
    key = Contact.birthday_key
    return (
        select(*READ_COLUMNS)
        .where(
            Contact.owner_id == _OWNER,
            _LIVE,
            key.between(bindparam("low_0", type_=Integer()), bindparam("high_0", type_=Integer())),
        )
        .order_by(key, Contact.last_name, Contact.first_name, Contact.id)
        .limit(_LIMIT)
        .offset(_OFFSET)
    )


@functools.cache
def _birthdays(ranges: int | None, feb29_moves: tuple[int, ...]) -> Statement:
    """Birthdays in `ranges` key intervals (None: the whole year), by next celebration.

    Keys below today's (`start_key`) are celebrated next year; in each year offset of
    `feb29_moves` (0 this year, 1 next) 29 February has no day and sorts with the 28th.
    """
    key = Contact.birthday_key
    next_year = case((key < bindparam("start_key", type_=Integer()), 1), else_=0)
    feb29_elsewhere = [and_(next_year == offset, key == FEB_29) for offset in feb29_moves]
    day = case((or_(*feb29_elsewhere), FEB_28), else_=key) if feb29_elsewhere else key
    stmt = select(*READ_COLUMNS).where(Contact.owner_id == _OWNER, _LIVE)
    if ranges is None:
        stmt = stmt.where(key.is_not(None))  # the whole year: every contact with a birthday
    else:
        stmt = stmt.where(
            or_(
                *(
                    key.between(
                        bindparam(f"low_{i}", type_=Integer()),
                        bindparam(f"high_{i}", type_=Integer()),
                    )
                    for i in range(ranges)
                )
            )
        )
    return (
        stmt.order_by(next_year, day, Contact.last_name, Contact.first_name, Contact.id)
        .limit(_LIMIT)
        .offset(_OFFSET)
    )


@dataclass(frozen=True, slots=True)
class ContactFilters:
    """Search of `GET /contacts`: each given field must match; `q` matches any name or email."""

    q: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    favorite: bool | None = None
    tags: tuple[str, ...] = ()
    """Keys (`contact.text.tag_key`) of tags the contact must all carry."""

    def patterns(self) -> dict[str, str]:
        """The LIKE pattern of each filter given, by field name."""
        given = {
            "q": self.q,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
        }
        return {name: like_pattern(name, value) for name, value in given.items() if value}


R = TypeVar("R", bound=ContactRecord)

Where: TypeAlias = Literal["live", "trash", "any"]
"""Which contacts a by-id lookup sees: the live ones, those in the trash, or either."""

Query: TypeAlias = tuple[Statement, dict[str, Any]]
"""A read statement and the values of its parameters."""


def by_id_query(owner_id: str, contact_id: int) -> Query:
    """The owner's contact with this id."""
    return _BY_ID, {"contact_id": contact_id, "owner_id": owner_id}


def search_query(owner_id: str, filters: ContactFilters, limit: int, offset: int) -> Query:
    """A page of the owner's contacts matching `filters`."""
    patterns = filters.patterns()
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit, "offset": offset, **patterns}
    params |= {f"tag_{index}": key for index, key in enumerate(filters.tags)}
    if filters.favorite is None and not filters.tags:
        return (_search_page(tuple(patterns)) if patterns else _PAGE), params
    if filters.favorite is not None:
        params["favorite"] = filters.favorite
    favorite = filters.favorite is not None
    return _search_page(tuple(patterns), favorite, len(filters.tags)), params


def birthdays_query(owner_id: str, window: BirthdayWindow, limit: int, offset: int) -> Query:
    """A page of the owner's contacts whose next birthday is in `window`, soonest first."""
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit, "offset": offset}
    for i, (low, high) in enumerate(window.ranges):
        params[f"low_{i}"], params[f"high_{i}"] = low, high
    if _in_key_order(window):
        return _birthdays_in_key_order(), params
    feb29_moves = tuple(
        year for year, leap in ((0, window.leap_this_year), (1, window.leap_next_year)) if not leap
    )
    ranges = None if window.everything else len(window.ranges)
    params["start_key"] = window.start_key
    return _birthdays(ranges, feb29_moves), params


def _search_text(values: dict[str, Any]) -> str:
    return search_text(values.get("first_name"), values.get("last_name"), values.get("email"))


def _record(row: Any) -> ContactRecord:
    """The record of a row of `READ_COLUMNS`."""
    return ContactRecord(*row)


def _upsert(session: AsyncSession, table: type[Base]) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (PostgreSQL and SQLite alike)."""
    on_postgres = session.get_bind().dialect.name == "postgresql"
    return (postgresql if on_postgres else sqlite).insert(table)


_HELD_CHANGES = "contacts_kit.held_changes"
_CHANGED_OWNERS = "contacts_kit.changed_owners"


def changed_owners(session: AsyncSession) -> set[str]:
    """The owners whose books this session changed (took a change number for)."""
    owners: set[str] = session.info.get(_CHANGED_OWNERS, set())
    return owners


async def next_change(session: AsyncSession, owner_id: str) -> int:
    """The owner's next change number, or the one this transaction holds (`hold_change`).
    The counter row stays locked until the transaction ends, so the owner's writes commit
    in number order (see `ChangeLog`)."""
    session.info.setdefault(_CHANGED_OWNERS, set()).add(owner_id)
    held: dict[tuple[str, object], int] = session.info.get(_HELD_CHANGES, {})
    key = (owner_id, session.sync_session.get_transaction())
    if key in held:
        return held[key]
    stmt = (
        _upsert(session, ChangeLog)
        .values(owner_id=owner_id, seq=1, horizon=0)
        .on_conflict_do_update(index_elements=["owner_id"], set_={"seq": ChangeLog.seq + 1})
        .returning(ChangeLog.seq)
    )
    return int(await session.scalar(stmt))


async def hold_change(session: AsyncSession, owner_id: str) -> None:
    """Give every later write of this transaction to the owner's book one change number.
    They commit together, so the changes feed, which orders by (number, contact id), loses
    nothing; a batch saves a counter update per operation. Taken outside any savepoint: the
    counter's lock lasts until the commit, whatever is rolled back."""
    seq = await next_change(session, owner_id)
    # Keyed by the transaction too: a later transaction of the session takes its own.
    key = (owner_id, session.sync_session.get_transaction())
    session.info.setdefault(_HELD_CHANGES, {})[key] = seq


def _tag_order(name: str) -> tuple[str, str]:
    """The order a contact shows its tags in: by key, then as written."""
    return tag_key(name), name


def sorted_tags(names: Iterable[str]) -> list[str]:
    """Tag names in the order a contact shows them."""
    return sorted(names, key=_tag_order)


@dataclass(frozen=True, slots=True)
class StoredTag:
    """One of the owner's tags."""

    id: int
    name: str


def sorted_stored_tags(tags: dict[str, StoredTag]) -> list[StoredTag]:
    """Tags (by key) in the order a contact shows them."""
    return sorted(tags.values(), key=lambda tag: _tag_order(tag.name))


def _trashed(row: Any) -> TrashedRecord:
    """The record of a row of `READ_COLUMNS` and `deleted_at`."""
    return TrashedRecord(*row)


class ContactRepository:
    """Reads and writes `contacts_kit_contacts` for one owner.

    Built on the engine, each read takes a pooled connection for its one statement (no
    transaction, no ORM session); built on the request's session, reads and writes run in its
    transaction.
    """

    def __init__(self, source: AsyncSession | AsyncEngine, owner_id: str) -> None:
        self.source = source
        self.owner_id = owner_id

    async def _rows(
        self,
        statement: Executable,
        params: dict[str, Any],
        record: Callable[[Any], R],
    ) -> list[R]:
        if isinstance(self.source, AsyncSession):
            result = await self.source.execute(statement, params)
            return [record(row) for row in result]
        async with self.source.connect() as connection:
            result = await connection.execute(statement, params)
            return [record(row) for row in result]

    async def _row(self, statement: Executable, params: dict[str, Any]) -> ContactRecord | None:
        rows = await self._rows(statement, params, _record)
        return rows[0] if rows else None

    @property
    def _session(self) -> AsyncSession:
        if not isinstance(self.source, AsyncSession):
            raise TypeError("writes go through the request's session")
        return self.source

    async def add(self, values: dict[str, Any]) -> ContactRecord:
        """Insert a contact; the (owner, email) unique index decides on duplicates."""
        seq = await next_change(self._session, self.owner_id)
        stmt = (
            insert(Contact)
            .values(
                owner_id=self.owner_id,
                **values,
                search_text=_search_text(values),
                change_seq=seq,
            )
            .returning(*READ_COLUMNS)
        )
        try:
            result = await self._session.execute(stmt)
        except IntegrityError as exc:
            raise ContactEmailExists() from exc
        return _record(result.one())

    async def hold_change(self) -> None:
        """One change number for the rest of this transaction's writes (see `hold_change`)."""
        await hold_change(self._session, self.owner_id)

    def savepoint(self) -> AsyncSessionTransaction:
        """A SAVEPOINT in the request's transaction: what runs inside is undone, alone, when
        it raises."""
        return self._session.begin_nested()

    async def add_many(
        self, rows: Sequence[dict[str, Any]], tags: Sequence[Sequence[StoredTag]]
    ) -> list[ContactRecord]:
        """Insert contacts, `tags[i]` linked to the i-th, in few statements (multi-row
        `INSERT`s); the records in the order of `rows`. An email the book has already
        raises `ContactEmailExists` for the whole call."""
        seq = await next_change(self._session, self.owner_id)
        values = [
            {"owner_id": self.owner_id, **row, "search_text": _search_text(row), "change_seq": seq}
            for row in rows
        ]
        stmt = insert(Contact).returning(*READ_COLUMNS, sort_by_parameter_order=True)
        try:
            result = await self._session.execute(stmt, values)
        except IntegrityError as exc:
            raise ContactEmailExists() from exc
        records = [_record(row) for row in result]
        links = [
            {"contact_id": record.id, "tag_id": tag.id}
            for record, its_tags in zip(records, tags, strict=True)
            for tag in its_tags
        ]
        if links:
            await self._session.execute(insert(ContactTag), links)
        return records

    async def get(self, contact_id: int) -> ContactRecord | None:
        """The owner's contact with this id, if any."""
        return await self._row(_BY_ID, {"contact_id": contact_id, "owner_id": self.owner_id})

    async def search(self, filters: ContactFilters, limit: int, offset: int) -> list[ContactRecord]:
        """A page of the owner's contacts matching `filters`, by last name, first name, id."""
        return await self._rows(*search_query(self.owner_id, filters, limit, offset), _record)

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
        await hold_change(self._session, self.owner_id)
        statement = {"live": _BY_ID, "trash": _TRASHED_BY_ID, "any": _ANY_BY_ID}[where]
        params = {"contact_id": contact_id, "owner_id": self.owner_id}
        return await self._row(statement.with_for_update(), params)

    async def update(
        self,
        contact_id: int,
        version: int,
        values: dict[str, Any],
        conflict: ContactEmailExists | None = None,
    ) -> ContactRecord:
        """Write `values` into the contact read at `version` (locked by `get_for_update`) and
        bump its version; `search_text` follows the fields. An email taken by a live contact
        raises `conflict` (or the plain `ContactEmailExists`)."""
        seq = await next_change(self._session, self.owner_id)
        stmt = (
            update(Contact)
            .where(
                Contact.id == contact_id,
                Contact.owner_id == self.owner_id,
                Contact.version == version,
            )
            .values(**values, version=Contact.version + 1, change_seq=seq)
            .returning(*READ_COLUMNS)
        )
        try:
            result = await self._session.execute(stmt)
        except IntegrityError as exc:
            raise (conflict or ContactEmailExists()) from exc
        return _record(result.one())

    async def delete(self, contact_id: int, now: datetime) -> None:
        """Delete the owner's contact for good, live or in the trash; a tombstone tells the
        changes feed."""
        await bury(self._session, self.owner_id, [contact_id], now)

    async def changes(
        self, after: tuple[int, int], limit: int, *, first: bool
    ) -> tuple[int, int, list[tuple[int, int, ContactRecord | None]]]:
        """The owner's change counter and horizon, and up to `limit + 1` changes after the
        position `after` (change number, contact id) in write order: (number, id, the
        contact as it is now) or (number, id, None) for a contact in the trash or deleted for
        good. The `first` sync of a book leaves out the trash and the
        tombstones.

        Only changes numbered up to the counter read first are returned: each of those has
        committed (the owner's writes commit in number order), while a write committing
        during this read may be numbered above them and is left to the next one."""
        log = (
            await self._session.execute(
                select(ChangeLog.seq, ChangeLog.horizon).where(ChangeLog.owner_id == self.owner_id)
            )
        ).first()
        ceiling, horizon = (log[0], log[1]) if log else (0, 0)
        position = tuple_(*after)
        contacts = (
            select(*READ_COLUMNS, Contact.deleted_at, Contact.change_seq)
            .where(
                Contact.owner_id == self.owner_id,
                tuple_(Contact.change_seq, Contact.id) > position,
                Contact.change_seq <= ceiling,
            )
            .order_by(Contact.change_seq, Contact.id)
            .limit(limit + 1)
        )
        if first:
            contacts = contacts.where(_LIVE)
        found: list[tuple[int, int, ContactRecord | None]] = [
            (row[-1], row[0], _record(row[:-2]) if row[-2] is None else None)
            for row in await self._session.execute(contacts)
        ]
        if not first:
            tombstones = await self._session.execute(
                select(Tombstone.seq, Tombstone.contact_id)
                .where(
                    Tombstone.owner_id == self.owner_id,
                    tuple_(Tombstone.seq, Tombstone.contact_id) > position,
                    Tombstone.seq <= ceiling,
                )
                .order_by(Tombstone.seq, Tombstone.contact_id)
                .limit(limit + 1)
            )
            found.extend((seq, contact_id, None) for seq, contact_id in tombstones)
        found.sort(key=lambda change: (change[0], change[1]))
        return ceiling, horizon, found[: limit + 1]

    async def stream_live(self, chunk: int = 500) -> AsyncIterator[list[ContactRecord]]:
        """Every live contact of the owner by id, `chunk` at a time, through a server-side
        cursor: memory stays flat however large the book."""
        if isinstance(self.source, AsyncSession):
            raise TypeError("a stream takes a connection of its own: build on the engine")
        statement = select(*READ_COLUMNS).where(Contact.owner_id == self.owner_id, _LIVE)
        # A server-side cursor lives in a transaction (PostgreSQL): one snapshot, too.
        async with transactional(self.source).connect() as connection, connection.begin():
            result = await connection.stream(
                statement.order_by(Contact.id).execution_options(yield_per=chunk)
            )
            async for rows in result.partitions():
                yield [_record(row) for row in rows]

    async def ids_by_email(self, emails: Sequence[str], chunk: int = 1000) -> dict[str, int]:
        """The ids of the owner's live contacts with these (stored, lower-cased) emails."""
        found: dict[str, int] = {}
        for start in range(0, len(emails), chunk):
            rows = await self._session.execute(
                select(Contact.email, Contact.id).where(
                    Contact.owner_id == self.owner_id,
                    _LIVE,
                    Contact.email.in_(emails[start : start + chunk]),
                )
            )
            found.update((str(email), int(contact_id)) for email, contact_id in rows)
        return found

    async def with_birthdays(self) -> list[ContactRecord]:
        """The owner's live contacts that have a birthday, by id."""
        return await self._rows(_WITH_BIRTHDAYS, {"owner_id": self.owner_id}, _record)

    async def set_calendar_token(self, token_hash: str, now: datetime) -> None:
        """The owner's feed secret is now the one of `token_hash` (the old one dies)."""
        await self.drop_calendar_token()
        self._session.add(
            CalendarToken(owner_id=self.owner_id, token_hash=token_hash, created_at=now)
        )
        await self._session.flush()

    async def drop_calendar_token(self) -> None:
        """The owner has no feed secret any more."""
        await self._session.execute(
            delete(CalendarToken).where(CalendarToken.owner_id == self.owner_id)
        )

    async def trash(self, limit: int, offset: int) -> list[TrashedRecord]:
        """A page of the owner's trash, the most recently deleted first."""
        params = {"owner_id": self.owner_id, "limit": limit, "offset": offset}
        return await self._rows(_TRASH_PAGE, params, _trashed)

    async def upcoming_birthdays(
        self, window: BirthdayWindow, limit: int, offset: int
    ) -> list[ContactRecord]:
        """The owner's contacts whose next birthday is in `window`, soonest first.

        Filtering and ordering happen in SQL on the indexed `birthday_key`.
        """
        return await self._rows(*birthdays_query(self.owner_id, window, limit, offset), _record)

    # Tags. The link table is the truth for filters and counts; `Contact.tags` repeats the
    # names for the reads, and every method here that changes one changes the other.

    async def _tags_by_key(self, keys: Iterable[str]) -> dict[str, StoredTag]:
        result = await self._session.execute(
            select(Tag.name_key, Tag.id, Tag.name).where(
                Tag.owner_id == self.owner_id, Tag.name_key.in_(list(keys))
            )
        )
        return {key: StoredTag(tag_id, name) for key, tag_id, name in result}

    async def _tag_count(self) -> int:
        count = await self._session.scalar(
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
            await self._session.execute(
                _upsert(self._session, Tag)
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
            await self._session.execute(
                delete(ContactTag).where(ContactTag.contact_id == contact_id)
            )
        if tags:
            await self._session.execute(
                insert(ContactTag), [{"contact_id": contact_id, "tag_id": tag.id} for tag in tags]
            )

    async def tags(self, tag_id: int | None = None) -> list[TagRead]:
        """The owner's tags by name (or the one with `tag_id`), each with its count of live
        contacts."""
        live = and_(Contact.id == ContactTag.contact_id, Contact.deleted_at.is_(None))
        result = await self._session.execute(
            select(Tag.id, Tag.name, func.count(Contact.id), Tag.created_at)
            .select_from(Tag)
            .outerjoin(ContactTag, ContactTag.tag_id == Tag.id)
            .outerjoin(Contact, live)
            .where(Tag.owner_id == self.owner_id, *([Tag.id == tag_id] if tag_id else []))
            .group_by(Tag.id, Tag.name, Tag.name_key, Tag.created_at)
            .order_by(Tag.name_key, Tag.id)
        )
        return [
            TagRead(id=tag_id, name=name, contacts=count, created_at=created)
            for tag_id, name, count, created in result
        ]

    async def add_tag(self, name: str, limit: int, now: datetime) -> StoredTag:
        """A new tag; `TagExists` when one has its key, `TooManyTags` past `limit` (counted
        under the owner's change number, as `resolve_tags` does)."""
        await self.hold_change()
        if await self._tag_count() >= limit:
            raise TooManyTags()
        try:
            async with self._session.begin_nested():
                tag_id = await self._session.scalar(
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
        result = await self._session.execute(
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
            async with self._session.begin_nested():
                await self._session.execute(
                    update(Tag).where(Tag.id == tag.id).values(name=name, name_key=tag_key(name))
                )
        except IntegrityError as exc:
            raise TagExists() from exc
        await self._retag(tag, name, now)
        return StoredTag(tag.id, name)

    async def delete_tag(self, tag: StoredTag, now: datetime) -> None:
        """Delete a tag: it leaves every contact (in the trash too)."""
        await self._retag(tag, None, now)
        await self._session.execute(delete(Tag).where(Tag.id == tag.id))

    async def _retag(self, tag: StoredTag, new_name: str | None, now: datetime) -> None:
        """Rewrite the names of the contacts carrying `tag`: a new version of each."""
        carriers = await self._session.execute(
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
            seq = await next_change(self._session, self.owner_id)
            table = Contact.__table__
            assert isinstance(table, Table)
            await self._session.execute(
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


async def purge_trash(session: AsyncSession, before: datetime, batch: int, now: datetime) -> int:
    """Delete, for good, up to `batch` contacts of any owner that went to the trash before
    `before`; how many went. Small batches keep each transaction's locks short."""
    doomed = (
        select(Contact.id)
        .where(_TRASHED, Contact.deleted_at < before)
        .order_by(Contact.deleted_at)
        .limit(batch)
    )
    rows = (await session.execute(doomed.add_columns(Contact.owner_id))).all()
    owners: dict[str, list[int]] = {}
    for contact_id, owner_id in rows:
        owners.setdefault(owner_id, []).append(contact_id)
    for owner_id, ids in owners.items():
        await bury(session, owner_id, ids, now, trashed_only=True)
    return len(rows)


async def bury(
    session: AsyncSession,
    owner_id: str,
    contact_ids: list[int],
    now: datetime,
    *,
    trashed_only: bool = False,
) -> None:
    """Delete the owner's contacts for good (`trashed_only`: those still in the trash), with
    one tombstone each for the changes feed."""
    seq = await next_change(session, owner_id)
    condition = [Contact.id.in_(contact_ids), Contact.owner_id == owner_id]
    if trashed_only:
        condition.append(_TRASHED)
    deleted = await session.execute(delete(Contact).where(*condition).returning(Contact.id))
    gone = list(deleted.scalars())
    if gone:
        await session.execute(
            insert(Tombstone),
            [
                {"owner_id": owner_id, "seq": seq, "contact_id": contact_id, "deleted_at": now}
                for contact_id in gone
            ],
        )


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


async def calendar_owner(engine: AsyncEngine, token_hash: str) -> str | None:
    """The owner of a birthday feed secret, if it is a live one."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(CalendarToken.owner_id).where(CalendarToken.token_hash == token_hash)
        )
    return found


async def erase_book(session: AsyncSession, owner: str) -> dict[str, int]:
    """Delete every row of the owner's book (contacts, the trash, tags, the changes feed,
    the calendar secret), without a tombstone: the owner is gone. The rows deleted, per
    table."""
    links = ContactTag.contact_id.in_(
        select(Contact.id).where(Contact.owner_id == owner).scalar_subquery()
    )
    counts: dict[str, int] = {}
    for table, of_owner in (
        (ContactTag, links),
        (Contact, Contact.owner_id == owner),
        (Tag, Tag.owner_id == owner),
        (Tombstone, Tombstone.owner_id == owner),
        (ChangeLog, ChangeLog.owner_id == owner),
        (CalendarToken, CalendarToken.owner_id == owner),
    ):
        result = await session.execute(delete(table).where(of_owner).returning(literal(1)))
        counts[str(table.__tablename__)] = len(result.all())
    return counts
