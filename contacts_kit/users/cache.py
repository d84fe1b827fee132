"""The current user kept in the cache backend, so a warm request needs no SQL for it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.backends.protocols import Cache
from contacts_kit.db.session import after_commit
from contacts_kit.users.schemas import AuthenticatedUser


def user_cache_key(user_id: uuid.UUID | str) -> str:
    """Cache key of one user's `AuthenticatedUser` JSON."""
    return f"contacts_kit:user:{user_id}"


class UserCache:
    """`AuthenticatedUser` JSON under `user_cache_key`, for `ttl` seconds."""

    def __init__(self, cache: Cache, ttl: int) -> None:
        self.cache = cache
        self.ttl = ttl

    async def get(self, user_id: uuid.UUID) -> AuthenticatedUser | None:
        """The cached user, if any."""
        cached = await self.cache.get(user_cache_key(user_id))
        return None if cached is None else AuthenticatedUser.model_validate_json(cached)

    async def put(self, user: AuthenticatedUser) -> None:
        """Remember `user` for the next requests."""
        await self.cache.set(user_cache_key(user.id), user.model_dump_json(), self.ttl)

    def forget_after_commit(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Drop the cached user once the session's transaction has committed."""
        after_commit(session, lambda: self.cache.delete(user_cache_key(user_id)))
