"""SQL of contacts. Every query is scoped to one owner; every row leaves as a `ContactRecord`."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Executable,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import Select
from sqlalchemy.types import Uuid

from contacts_kit.contact.birthdays import FEB_28, FEB_29, BirthdayWindow
from contacts_kit.contact.errors import ContactEmailExists
from contacts_kit.contact.models import Contact
from contacts_kit.contact.schemas import ContactRecord, TrashedRecord
from contacts_kit.contact.text import LIKE_ESCAPE, like_pattern, search_text

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
    Contact.version,
    Contact.created_at,
    Contact.updated_at,
)

# Every read statement is built once per shape, with each value a bound parameter: a request
# only binds its values, and SQLAlchemy's compiled cache (and asyncpg's prepared statements)
# do the rest once per shape.
_OWNER = bindparam("owner_id", type_=Uuid())
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


@functools.cache
def _search_page(filtered: tuple[str, ...], favorite: bool = False) -> Statement:
    """The page of a search on the `filtered` fields (`q` and/or field names), of favourites
    only (or not) when `favorite` (a bound `favorite` value) is asked.

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


def by_id_query(owner_id: uuid.UUID, contact_id: int) -> Query:
    """The owner's contact with this id."""
    return _BY_ID, {"contact_id": contact_id, "owner_id": owner_id}


def search_query(owner_id: uuid.UUID, filters: ContactFilters, limit: int, offset: int) -> Query:
    """A page of the owner's contacts matching `filters`."""
    patterns = filters.patterns()
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit, "offset": offset, **patterns}
    if filters.favorite is None:
        return (_search_page(tuple(patterns)) if patterns else _PAGE), params
    return _search_page(tuple(patterns), favorite=True), params | {"favorite": filters.favorite}


def birthdays_query(owner_id: uuid.UUID, window: BirthdayWindow, limit: int, offset: int) -> Query:
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


def _trashed(row: Any) -> TrashedRecord:
    """The record of a row of `READ_COLUMNS` and `deleted_at`."""
    return TrashedRecord(*row)


class ContactRepository:
    """Reads and writes `contacts_kit_contacts` for one owner.

    Built on the engine, each read takes a pooled connection for its one statement (no
    transaction, no ORM session); built on the request's session, reads and writes run in its
    transaction.
    """

    def __init__(self, source: AsyncSession | AsyncEngine, owner_id: uuid.UUID) -> None:
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
        stmt = (
            insert(Contact)
            .values(owner_id=self.owner_id, **values, search_text=_search_text(values))
            .returning(*READ_COLUMNS)
        )
        try:
            result = await self._session.execute(stmt)
        except IntegrityError as exc:
            raise ContactEmailExists() from exc
        return _record(result.one())

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
        ends (PostgreSQL; SQLite has one writer at a time anyway)."""
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
        stmt = (
            update(Contact)
            .where(
                Contact.id == contact_id,
                Contact.owner_id == self.owner_id,
                Contact.version == version,
            )
            .values(**values, version=Contact.version + 1)
            .returning(*READ_COLUMNS)
        )
        try:
            result = await self._session.execute(stmt)
        except IntegrityError as exc:
            raise (conflict or ContactEmailExists()) from exc
        return _record(result.one())

    async def delete(self, contact_id: int) -> None:
        """Delete the owner's contact for good, live or in the trash."""
        await self._session.execute(
            delete(Contact).where(Contact.id == contact_id, Contact.owner_id == self.owner_id)
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


async def purge_trash(session: AsyncSession, before: datetime, batch: int) -> int:
    """Delete, for good, up to `batch` contacts of any owner that went to the trash before
    `before`; how many went. Small batches keep each transaction's locks short."""
    doomed = (
        select(Contact.id)
        .where(_TRASHED, Contact.deleted_at < before)
        .order_by(Contact.deleted_at)
        .limit(batch)
    )
    ids = list((await session.execute(doomed)).scalars())
    if ids:
        await session.execute(delete(Contact).where(Contact.id.in_(ids), _TRASHED))
    return len(ids)
