"""The reads of one owner's contacts: each one statement on one pooled connection of the
engine the read was given (the primary or a replica), no transaction, no ORM session, the
rows turned straight into records (`contacts_kit.db.rows`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.contact.birthdays import BirthdayWindow
from contacts_kit.contact.duplicates import Card
from contacts_kit.contact.models import CalendarToken, Contact
from contacts_kit.contact.repository.statements import (
    BY_ID,
    COUNTER,
    DISMISSED,
    DUPLICATE_CARDS,
    LIVE,
    MERGES_PAGE,
    READ_COLUMNS,
    TOMBSTONES,
    TRASH_PAGE,
    WAITING,
    WITH_BIRTHDAYS,
    ContactFilters,
    Occasion,
    as_json,
    birthdays_query,
    changed_contacts,
    record,
    search_query,
    tags_statement,
    trashed_record,
)
from contacts_kit.contact.schemas import (
    CONTACT_JSON,
    CONTACTS_JSON,
    ContactRecord,
    MergeRead,
    TagRead,
    TrashedRecord,
)
from contacts_kit.db.engine import transactional
from contacts_kit.db.rows import Rows

Change = tuple[int, int, ContactRecord | None]
"""A change of the feed: its number, the contact's id, the contact as it is now (None: in the
trash or deleted for good)."""


class ContactReads:
    """Reads of `owner_id`'s contacts on `engine`, each statement's rows fetched by `rows`."""

    def __init__(self, engine: AsyncEngine, rows: Rows, owner_id: str) -> None:
        self.engine = engine
        self.rows = rows
        self.owner_id = owner_id

    async def _fetch(self, statement: Any, params: dict[str, Any]) -> list[Any]:
        return await self.rows.fetch(self.engine, statement, params)

    async def get(self, contact_id: int) -> ContactRecord | None:
        """The owner's live contact with this id, if any."""
        found = await self._fetch(BY_ID, {"contact_id": contact_id, "owner_id": self.owner_id})
        return record(found[0]) if found else None

    async def get_json(self, contact_id: int) -> tuple[bytes, int] | None:
        """The owner's live contact as its answer's JSON (written by PostgreSQL, as
        `search_json` does), and its version; None when there is none."""
        params = {"contact_id": contact_id, "owner_id": self.owner_id}
        if self.engine.dialect.name != "postgresql":
            found = await self._fetch(BY_ID, params)
            if not found:
                return None
            shown = record(found[0])
            return CONTACT_JSON.dump_json(shown), shown.version
        found = await self._fetch(as_json(BY_ID, Contact.version), params)
        return (found[0][0].encode(), int(found[0][1])) if found else None

    async def search(self, filters: ContactFilters, limit: int, offset: int) -> list[ContactRecord]:
        """A page of the owner's contacts matching `filters`, by last name, first name, id."""
        found = await self._fetch(*search_query(self.owner_id, filters, limit, offset))
        return [record(row) for row in found]

    async def search_json(self, filters: ContactFilters, limit: int, offset: int) -> bytes:
        """The page `search` reads, as the list's answer: a JSON array of the contacts as
        `ContactRead` shows them. PostgreSQL writes each contact's JSON, so a cold page
        builds no record and serializes nothing here (a page of 20 full cards cost
        4.67 million instructions through records)."""
        statement, params = search_query(self.owner_id, filters, limit, offset)
        if self.engine.dialect.name != "postgresql":
            return CONTACTS_JSON.dump_json(
                [record(row) for row in await self._fetch(statement, params)]
            )
        found = await self._fetch(as_json(statement), params)
        return f"[{','.join(row[0] for row in found)}]".encode()

    async def upcoming_birthdays(
        self, window: BirthdayWindow, limit: int, offset: int, occasion: Occasion = "birthday"
    ) -> list[ContactRecord]:
        """The owner's contacts whose next birthday (or anniversary) is in `window`, soonest
        first (filtered and ordered in SQL on the indexed `birthday_key` or
        `anniversary_key`)."""
        query = birthdays_query(self.owner_id, window, limit, offset, occasion)
        found = await self._fetch(*query)
        return [record(row) for row in found]

    async def with_birthdays(self) -> list[ContactRecord]:
        """The owner's live contacts that have a birthday or an anniversary, by id."""
        return [
            record(row) for row in await self._fetch(WITH_BIRTHDAYS, {"owner_id": self.owner_id})
        ]

    async def trash(self, limit: int, offset: int) -> list[TrashedRecord]:
        """A page of the owner's trash, the most recently deleted first."""
        params = {"owner_id": self.owner_id, "limit": limit, "offset": offset}
        return [trashed_record(row) for row in await self._fetch(TRASH_PAGE, params)]

    async def duplicate_cards(self) -> list[Card]:
        """What the duplicates finder compares of each of the owner's live contacts."""
        found = await self._fetch(DUPLICATE_CARDS, {"owner_id": self.owner_id})
        return [
            Card.of_search_text(contact_id, text, birthday, organization)
            for contact_id, text, birthday, organization in found
        ]

    async def dismissed(self) -> list[frozenset[int]]:
        """The groups the owner dismissed, each as its ids."""
        found = await self._fetch(DISMISSED, {"owner_id": self.owner_id})
        return [frozenset(int(part) for part in ids.split(",")) for (ids,) in found]

    async def merges(self, limit: int, offset: int) -> list[MergeRead]:
        """A page of the owner's merges, the newest first, each saying whether its undo can
        still run (its contacts merged away wait in the trash, it was not undone)."""
        params = {"owner_id": self.owner_id, "limit": limit, "offset": offset}
        found = await self._fetch(MERGES_PAGE, params)
        waiting = dict(await self._fetch(WAITING, {"owner_id": self.owner_id})) if found else {}
        return [
            MergeRead(
                id=merge_id,
                contact_id=contact_id,
                merged_ids=merged_ids,
                source=source,
                created_at=created,
                undone_at=undone,
                undoable=undone is None
                and (source == "import" or all(waiting.get(i) == contact_id for i in merged_ids)),
            )
            for merge_id, contact_id, merged_ids, source, created, undone in found
        ]

    async def tags(self) -> list[TagRead]:
        """The owner's tags by name, each with its count of live contacts."""
        found = await self._fetch(tags_statement(False), {"owner_id": self.owner_id})
        return [
            TagRead(id=tag_id, name=name, contacts=count, created_at=created)
            for tag_id, name, count, created in found
        ]

    async def changes(
        self, after: tuple[int, int], limit: int, *, first: bool
    ) -> tuple[int, int, list[Change]]:
        """The owner's change counter and horizon, and up to `limit + 1` changes after the
        position `after` (change number, contact id) in write order. The `first` sync of a
        book leaves out the trash and the tombstones.

        Only changes numbered up to the counter read first are returned: each of those has
        committed (the owner's writes commit in number order), while a write committing
        during this read may be numbered above them and is left to the next one."""
        log = await self._fetch(COUNTER, {"owner_id": self.owner_id})
        ceiling, horizon = (int(log[0][0]), int(log[0][1])) if log else (0, 0)
        params = {
            "owner_id": self.owner_id,
            "after_seq": after[0],
            "after_id": after[1],
            "ceiling": ceiling,
            "limit": limit + 1,
        }
        found: list[Change] = [
            (row[-1], row[0], record(row[:-2]) if row[-2] is None else None)
            for row in await self._fetch(changed_contacts(first), params)
        ]
        if not first:
            tombstones = await self._fetch(TOMBSTONES, params)
            found.extend((seq, contact_id, None) for seq, contact_id in tombstones)
        found.sort(key=lambda change: (change[0], change[1]))
        return ceiling, horizon, found[: limit + 1]

    async def stream_live(
        self, chunk: int = 500, passes: int = 1
    ) -> AsyncIterator[tuple[int, list[ContactRecord]]]:
        """Every live contact of the owner by id, `chunk` at a time, through a server-side
        cursor: memory stays flat however large the book. (pass, chunk): with `passes`, the
        whole book again, from the same snapshot (an export that learns its columns first)."""
        statement = (
            select(*READ_COLUMNS)
            .where(Contact.owner_id == self.owner_id, LIVE)
            .order_by(Contact.id)
            .execution_options(yield_per=chunk)
        )
        async with transactional(self.engine).connect() as connection:
            if passes > 1 and connection.dialect.name == "postgresql":
                # Every pass reads what the first one read (SQLite's read transaction is
                # one snapshot already).
                await connection.execution_options(isolation_level="REPEATABLE READ")
            # A server-side cursor lives in a transaction (PostgreSQL): one snapshot, too.
            async with connection.begin():
                for number in range(passes):
                    result = await connection.stream(statement)
                    async for rows in result.partitions():
                        yield number, [record(row) for row in rows]


async def calendar_owner(engine: AsyncEngine, token_hash: str) -> str | None:
    """The owner of a birthday feed secret, if it is a live one."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(CalendarToken.owner_id).where(CalendarToken.token_hash == token_hash)
        )
    return found
