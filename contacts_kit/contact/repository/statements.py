"""The statements of the contacts' reads and the records their rows become: built once per
shape, every value a bound parameter, shared by the read and the write repositories (and the
benchmark's floor)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from contacts_kit.contact.birthdays import FEB_28, FEB_29, BirthdayWindow
from contacts_kit.contact.models import (
    ChangeLog,
    Contact,
    ContactTag,
    DuplicateDismissal,
    Merge,
    Tag,
    Tombstone,
)
from contacts_kit.contact.phones import phone_digits
from contacts_kit.contact.schemas import NO_YEAR, ContactRecord, TrashedRecord
from contacts_kit.contact.schemas import Occasion as Occasion
from contacts_kit.contact.text import LIKE_ESCAPE, like_pattern, search_text, tag_key

Statement: TypeAlias = Select[*tuple[Any, ...]]
"""A read statement whose values are all bound parameters."""


class _Lists(FunctionElement[Any]):
    """A contact's JSON lists as one JSON array, so that a row costs the driver one JSON
    value to decode instead of six (the decoding of each is a Python call: on a page of
    full cards it was a tenth of the read)."""

    type = JSON()
    inherit_cache = True
    name = "contacts_kit_lists"


@compiles(_Lists, "postgresql")
def _lists_postgresql(element: _Lists, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_array({compiler.process(element.clause_expr.element, **kw)})"


@compiles(_Lists)
def _lists(element: _Lists, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores JSON as text: json() makes each a JSON value of the array, not a string.
    parts = (compiler.process(part, **kw) for part in element.clauses)
    return f"json_array({', '.join(f'json({part})' for part in parts)})"


# What every statement returns: plain rows, no ORM objects to build and track, each made a
# record by `record`.
READ_COLUMNS = (
    Contact.id,
    Contact.first_name,
    # Stored as '' when missing (see `Contact`), shown as null.
    func.nullif(Contact.last_name, "").label("last_name"),
    Contact.email,
    Contact.phone,
    Contact.nickname,
    Contact.organization,
    Contact.job_title,
    Contact.birthday,
    Contact.anniversary,
    Contact.notes,
    Contact.favorite,
    Contact.photo_url,
    Contact.version,
    Contact.created_at,
    Contact.updated_at,
    _Lists(
        Contact.emails, Contact.phones, Contact.addresses, Contact.urls, Contact.tags, Contact.extra
    ).label("lists"),
)

# Every read statement is built once per shape, with each value a bound parameter: a request
# only binds its values, and SQLAlchemy's compiled cache (and asyncpg's prepared statements)
# do the rest once per shape.
OWNER = bindparam("owner_id", type_=String())
LIMIT = bindparam("limit", type_=Integer())
OFFSET = bindparam("offset", type_=Integer())
CONTACT_ID = bindparam("contact_id", type_=BigInteger())
# Every read but the trash's sees live contacts only.
LIVE = Contact.deleted_at.is_(None)
TRASHED = Contact.deleted_at.is_not(None)
BY_ID = select(*READ_COLUMNS).where(Contact.id == CONTACT_ID, Contact.owner_id == OWNER, LIVE)
TRASHED_BY_ID = select(*READ_COLUMNS).where(
    Contact.id == CONTACT_ID, Contact.owner_id == OWNER, TRASHED
)
ANY_BY_ID = select(*READ_COLUMNS).where(Contact.id == CONTACT_ID, Contact.owner_id == OWNER)
WITH_BIRTHDAYS = (
    select(*READ_COLUMNS)
    .where(
        Contact.owner_id == OWNER,
        LIVE,
        or_(Contact.birthday.is_not(None), Contact.anniversary.is_not(None)),
    )
    .order_by(Contact.id)
)
_KEYS = {"birthday": Contact.birthday_key, "anniversary": Contact.anniversary_key}
TRASH_PAGE = (
    select(*READ_COLUMNS, Contact.deleted_at, Contact.merged_into)
    .where(Contact.owner_id == OWNER, TRASHED)
    .order_by(Contact.deleted_at.desc(), Contact.id.desc())
    .limit(LIMIT)
    .offset(OFFSET)
)
_PAGE = (
    select(*READ_COLUMNS)
    .where(Contact.owner_id == OWNER, LIVE)
    .order_by(Contact.last_name, Contact.first_name, Contact.id)
    .limit(LIMIT)
    .offset(OFFSET)
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
            Tag.owner_id == OWNER,
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
        .where(Contact.owner_id == OWNER, LIVE, *clauses)
        .order_by(last_name, Contact.first_name, Contact.id)
        .limit(LIMIT)
        .offset(OFFSET)
    )


def _in_key_order(window: BirthdayWindow) -> bool:
    """Whether sorting by `birthday_key` alone sorts this window by date."""
    if window.everything or len(window.ranges) != 1:
        return False
    low, high = window.ranges[0]
    return window.leap_this_year or not low <= FEB_29 <= high


@functools.cache
def _birthdays_in_key_order(occasion: Occasion) -> Statement:
    """One range, all of it this year, no 29 February to move: the index on (owner,
    birthday_key, last_name, first_name, id) returns the rows already in order (the
    anniversary's, for anniversaries)."""
    key = _KEYS[occasion]
    return (
        select(*READ_COLUMNS)
        .where(
            Contact.owner_id == OWNER,
            LIVE,
            key.between(bindparam("low_0", type_=Integer()), bindparam("high_0", type_=Integer())),
        )
        .order_by(key, Contact.last_name, Contact.first_name, Contact.id)
        .limit(LIMIT)
        .offset(OFFSET)
    )


@functools.cache
def _birthdays(ranges: int | None, feb29_moves: tuple[int, ...], occasion: Occasion) -> Statement:
    """Birthdays (or anniversaries) in `ranges` key intervals (None: the whole year), by
    next celebration.

    Keys below today's (`start_key`) are celebrated next year; in each year offset of
    `feb29_moves` (0 this year, 1 next) 29 February has no day and sorts with the 28th.
    """
    key = _KEYS[occasion]
    next_year = case((key < bindparam("start_key", type_=Integer()), 1), else_=0)
    feb29_elsewhere = [and_(next_year == offset, key == FEB_29) for offset in feb29_moves]
    day = case((or_(*feb29_elsewhere), FEB_28), else_=key) if feb29_elsewhere else key
    stmt = select(*READ_COLUMNS).where(Contact.owner_id == OWNER, LIVE)
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
        .limit(LIMIT)
        .offset(OFFSET)
    )


