"""The contacts module's event hooks: `on_contact_*`, with the owner id as the host gave it."""

from __future__ import annotations

from contacts_kit.contact.owner import OwnerId
from contacts_kit.contact.schemas import ContactRead
from contacts_kit.events import Events


class ContactEvents(Events):
    """One typed method per `on_contact_*` hook."""

    async def contact_created(self, contact: ContactRead, owner_id: OwnerId) -> None:
        """`on_contact_created`."""
        await self.emit(self.hook.on_contact_created, contact=contact, owner_id=owner_id)

    async def contact_updated(self, contact: ContactRead, owner_id: OwnerId) -> None:
        """`on_contact_updated`."""
        await self.emit(self.hook.on_contact_updated, contact=contact, owner_id=owner_id)

    async def contact_deleted(
        self, contact_id: int, owner_id: OwnerId, *, permanent: bool = False
    ) -> None:
        """`on_contact_deleted`."""
        await self.emit(
            self.hook.on_contact_deleted,
            contact_id=contact_id,
            owner_id=owner_id,
            permanent=permanent,
        )

    async def contact_restored(self, contact: ContactRead, owner_id: OwnerId) -> None:
        """`on_contact_restored`."""
        await self.emit(self.hook.on_contact_restored, contact=contact, owner_id=owner_id)
