"""SQL of contacts. Every query is scoped to one owner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    and_,
    bindparam,
    case,
    delete,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.types import Uuid

from contacts_kit.contact.birthdays import FEB_28, FEB_29, BirthdayWindow
from contacts_kit.contact.models import Contact
from contacts_kit.errors import ContactEmailExists

_LIKE_ESCAPE = "\\"

ContactRow: TypeAlias = Row[*tuple[Any, ...]]
"""A contact as read: a plain row of `READ_COLUMNS`."""

# What reads return: plain rows of these columns, no ORM objects to build and track.
READ_COLUMNS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.email,
    Contact.phone,
    Contact.birthday,
    Contact.notes,
    Contact.version,
    Contact.created_at,
    Contact.updated_at,
)


def _contains(column: Any, needle: str) -> ColumnElement[bool]:
    """Case-insensitive substring match where `%` and `_` are ordinary characters."""
    escaped = needle.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape=_LIKE_ESCAPE)
    return result


# Built once: a request only binds its values (and hits SQLAlchemy's compiled cache).
_OWNER = bindparam("owner_id", type_=Uuid())
_BY_ID = select(*READ_COLUMNS).where(
    Contact.id == bindparam("contact_id", type_=BigInteger()), Contact.owner_id == _OWNER
)
_PAGE = (
    select(*READ_COLUMNS)
    .where(Contact.owner_id == _OWNER)
    .order_by(Contact.last_name, Contact.first_name, Contact.id)
    .limit(bindparam("limit", type_=Integer()))
    .offset(bindparam("offset", type_=Integer()))
)

# A search orders by the same keys, but through an expression (`|| ''` changes no value and
# no collation) that the (owner, name) index cannot serve: otherwise PostgreSQL may walk the
# whole book in name order, filtering, when the matches sit late in the alphabet, instead of
# collecting them through the trigram index.
_SEARCH_PAGE = (
    select(*READ_COLUMNS)
    .where(Contact.owner_id == _OWNER)
    .order_by(Contact.last_name.concat(""), Contact.first_name, Contact.id)
    .limit(bindparam("limit", type_=Integer()))
    .offset(bindparam("offset", type_=Integer()))
)


def _in_key_order(window: BirthdayWindow) -> bool:
    """Whether sorting by `birthday_key` alone sorts this window by date."""
    if window.everything or len(window.ranges) != 1:
        return False
    low, high = window.ranges[0]
    return window.leap_this_year or not low <= FEB_29 <= high


@dataclass(frozen=True, slots=True)
class ContactFilters:
    """Search of `GET /contacts`: each given field must match; `q` matches any name or email."""

    q: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses of these filters.

        A match in one field is also a match in `search_text` (all fields joined), so each
        filter adds that indexed condition too: the trigram index finds the candidates.
        """
        clauses = []
        if self.q:
            clauses.append(_contains(Contact.search_text, self.q))
        for column, value in (
            (Contact.first_name, self.first_name),
            (Contact.last_name, self.last_name),
            (Contact.email, self.email),
        ):
            if value:
                clauses.append(_contains(Contact.search_text, value))
                clauses.append(_contains(column, value))
        return clauses


class ContactRepository:
    """Reads and writes `contacts_kit_contacts` for one owner.

    Reads work on a session or on a plain connection (no ORM machinery); writes need the
    request's session.
    """

    def __init__(self, session: AsyncSession | AsyncConnection, owner_id: uuid.UUID) -> None:
        self.session = session
        self.owner_id = owner_id

    @property
    def _orm(self) -> AsyncSession:
        assert isinstance(self.session, AsyncSession), "writes go through the request's session"
        return self.session

    async def add(self, values: dict[str, Any]) -> Contact:
        """Insert a contact; the (owner, email) unique index decides on duplicates."""
        contact = Contact(owner_id=self.owner_id, **values)
        self._orm.add(contact)
        try:
            await self._orm.flush()
        except IntegrityError as exc:
            raise ContactEmailExists() from exc
        return contact

    async def get(self, contact_id: int) -> ContactRow | None:
        """The owner's contact with this id, if any."""
        result = await self.session.execute(
            select(*READ_COLUMNS).where(Contact.id == contact_id, Contact.owner_id == self.owner_id)
        )
        return result.one_or_none()

    async def search(
        self, filters: ContactFilters, limit: int, offset: int
    ) -> Sequence[ContactRow]:
        """A page of the owner's contacts matching `filters`, by last name, first name, id."""
        clauses = filters.clauses()
        stmt = _SEARCH_PAGE.where(*clauses) if clauses else _PAGE
        params = {"owner_id": self.owner_id, "limit": limit, "offset": offset}
        return (await self.session.execute(stmt, params)).all()

    async def update(
        self, contact_id: int, values: dict[str, Any], if_versions: Sequence[int] | None
    ) -> Contact | None:
        """Change a contact in one statement, only if its version is one of `if_versions`.

        None when no row matched (missing, another owner's, or a stale version).
        """
        conditions = [Contact.id == contact_id, Contact.owner_id == self.owner_id]
        if if_versions is not None:
            conditions.append(Contact.version.in_(if_versions) if if_versions else false())
        stmt = (
            update(Contact)
            .where(*conditions)
            .values(**values, version=Contact.version + 1)
            .returning(Contact)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        try:
            result = await self._orm.execute(stmt)
        except IntegrityError as exc:
            raise ContactEmailExists() from exc
        return result.scalar_one_or_none()

    async def delete(self, contact_id: int, if_versions: Sequence[int] | None) -> bool:
        """Delete a contact (only at one of `if_versions` when given); False if none matched."""
        conditions = [Contact.id == contact_id, Contact.owner_id == self.owner_id]
        if if_versions is not None:
            conditions.append(Contact.version.in_(if_versions) if if_versions else false())
        result = await self._orm.execute(delete(Contact).where(*conditions).returning(Contact.id))
        return result.first() is not None

    async def upcoming_birthdays(
        self, window: BirthdayWindow, limit: int, offset: int
    ) -> Sequence[ContactRow]:
        """The owner's contacts whose next birthday is in `window`, soonest first.

        Filtering and ordering happen in SQL on the indexed `birthday_key`.
        """
        key = Contact.birthday_key
        if _in_key_order(window):
            # One range, all of it this year, no 29 February to move: the index on (owner,
            # birthday_key, last_name, first_name, id) returns the rows already in order.
            low, high = window.ranges[0]
            fast = (
                select(*READ_COLUMNS)
                .where(Contact.owner_id == self.owner_id, key.between(low, high))
                .order_by(key, Contact.last_name, Contact.first_name, Contact.id)
                .limit(limit)
                .offset(offset)
            )
            return (await self.session.execute(fast)).all()
        next_year = case((key < window.start_key, 1), else_=0)
        # 29 February sorts with the 28th in the year (this or next) that has no 29th.
        feb29_elsewhere = [
            and_(next_year == year_offset, key == FEB_29)
            for year_offset, leap in ((0, window.leap_this_year), (1, window.leap_next_year))
            if not leap
        ]
        day = case((or_(*feb29_elsewhere), FEB_28), else_=key) if feb29_elsewhere else key
        stmt = select(*READ_COLUMNS).where(Contact.owner_id == self.owner_id)
        if not window.everything:
            stmt = stmt.where(or_(*(key.between(low, high) for low, high in window.ranges)))
        stmt = (
            stmt.order_by(next_year, day, Contact.last_name, Contact.first_name, Contact.id)
            .limit(limit)
            .offset(offset)
        )
        return (await self.session.execute(stmt)).all()
