"""Event hooks, called one plugin at a time: a failing plugin is logged with its name and the
others still run. `Events` has one typed method per `on_*` hook, so mypy checks every call."""

from __future__ import annotations

import inspect
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import pluggy

from contacts_kit.backends.protocols import Cache, Mailer, MailMessage, Storage
from contacts_kit.contact.schemas import ContactRead
from contacts_kit.mail import deliver
from contacts_kit.settings import Settings
from contacts_kit.users.schemas import UserRead

logger = logging.getLogger("contacts_kit.events")


@dataclass(frozen=True)
class HookContext:
    """What an event hook receives besides the event: the kit's settings and backends."""

    settings: Settings
    cache: Cache
    mailer: Mailer
    storage: Storage

    async def send_mail(self, message: MailMessage) -> bool:
        """Send through the kit's mailer; a failure is logged and reported as False."""
        return await deliver(self.mailer, message)


class Events:
    """Calls the `on_*` hooks of a plugin manager, each implementation on its own."""

    def __init__(self, plugin_manager: pluggy.PluginManager, context: HookContext) -> None:
        self.hook = plugin_manager.hook
        self.context = context

    async def user_registered(self, user: UserRead) -> None:
        """`on_user_registered`."""
        await self._emit(self.hook.on_user_registered, user=user)

    async def user_verified(self, user: UserRead) -> None:
        """`on_user_verified`."""
        await self._emit(self.hook.on_user_verified, user=user)

    async def password_changed(self, user: UserRead, *, reset: bool) -> None:
        """`on_password_changed`."""
        await self._emit(self.hook.on_password_changed, user=user, reset=reset)

    async def user_deleted(self, user: UserRead) -> None:
        """`on_user_deleted`."""
        await self._emit(self.hook.on_user_deleted, user=user)

    async def contact_created(self, contact: ContactRead, owner_id: uuid.UUID) -> None:
        """`on_contact_created`."""
        await self._emit(self.hook.on_contact_created, contact=contact, owner_id=owner_id)

    async def contact_updated(self, contact: ContactRead, owner_id: uuid.UUID) -> None:
        """`on_contact_updated`."""
        await self._emit(self.hook.on_contact_updated, contact=contact, owner_id=owner_id)

    async def contact_deleted(
        self, contact_id: int, owner_id: uuid.UUID, *, permanent: bool = False
    ) -> None:
        """`on_contact_deleted`."""
        await self._emit(
            self.hook.on_contact_deleted,
            contact_id=contact_id,
            owner_id=owner_id,
            permanent=permanent,
        )

    async def contact_restored(self, contact: ContactRead, owner_id: uuid.UUID) -> None:
        """`on_contact_restored`."""
        await self._emit(self.hook.on_contact_restored, contact=contact, owner_id=owner_id)

    async def _emit(self, caller: pluggy.HookCaller, **event: Any) -> None:
        arguments = {**event, "context": self.context}
        # pluggy's own call stops at the first implementation that raises and leaves the
        # coroutines of the others un-awaited; here each one runs whatever the others do.
        for impl in reversed(caller.get_hookimpls()):
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                result = impl.function(*(arguments[name] for name in impl.argnames))
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("plugin %s failed in %s", _describe(impl.plugin), caller.name)


def _describe(plugin: object) -> str:
    """A plugin's name for the log: its module, or its class for a plugin object."""
    if inspect.ismodule(plugin):
        return plugin.__name__
    kind = type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"
