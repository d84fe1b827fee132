"""The accounts module's event hooks: `on_user_*` and `on_password_changed`."""

from __future__ import annotations

from contacts_kit.events import Events
from contacts_kit.users.schemas import UserRead


class AccountEvents(Events):
    """One typed method per account hook."""

    async def user_registered(self, user: UserRead) -> None:
        """`on_user_registered`."""
        await self.emit(self.hook.on_user_registered, user=user)

    async def user_verified(self, user: UserRead) -> None:
        """`on_user_verified`."""
        await self.emit(self.hook.on_user_verified, user=user)

    async def password_changed(self, user: UserRead, *, reset: bool) -> None:
        """`on_password_changed`."""
        await self.emit(self.hook.on_password_changed, user=user, reset=reset)

    async def user_deleted(self, user: UserRead) -> None:
        """`on_user_deleted`."""
        await self.emit(self.hook.on_user_deleted, user=user)
