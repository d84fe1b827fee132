"""Reading one owner's address book: pages, search, upcoming birthdays, the trash, the
changes feed, tags, the export and the birthday feed. Every read runs on a connection of its
own (a replica's when one may serve the owner), never in the request's transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from contacts_kit.contact.birthdays import birthday_window, next_birthday
from contacts_kit.contact.calendar import birthday_calendar
from contacts_kit.contact.cards import VCardVersion, csv_header, csv_row, sheet_text, vcard
from contacts_kit.contact.duplicates import Group, find_groups
from contacts_kit.contact.errors import ContactNotFound, SyncTokenExpired
from contacts_kit.contact.repository import ContactFilters, ContactReads, Occasion
from contacts_kit.contact.schemas import (
    BirthdayRecord,
    ChangesPage,
    ContactRecord,
    MergeRead,
    TagRead,
    TrashedRecord,
)
from contacts_kit.contact.service import END_OF_CHANGE, ExportFormat, read_sync_token, sync_token
from contacts_kit.contact.sheets import Layout


class ContactQueries:
    """The reads of one owner's address book, through `contacts` (see `ContactReads`).

    Args:
        contacts: the owner's read repository.
        timezone: where "today" is, for birthdays.
        clock: the current time.
    """

    def __init__(
        self,
        contacts: ContactReads,
        *,
        timezone: ZoneInfo,
        clock: Callable[[], datetime],
    ) -> None:
        self.contacts = contacts
        self.timezone = timezone
        self.now = clock

    def today(self) -> date:
        """Today in the configured time zone."""
        return self.now().astimezone(self.timezone).date()

    async def get(self, contact_id: int) -> ContactRecord:
        """The contact, or `ContactNotFound` (also for another user's contact)."""
        contact = await self.contacts.get(contact_id)
        if contact is None:
            raise ContactNotFound()
        return contact

    async def get_json(self, contact_id: int) -> tuple[bytes, int]:
        """The contact as its answer's JSON, and its version; `ContactNotFound`."""
        found = await self.contacts.get_json(contact_id)
        if found is None:
            raise ContactNotFound()
        return found

    async def search(self, filters: ContactFilters, limit: int, offset: int) -> list[ContactRecord]:
        """A page of matching contacts."""
        return await self.contacts.search(filters, limit, offset)

    async def search_json(self, filters: ContactFilters, limit: int, offset: int) -> bytes:
        """A page of matching contacts, as the list answers it (JSON)."""
        return await self.contacts.search_json(filters, limit, offset)

    async def changes(self, since: str | None, limit: int) -> ChangesPage:
        """What changed after `since` (the whole book, page by page, without it)."""
        owner = self.contacts.owner_id
        after = (0, 0) if since is None else read_sync_token(since, owner)
        ceiling, horizon, found = await self.contacts.changes(after, limit, first=since is None)
        # Tombstones up to the horizon are gone: a client before it may miss deletions.
        if since is not None and horizon and after < (horizon, END_OF_CHANGE):
            raise SyncTokenExpired()
        page = found[:limit]
        has_more = len(found) > limit
        # The whole feed up to the counter was read: the next sync starts after all of it.
        last = page[-1] if has_more else (ceiling, END_OF_CHANGE, None)
        return ChangesPage(
            changed=[record for _, _, record in page if record is not None],
            deleted=[contact_id for _, contact_id, record in page if record is None],
            next=sync_token(owner, last[0], last[1]),
            has_more=has_more,
        )

    async def duplicates(self, limit: int, offset: int) -> tuple[list[Group], bool]:
        """A page of the groups of likely duplicates, the surest first (dismissed ones left
        out), and whether more follow. The whole book is compared, in a thread (the worker
        answers other requests meanwhile)."""
        cards = await self.contacts.duplicate_cards()
        dismissed = await self.contacts.dismissed()
        groups = await asyncio.to_thread(find_groups, cards, dismissed)
        return groups[offset : offset + limit], len(groups) > offset + limit

    async def merges(self, limit: int, offset: int) -> list[MergeRead]:
        """A page of the owner's merges, the newest first."""
        return await self.contacts.merges(limit, offset)

    async def tags(self) -> list[TagRead]:
        """Your tags by name, each with its count of live contacts."""
        return await self.contacts.tags()

    async def trash(self, limit: int, offset: int) -> list[TrashedRecord]:
        """A page of the trash, the most recently deleted first."""
        return await self.contacts.trash(limit, offset)

    async def export(self, kind: ExportFormat, version: VCardVersion) -> AsyncIterator[bytes]:
        """The whole book (the trash aside) as vCards or CSV, in chunks, read as it is sent.
        Google's and Outlook's CSV read the book twice from one snapshot: their columns
        depend on every contact (how many numbered ones, which kept ones)."""
        if kind in ("google-csv", "outlook-csv"):
            layout = Layout("google" if kind == "google-csv" else "outlook")
            header: list[str] = []
            async for number, records in self.contacts.stream_live(passes=2):
                if number == 0:
                    layout.learn(records)
                    continue
                if not header:
                    header = layout.header()
                    yield sheet_text([header]).encode()
                yield sheet_text([header, *layout.rows(records, header)], header=False).encode()
            if not header:
                yield sheet_text([layout.header()]).encode()
            return
        if kind == "csv":
            yield csv_header().encode()
        async for _, records in self.contacts.stream_live():
            if kind == "csv":
                yield "".join(csv_row(record) for record in records).encode()
            else:
                yield "".join(vcard(record, version) for record in records).encode()

    async def birthday_calendar(self) -> bytes:
        """The birthday feed: an iCalendar document of the contacts with a birthday."""
        return birthday_calendar(await self.contacts.with_birthdays())

    async def upcoming_birthdays(
        self, days: int, limit: int, offset: int, kind: Occasion | Literal["all"] = "birthday"
    ) -> list[BirthdayRecord]:
        """Contacts whose next birthday (or anniversary, or either: `kind`) is within `days`
        days from today, soonest first. With `all`, a contact with both in the window is
        listed once for each."""
        today = self.today()
        window = birthday_window(today, days)
        found: list[BirthdayRecord] = []
        occasions: tuple[Occasion, ...] = ("birthday", "anniversary") if kind == "all" else (kind,)
        # Both kinds: each kind's first offset + limit, merged, then the page cut from them.
        first, size = (0, offset + limit) if kind == "all" else (offset, limit)
        for occasion in occasions:
            rows = await self.contacts.upcoming_birthdays(window, size, first, occasion)
            for row in rows:
                day = row.birthday if occasion == "birthday" else row.anniversary
                if day is not None:  # always: the window's SQL has no other rows
                    found.append(BirthdayRecord.of(row, next_birthday(day, today), occasion))
        if kind != "all":
            return found
        found.sort(key=lambda r: (r.next_date, r.last_name or "", r.first_name, r.id, r.occasion))
        return found[offset : offset + limit]
