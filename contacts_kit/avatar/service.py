"""Avatar upload: check the bytes, store the file, point the user at it."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.auth.models import User
from contacts_kit.auth.repository import UserRepository
from contacts_kit.auth.service import AuthService
from contacts_kit.avatar.images import NotAnImage, identify
from contacts_kit.backends.protocols import StorageError
from contacts_kit.errors import (
    FileTooLarge,
    InvalidToken,
    StorageFailed,
    UnsupportedImage,
)

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit

logger = logging.getLogger("contacts_kit.avatar")


class AvatarService:
    """Changes the avatar of one user inside the request's transaction."""

    def __init__(self, kit: ContactsKit, session: AsyncSession) -> None:
        self.kit = kit
        self.session = session
        self.users = UserRepository(session)

    async def replace(self, user_id: uuid.UUID, data: bytes) -> User:
        """Store `data` as the new avatar; the old one stays if anything fails."""
        if len(data) > self.kit.settings.avatar_max_bytes:
            raise FileTooLarge(
                f"The avatar is larger than {self.kit.settings.avatar_max_bytes} bytes."
            )
        try:
            content_type, extension = identify(data)
        except NotAnImage as exc:
            raise UnsupportedImage(
                f"The file is not a PNG, JPEG, WebP or GIF image ({exc})."
            ) from exc
        key = f"avatars/{user_id}/{uuid.uuid4().hex}.{extension}"
        try:
            url = await self.kit.storage.save(key, data, content_type)
        except StorageError as exc:
            logger.warning("avatar upload for %s failed: %s", user_id, exc)
            raise StorageFailed(f"The avatar could not be stored: {exc}") from exc
        user = await self.users.set_avatar(user_id, url)
        if user is None:
            raise InvalidToken()
        AuthService(self.kit, self.session).invalidate_user(user_id)
        return user