@dataclass(frozen=True, slots=True)
class ContactFilters:
    """Search of `GET /contacts`: each given field must match; `q` matches any name, email,
    phone (by its digits), the organisation or the nickname; `email` any of the emails."""

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


Where: TypeAlias = Literal["live", "trash", "any"]
"""Which contacts a by-id lookup sees: the live ones, those in the trash, or either."""


def _utc_text(column: Any) -> ColumnElement[str]:
    """A timestamp as the API writes it (pydantic's form): `YYYY-MM-DDTHH:MM:SSZ`, with
    `.ffffff` before the `Z` when it has microseconds."""
    utc = func.timezone("UTC", column)
    fraction = case(
        (func.date_trunc("second", column) == column, ""), else_=func.to_char(utc, ".US")
    )
    return func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS').concat(fraction).concat("Z")


def _day_text(column: Any) -> ColumnElement[str]:
    """A birthday or anniversary as the API writes it (`birthday_text`)."""
    no_year = func.extract("year", column) == NO_YEAR
    return case(
        (no_year, literal("--").concat(func.to_char(column, "MM-DD"))),
        else_=func.to_char(column, "YYYY-MM-DD"),
    )


_ROW_JSON = func.json_build_object(
    "id",
    Contact.id,
    "first_name",
    Contact.first_name,
    "last_name",
    func.nullif(Contact.last_name, ""),
    "email",
    Contact.email,
    "phone",
    Contact.phone,
    "emails",
    Contact.emails,
    "phones",
    Contact.phones,
    "addresses",
    Contact.addresses,
    "urls",
    Contact.urls,
    "nickname",
    Contact.nickname,
    "organization",
    Contact.organization,
    "job_title",
    Contact.job_title,
    "birthday",
    _day_text(Contact.birthday),
    "anniversary",
    _day_text(Contact.anniversary),
    "notes",
    Contact.notes,
    "favorite",
    Contact.favorite,
    "tags",
    Contact.tags,
    "photo_url",
    Contact.photo_url,
    "created_at",
    _utc_text(Contact.created_at),
    "updated_at",
    _utc_text(Contact.updated_at),
).cast(Text)
"""A contact as `ContactRead` shows it, written by PostgreSQL as JSON text: the same fields
and values as pydantic writes (its spacing aside), so a page's answer is its rows joined."""


@functools.cache
def as_json(statement: Statement, *more: Any) -> Statement:
    """`statement` (a read of `READ_COLUMNS`) giving each contact as its JSON text instead,
    and the columns of `more`: the same rows, order and page (PostgreSQL)."""
    return statement.with_only_columns(_ROW_JSON, *more)


Query: TypeAlias = tuple[Statement, dict[str, Any]]
"""A read statement and the values of its parameters."""


def by_id_query(owner_id: str, contact_id: int) -> Query:
    """The owner's contact with this id."""
    return BY_ID, {"contact_id": contact_id, "owner_id": owner_id}


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


def birthdays_query(
    owner_id: str,
    window: BirthdayWindow,
    limit: int,
    offset: int,
    occasion: Occasion = "birthday",
) -> Query:
    """A page of the owner's contacts whose next birthday (or anniversary) is in `window`,
    soonest first."""
    params: dict[str, Any] = {"owner_id": owner_id, "limit": limit, "offset": offset}
    for i, (low, high) in enumerate(window.ranges):
        params[f"low_{i}"], params[f"high_{i}"] = low, high
    if _in_key_order(window):
        return _birthdays_in_key_order(occasion), params
    feb29_moves = tuple(
        year for year, leap in ((0, window.leap_this_year), (1, window.leap_next_year)) if not leap
    )
    ranges = None if window.everything else len(window.ranges)
    params["start_key"] = window.start_key
    return _birthdays(ranges, feb29_moves, occasion), params


