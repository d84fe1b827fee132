"""Hook specifications: the markers and the hooks a plugin may implement, nothing else."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from contacts_kit.auth.schemas import UserRead
    from contacts_kit.backends.protocols import Cache, Mailer, Storage
    from contacts_kit.contact.schemas import ContactRead
    from contacts_kit.settings import Settings

PROJECT_NAME = "contacts_kit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def provide_cache(settings: Settings) -> Cache | None:
    """Return the cache backend for these settings, or None to let another plugin decide."""


@hookspec(firstresult=True)
def provide_mailer(settings: Settings) -> Mailer | None:
    """Return the mail backend for these settings, or None to let another plugin decide."""


@hookspec(firstresult=True)
def provide_storage(settings: Settings) -> Storage | None:
    """Return the file storage backend for these settings, or None to let another plugin decide."""


@hookspec
def on_user_registered(user: UserRead, settings: Settings) -> Any:
    """Called after a new account is committed; may return an awaitable."""


@hookspec
def on_contact_created(contact: ContactRead, owner_id: uuid.UUID, settings: Settings) -> Any:
    """Called after a new contact is committed; may return an awaitable."""
