"""Contact photos: an upload re-encoded from its pixels (no metadata kept), stored with the
storage backend, and the files of replaced, removed and purged photos deleted once their
transaction has committed."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.backends.protocols import Storage, StorageError
from contacts_kit.contact.errors import PhotoNotStored, PhotoTooLarge, UnsupportedPhoto
from contacts_kit.db.session import after_commit
from contacts_kit.images import ImageTooLarge, NotAnImage, clean_copy

logger = logging.getLogger("contacts_kit.contact")

PHOTOS = "photos"
"""The storage's folder of contact photos (the local storage's files are served from it)."""


class Photos:
    """Stores and removes contact photos with `storage`, each at most `max_bytes`. With
    `refused`, a store is refused with that reason (a deployment whose storage other
    instances cannot see); removals still run."""

    def __init__(self, storage: Storage, max_bytes: int, refused: str | None = None) -> None:
        self.storage = storage
        self.max_bytes = max_bytes
        self.refused = refused

    async def store(self, data: bytes, url_of: Callable[[str], str]) -> tuple[str, str]:
        """Store a clean copy of the image: (its URL, its key). `url_of` turns what the
        storage returned into the URL the file is served from."""
        if self.refused is not None:
            raise PhotoNotStored(self.refused)
        if len(data) > self.max_bytes:
            raise PhotoTooLarge(f"The photo is larger than {self.max_bytes} bytes.")
        try:
            # Re-encoded from its pixels, in a thread: EXIF (places, device) never stored.
            clean, content_type, extension = await asyncio.to_thread(clean_copy, data)
        except ImageTooLarge as exc:
            raise PhotoTooLarge(f"The image is too large: {exc}.") from exc
        except NotAnImage as exc:
            raise UnsupportedPhoto(
                f"The file is not a PNG, JPEG, WebP or GIF image ({exc})."
            ) from exc
        key = f"{PHOTOS}/{uuid.uuid4().hex}.{extension}"
        try:
            return url_of(await self.storage.save(key, clean, content_type)), key
        except StorageError as exc:
            logger.warning("contact photo upload failed: %s", exc)
            raise PhotoNotStored(f"The photo could not be stored: {exc}") from exc

    async def remove(self, keys: Iterable[str | None]) -> None:
        """Delete stored files; a failure is logged (the file is orphaned), never raised."""
        for key in keys:
            if key is None:
                continue
            try:
                await self.storage.delete(key)
            except (StorageError, OSError) as exc:
                logger.warning("could not delete the stored file %s: %s", key, exc)

    def remove_after_commit(self, session: AsyncSession, keys: Iterable[str | None]) -> None:
        """Delete the files once `session`'s transaction has committed (never on rollback)."""
        doomed = [key for key in keys if key is not None]
        if doomed:
            after_commit(session, lambda: self.remove(doomed))
