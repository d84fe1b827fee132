"""Hook specifications: the markers and the hooks a plugin may implement, nothing else.

Every hook is called with keyword arguments; an implementation may take any subset of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from contacts_kit.backends.protocols import Cache, Mailer, RateLimitStore, Storage
    from contacts_kit.backends.redis_client import RedisClient
    from contacts_kit.contact.owner import OwnerId
    from contacts_kit.contact.schemas import ContactRead
    from contacts_kit.events import HookContext
    from contacts_kit.settings import Settings
    from contacts_kit.users.schemas import UserRead

PROJECT_NAME = "contacts_kit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec(firstresult=True)
def provide_cache(settings: Settings, redis: RedisClient | None) -> Cache | None:
    """Return the cache backend, or None to let another plugin decide. `redis` is the kit's
    Redis client when `REDIS_URL` is set."""


@hookspec(firstresult=True)
def provide_mailer(settings: Settings) -> Mailer | None:
    """Return the mail backend, or None to let another plugin decide."""


@hookspec(firstresult=True)
def provide_storage(settings: Settings) -> Storage | None:
    """Return the file storage backend, or None to let another plugin decide."""


@hookspec(firstresult=True)
def provide_rate_limit_store(
    settings: Settings, redis: RedisClient | None
) -> RateLimitStore | None:
    """Return where the rate limits count, or None to let another plugin decide. `redis` is
    the kit's Redis client when `REDIS_URL` is set."""


@hookspec
def on_user_registered(user: UserRead, context: HookContext) -> Any:
    """A new account was committed; may return an awaitable."""


@hookspec
def on_user_verified(user: UserRead, context: HookContext) -> Any:
    """An account's email address was verified; may return an awaitable."""


@hookspec
def on_password_changed(user: UserRead, reset: bool, context: HookContext) -> Any:
    """An account's password changed, by its owner (`reset` False) or through a reset link
    (`reset` True); may return an awaitable."""


@hookspec
def on_user_deleted(user: UserRead, context: HookContext) -> Any:
    """An account and everything it owned were deleted; may return an awaitable."""


@hookspec
def on_contact_created(contact: ContactRead, owner_id: OwnerId, context: HookContext) -> Any:
    """A new contact was committed; may return an awaitable. `owner_id` is the owner's id as
    the owner dependency gave it: the account's UUID with the kit's accounts, the host's own
    id (an int, a str or a UUID) when the host supplies the owner."""


@hookspec
def on_contact_updated(contact: ContactRead, owner_id: OwnerId, context: HookContext) -> Any:
    """A contact was changed (`PUT` or `PATCH`); may return an awaitable."""


@hookspec
def on_contact_deleted(
    contact_id: int, owner_id: OwnerId, permanent: bool, context: HookContext
) -> Any:
    """A contact was deleted: moved to the trash (`permanent` False) or deleted for good
    (`permanent` True, from the book or from the trash); may return an awaitable. The purge
    of old trash (`contacts-kit purge`) runs outside the app and calls no hook."""


@hookspec
def on_contact_restored(contact: ContactRead, owner_id: OwnerId, context: HookContext) -> Any:
    """A contact came back from the trash; may return an awaitable."""
