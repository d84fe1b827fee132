"""The current user kept in the cache backend, so a warm request needs no SQL for it; other
entries of the user's slot are read in the same round trip when a caller asks."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.backends.resilient import ResilientCache
from contacts_kit.db.session import after_commit
from contacts_kit.users.schemas import AuthenticatedUser


def user_cache_key(user_id: uuid.UUID | str) -> str:
    """Cache key of one user's `CachedUser` JSON (under the kit's key prefix). The braces are
    a Redis Cluster hash tag, the id's 32 hex digits: keys of other modules tagged the same
    (the contacts module's, keyed by the owner key) share the slot, and one MGET reads them."""
    hex_id = user_id.hex if isinstance(user_id, uuid.UUID) else uuid.UUID(user_id).hex
    return f"user:{{{hex_id}}}"


class CachedUser(BaseModel):
    """What a request needs to accept an access token without SQL: the user, and the
    sessions of theirs that ended recently enough for an access token of theirs to live on."""

    user: AuthenticatedUser
    ended_sessions: frozenset[uuid.UUID] = frozenset()


class UserCache:
    """`CachedUser` JSON under `user_cache_key`, for `ttl` seconds. Whatever changes the user
    or ends one of their sessions forgets the entry: the next request reads the database."""

    def __init__(self, cache: ResilientCache, ttl: int) -> None:
        self.cache = cache
        self.ttl = ttl

    async def get(
        self, user_id: uuid.UUID, also: list[str] | None = None
    ) -> tuple[CachedUser | None, dict[str, str | None]]:
        """The cached user, if any, and the entries under the keys `also` (read in the same
        round trip; they must share the user's hash tag)."""
        if not also:
            cached = await self.cache.get(user_cache_key(user_id))
            return _parse(cached), {}
        cached, *values = await self.cache.get_many([user_cache_key(user_id), *also])
        return _parse(cached), dict(zip(also, values, strict=True))

    async def put(self, entry: CachedUser) -> None:
        """Remember `entry` for the next requests."""
        await self.cache.set(user_cache_key(entry.user.id), entry.model_dump_json(), self.ttl)

    async def forget(self, user_id: uuid.UUID) -> None:
        """Drop the cached user now."""
        await self.cache.delete(user_cache_key(user_id))

    def forget_after_commit(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Drop the cached user once the session's transaction has committed."""
        after_commit(session, lambda: self.forget(user_id))


def _parse(cached: str | None) -> CachedUser | None:
    return None if cached is None else CachedUser.model_validate_json(cached)
