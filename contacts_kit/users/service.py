"""The current user's account: avatar and deletion."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.backends.protocols import Storage, StorageError
from contacts_kit.db.session import after_commit
from contacts_kit.images import ImageTooLarge, NotAnImage, clean_copy
from contacts_kit.users.cache import UserCache
from contacts_kit.users.errors import (
    AccountGone,
    FileTooLarge,
    InvalidCredentials,
    StorageFailed,
    UnsupportedImage,
)
from contacts_kit.users.models import User
from contacts_kit.users.passwords import PasswordHasher
from contacts_kit.users.repository import UserRepository

logger = logging.getLogger("contacts_kit.users")

OwnedData = Callable[[AsyncSession, uuid.UUID], Awaitable[object]]
"""Deletes, in the given transaction, what other modules keep of an account (its address
book): the composition root supplies it, so accounts import no other module."""


async def _owns_nothing(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The default: no other module keeps anything of an account."""


class UserService:
    """Changes to one account inside the request's transaction."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        passwords: PasswordHasher,
        storage: Storage,
        user_cache: UserCache,
        avatar_max_bytes: int,
        erase_owned: OwnedData = _owns_nothing,
    ) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.passwords = passwords
        self.storage = storage
        self.user_cache = user_cache
        self.avatar_max_bytes = avatar_max_bytes
        self.erase_owned = erase_owned

    async def replace_avatar(
        self, user_id: uuid.UUID, data: bytes, url_of: Callable[[str], str]
    ) -> User:
        """Store `data` as the new avatar; the old one stays if anything fails. `url_of` turns
        what the storage returned into the URL the file is served from."""
        if len(data) > self.avatar_max_bytes:
            raise FileTooLarge(f"The avatar is larger than {self.avatar_max_bytes} bytes.")
        try:
            # Re-encoded from its pixels, in a thread (the worker keeps answering): the
            # metadata of the upload is never stored or served.
            clean, content_type, extension = await asyncio.to_thread(clean_copy, data)
        except ImageTooLarge as exc:
            raise FileTooLarge(f"The image is too large: {exc}.") from exc
        except NotAnImage as exc:
            raise UnsupportedImage(
                f"The file is not a PNG, JPEG, WebP or GIF image ({exc})."
            ) from exc
        key = f"avatars/{user_id}/{uuid.uuid4().hex}.{extension}"
        try:
            url = url_of(await self.storage.save(key, clean, content_type))
        except StorageError as exc:
            logger.warning("avatar upload for %s failed: %s", user_id, exc)
            raise StorageFailed(f"The avatar could not be stored: {exc}") from exc
        # The account's row, held until the commit: uploads (and a deletion) of one account
        # follow each other, so each removes the file it replaced and none is left behind.
        current = await self.users.hold(user_id)
        if current is None:
            await self._remove(key)
            raise AccountGone()
        previous = current.avatar_key
        user = await self.users.set_avatar(user_id, url, key)
        if user is None:
            await self._remove(key)
            raise AccountGone()
        self.user_cache.forget_after_commit(self.session, user_id)
        if previous is not None:
            after_commit(self.session, lambda: self._remove(previous))
        return user

    async def delete_account(self, user_id: uuid.UUID, password: str) -> User:
        """Delete the account and everything it owns, after checking its password; the
        deleted account is returned."""
        user = await self.users.get(user_id)
        hashed = user.hashed_password if user else None
        if user is None or not await self.passwords.verify(password, hashed):
            raise InvalidCredentials("Incorrect password.")
        # Held before its avatar is read: an upload still running commits first.
        held = await self.users.hold(user_id)
        if held is None:
            raise AccountGone()
        await self.erase_owned(self.session, held.id)
        await self.users.delete(held.id)
        self.user_cache.forget_after_commit(self.session, held.id)
        avatar = held.avatar_key
        if avatar is not None:
            after_commit(self.session, lambda: self._remove(avatar))
        return held

    async def _remove(self, key: str) -> None:
        """Delete a stored file; a failure is logged (the file is orphaned), never raised."""
        try:
            await self.storage.delete(key)
        except (StorageError, OSError) as exc:
            logger.warning("could not delete the stored file %s: %s", key, exc)