def search_text_of(values: dict[str, Any]) -> str:
    """The folded search column of a contact's column values (see `contact.text`)."""
    emails = [entry["value"] for entry in values.get("emails") or ()]
    others = [
        digits for entry in values.get("phones") or () for digits in phone_digits(entry["value"])
    ]
    others += [text for text in (values.get("organization"), values.get("nickname")) if text]
    return search_text(values.get("first_name"), values.get("last_name"), emails, others)


def _record_values(row: Any) -> Any:
    """The values of a `ContactRecord`, in its fields' order, from a row of
    `READ_COLUMNS` (its lists in one JSON value)."""
    (
        contact_id,
        first_name,
        last_name,
        email,
        phone,
        nickname,
        organization,
        job_title,
        birthday,
        anniversary,
        notes,
        favorite,
        photo_url,
        version,
        created_at,
        updated_at,
        (emails, phones, addresses, urls, tags, extra),
    ) = row
    return (
        contact_id,
        first_name,
        last_name,
        email,
        phone,
        emails,
        phones,
        addresses,
        urls,
        nickname,
        organization,
        job_title,
        birthday,
        anniversary,
        notes,
        favorite,
        tags,
        photo_url,
        version,
        extra,
        created_at,
        updated_at,
    )


def record(row: Any) -> ContactRecord:
    """The record of a row of `READ_COLUMNS`."""
    return ContactRecord(*_record_values(row))


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


def trashed_record(row: Any) -> TrashedRecord:
    """The record of a row of `READ_COLUMNS`, `deleted_at` and `merged_into`."""
    values: list[Any] = [*_record_values(row[:-2]), row[-2], row[-1]]
    return TrashedRecord(*values)


# The changes feed: the owner's counter, then the contacts and tombstones after a position
# (change number, contact id) up to the counter's value.
_AFTER = tuple_(
    bindparam("after_seq", type_=BigInteger()), bindparam("after_id", type_=BigInteger())
)
_CEILING = bindparam("ceiling", type_=BigInteger())
COUNTER = select(ChangeLog.seq, ChangeLog.horizon).where(ChangeLog.owner_id == OWNER)
TOMBSTONES = (
    select(Tombstone.seq, Tombstone.contact_id)
    .where(
        Tombstone.owner_id == OWNER,
        tuple_(Tombstone.seq, Tombstone.contact_id) > _AFTER,
        Tombstone.seq <= _CEILING,
    )
    .order_by(Tombstone.seq, Tombstone.contact_id)
    .limit(LIMIT)
)


@functools.cache
def changed_contacts(first: bool) -> Statement:
    """The owner's contacts changed after the position, with `deleted_at` and the change
    number; only the live ones on a `first` sync."""
    statement = (
        select(*READ_COLUMNS, Contact.deleted_at, Contact.change_seq)
        .where(
            Contact.owner_id == OWNER,
            tuple_(Contact.change_seq, Contact.id) > _AFTER,
            Contact.change_seq <= _CEILING,
        )
        .order_by(Contact.change_seq, Contact.id)
        .limit(LIMIT)
    )
    return statement.where(LIVE) if first else statement


# Duplicates: what the finder compares of every live contact (the folded search column
# holds the names, every email and every phone's digits: one text value, nothing to parse),
# and the dismissed groups.
DUPLICATE_CARDS = select(
    Contact.id, Contact.search_text, Contact.birthday, Contact.organization
).where(Contact.owner_id == OWNER, LIVE)
DISMISSED = select(DuplicateDismissal.ids).where(DuplicateDismissal.owner_id == OWNER)

# Merges: a page of the owner's, newest first, and the contacts merged away that still wait
# in the trash for an undo (whether each merge can be undone).
MERGES_PAGE = (
    select(
        Merge.id,
        Merge.contact_id,
        Merge.merged_ids,
        Merge.source,
        Merge.created_at,
        Merge.undone_at,
    )
    .where(Merge.owner_id == OWNER)
    .order_by(Merge.id.desc())
    .limit(LIMIT)
    .offset(OFFSET)
)
WAITING = select(Contact.id, Contact.merged_into).where(
    Contact.owner_id == OWNER, TRASHED, Contact.merged_into.is_not(None)
)


@functools.cache
def tags_statement(one: bool) -> Statement:
    """The owner's tags by name (or the one bound as `tag_id`), each with its count of live
    contacts."""
    live = and_(Contact.id == ContactTag.contact_id, Contact.deleted_at.is_(None))
    statement = (
        select(Tag.id, Tag.name, func.count(Contact.id), Tag.created_at)
        .select_from(Tag)
        .outerjoin(ContactTag, ContactTag.tag_id == Tag.id)
        .outerjoin(Contact, live)
        .where(Tag.owner_id == OWNER)
        .group_by(Tag.id, Tag.name, Tag.name_key, Tag.created_at)
        .order_by(Tag.name_key, Tag.id)
    )
    if one:
        statement = statement.where(Tag.id == bindparam("tag_id", type_=BigInteger()))
    return statement
