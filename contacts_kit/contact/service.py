"""Address book logic: one owner's contacts, optimistic concurrency, birthdays."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.contact.birthdays import birthday_key, birthday_window, next_birthday
from contacts_kit.contact.models import Contact
from contacts_kit.contact.phones import InvalidPhoneNumber, normalize_phone
from contacts_kit.contact.repository import ContactFilters, ContactRepository, ContactRow
from contacts_kit.contact.schemas import (
    ContactCreate,
    ContactUpdate,
)
from contacts_kit.errors import ContactNotFound, PreconditionFailed

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit


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
    """One user's address book, inside the request's transaction."""

    def __init__(
        self, kit: ContactsKit, owner_id: uuid.UUID, session: AsyncSession | None = None
    ) -> None:
        """With a `session`, inside the request's transaction; without, reads only, each in a
        session of its own without a transaction."""
        self.kit = kit
        self.owner_id = owner_id
        self.session = session

    @property
    def contacts(self) -> ContactRepository:
        """The repository of the request's transaction."""
        assert self.session is not None, "writes need the request's session"
        return ContactRepository(self.session, self.owner_id)

    @property
    def _reads(self) -> ContactRepository:
        # Without the request's session, reads use the read pool: one SELECT needs neither a
        # transaction nor the ORM session.
        return ContactRepository(self.session or self.kit.read_pool, self.owner_id)

    def today(self) -> date:
        """Today in the configured time zone."""
        return self.kit.now().astimezone(ZoneInfo(self.kit.settings.timezone)).date()

    def _values(self, data: dict[str, Any]) -> dict[str, Any]:
        values = dict(data)
        if "phone" in values:
            try:
                values["phone"] = normalize_phone(
                    values["phone"], self.kit.settings.phone_default_region
                )
            except InvalidPhoneNumber as exc:
                raise RequestValidationError(
                    [
                        {
                            "type": "value_error",
                            "loc": ("body", "phone"),
                            "msg": str(exc),
                            "input": data["phone"],
                        }
                    ]
                ) from exc
        if "birthday" in values:
            values["birthday_key"] = birthday_key(values["birthday"])
        return values

    async def create(self, data: ContactCreate) -> Contact:
        """Add a contact; `ContactEmailExists` when the email is already in the book."""
        now = self.kit.now()
        values = self._values(data.model_dump()) | {"created_at": now, "updated_at": now}
        return await self.contacts.add(values)

    async def get(self, contact_id: int) -> ContactRow:
        """The contact, or `ContactNotFound` (also for another user's contact)."""
        contact = await self._reads.get(contact_id)
        if contact is None:
            raise ContactNotFound()
        return contact

    async def search(
        self, filters: ContactFilters, limit: int, offset: int
    ) -> Sequence[ContactRow]:
        """A page of matching contacts."""
        return await self._reads.search(filters, limit, offset)

    async def replace(self, contact_id: int, data: ContactCreate, if_match: str | None) -> Contact:
        """Full replacement (`PUT`)."""
        return await self._update(contact_id, data.model_dump(), if_match)

    async def patch(self, contact_id: int, data: ContactUpdate, if_match: str | None) -> Contact:
        """Partial change (`PATCH`): only the fields that were sent."""
        return await self._update(contact_id, data.model_dump(exclude_unset=True), if_match)

    async def _update(self, contact_id: int, data: dict[str, Any], if_match: str | None) -> Contact:
        values = self._values(data) | {"updated_at": self.kit.now()}
        versions = parse_if_match(if_match)
        contact = await self.contacts.update(contact_id, values, versions)
        if contact is None:
            await self._raise_missing_or_stale(contact_id)
        assert contact is not None
        return contact

    async def delete(self, contact_id: int, if_match: str | None) -> None:
        """Delete the contact (only at the `If-Match` version when one is given)."""
        if not await self.contacts.delete(contact_id, parse_if_match(if_match)):
            await self._raise_missing_or_stale(contact_id)

    async def _raise_missing_or_stale(self, contact_id: int) -> None:
        if await self.contacts.get(contact_id) is None:
            raise ContactNotFound()
        raise PreconditionFailed()

    async def upcoming_birthdays(self, days: int, limit: int, offset: int) -> list[dict[str, Any]]:
        """Contacts whose next birthday is within `days` days from today, soonest first: rows
        with the fields of `ContactBirthday`."""
        today = self.today()
        window = birthday_window(today, days)
        rows = await self._reads.upcoming_birthdays(window, limit, offset)
        return [_with_next_birthday(row, today) for row in rows]


def _with_next_birthday(contact: ContactRow, today: date) -> dict[str, Any]:
    return {**contact, "next_birthday": next_birthday(contact["birthday"], today)}
