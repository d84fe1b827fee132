"""Address book logic: one owner's contacts, optimistic concurrency, birthdays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contacts_kit.contact.birthdays import birthday_key, birthday_window, next_birthday
from contacts_kit.contact.errors import ContactNotFound, PreconditionFailed
from contacts_kit.contact.phones import InvalidPhoneNumber, normalize_phone
from contacts_kit.contact.repository import ContactFilters, ContactRepository
from contacts_kit.contact.schemas import (
    BirthdayRecord,
    ContactCreate,
    ContactRecord,
    ContactUpdate,
)
from contacts_kit.errors import InvalidField


def etag(version: int) -> str:
    """The strong entity tag of a contact's version."""
    return f'"{version}"'


def parse_if_match(header: str | None) -> list[int] | None:
    """The versions an `If-Match` header accepts; None when absent or `*` (any version)."""
    if header is None or header.strip() == "*":
        return None
    versions = []
    for tag in header.split(","):
        tag = tag.strip()
        # If-Match uses the strong comparison: weak tags never match.
        if tag.startswith('"') and tag.endswith('"') and tag[1:-1].isdigit():
            versions.append(int(tag[1:-1]))
    return versions


class ContactService:
    """One user's address book, through a repository on the request's session (reads and
    writes) or on the engine (reads only)."""

    def __init__(
        self,
        contacts: ContactRepository,
        *,
        phone_region: str,
        timezone: ZoneInfo,
        clock: Callable[[], datetime],
    ) -> None:
        self.contacts = contacts
        self.phone_region = phone_region
        self.timezone = timezone
        self.now = clock

    def today(self) -> date:
        """Today in the configured time zone."""
        return self.now().astimezone(self.timezone).date()

    def _values(self, data: dict[str, Any]) -> dict[str, Any]:
        values = dict(data)
        if "phone" in values:
            try:
                values["phone"] = normalize_phone(values["phone"], self.phone_region)
            except InvalidPhoneNumber as exc:
                raise InvalidField("phone", str(exc), data["phone"]) from exc
        if "birthday" in values:
            values["birthday_key"] = birthday_key(values["birthday"])
        return values

    async def create(self, data: ContactCreate) -> ContactRecord:
        """Add a contact; `ContactEmailExists` when the email is already in the book."""
        now = self.now()
        values = self._values(data.model_dump()) | {"created_at": now, "updated_at": now}
        return await self.contacts.add(values)

    async def get(self, contact_id: int) -> ContactRecord:
        """The contact, or `ContactNotFound` (also for another user's contact)."""
        contact = await self.contacts.get(contact_id)
        if contact is None:
            raise ContactNotFound()
        return contact

    async def search(self, filters: ContactFilters, limit: int, offset: int) -> list[ContactRecord]:
        """A page of matching contacts."""
        return await self.contacts.search(filters, limit, offset)

    async def replace(
        self, contact_id: int, data: ContactCreate, if_match: str | None
    ) -> ContactRecord:
        """Full replacement (`PUT`)."""
        return await self._update(contact_id, data.model_dump(), if_match)

    async def patch(
        self, contact_id: int, data: ContactUpdate, if_match: str | None
    ) -> ContactRecord:
        """Partial change (`PATCH`): only the fields that were sent."""
        return await self._update(contact_id, data.model_dump(exclude_unset=True), if_match)

    async def _update(
        self, contact_id: int, data: dict[str, Any], if_match: str | None
    ) -> ContactRecord:
        values = self._values(data) | {"updated_at": self.now()}
        contact = await self.contacts.update(contact_id, values, parse_if_match(if_match))
        if contact is None:
            raise await self._missing_or_stale(contact_id)
        return contact

    async def delete(self, contact_id: int, if_match: str | None) -> None:
        """Delete the contact (only at the `If-Match` version when one is given)."""
        if not await self.contacts.delete(contact_id, parse_if_match(if_match)):
            raise await self._missing_or_stale(contact_id)

    async def _missing_or_stale(self, contact_id: int) -> ContactNotFound | PreconditionFailed:
        if await self.contacts.get(contact_id) is None:
            return ContactNotFound()
        return PreconditionFailed()

    async def upcoming_birthdays(self, days: int, limit: int, offset: int) -> list[BirthdayRecord]:
        """Contacts whose next birthday is within `days` days from today, soonest first."""
        today = self.today()
        window = birthday_window(today, days)
        rows = await self.contacts.upcoming_birthdays(window, limit, offset)
        return [
            BirthdayRecord(
                row.id,
                row.first_name,
                row.last_name,
                row.email,
                row.phone,
                row.birthday,
                row.notes,
                row.version,
                row.created_at,
                row.updated_at,
                next_birthday(row.birthday, today),
            )
            for row in rows
        ]
