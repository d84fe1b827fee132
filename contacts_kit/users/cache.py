"""The current user kept in the cache backend, so a warm request needs no SQL for it, and the
user's *generation*, the mark under which each worker keeps answers to that user's contact
reads (`contacts_kit.contact.pages`)."""

from __future__ import annotations

import secrets
import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.backends.resilient import ResilientCache
from contacts_kit.db.session import after_commit
from contacts_kit.users.schemas import AuthenticatedUser


def user_cache_key(user_id: uuid.UUID | str) -> str:
    """Cache key of one user's `CachedUser` JSON. The braces are a Redis Cluster hash tag:
    a user's keys share a slot, so one MGET reads them together."""
    return f"contacts_kit:user:{{{user_id}}}"


def generation_key(user_id: uuid.UUID | str) -> str:
    """Cache key of one user's generation."""
    return f"contacts_kit:generation:{{{user_id}}}"


class CachedUser(BaseModel):
    """What a request needs to accept an access token without SQL: the user, and the
    sessions of theirs that ended recently enough for an access token of theirs to live on."""

    user: AuthenticatedUser
    ended_sessions: frozenset[uuid.UUID] = frozenset()


class UserCache:
    """`CachedUser` JSON under `user_cache_key`, for `ttl` seconds. Whatever changes the user
    or ends one of their sessions forgets the entry: the next request reads the database.

    With `generations`, each user also has a random mark under `generation_key`, read with
    the entry in one round trip: a change to the user's contacts forgets it
    (`forget_generation`), and the next request that finds none writes a new one."""

    def __init__(self, cache: ResilientCache, ttl: int, *, generations: bool = False) -> None:
        self.cache = cache
        self.ttl = ttl
        self.generations = generations

    async def get(self, user_id: uuid.UUID) -> tuple[CachedUser | None, str | None]:
        """The cached user, if any, and the user's generation, if kept and there is one."""
        if not self.generations:
            return _parse(await self.cache.get(user_cache_key(user_id))), None
        cached, generation = await self.cache.get_many(
            [user_cache_key(user_id), generation_key(user_id)]
        )
        return _parse(cached), generation

    async def new_generation(self, user_id: uuid.UUID) -> None:
        """Give the user a new generation: answers kept under an earlier one, or built
        before this write, are never served under it."""
        await self.cache.set(generation_key(user_id), secrets.token_urlsafe(12), self.ttl)

    async def forget_generation(self, user_id: uuid.UUID) -> None:
        """End the user's generation now: their contacts changed."""
        await self.cache.delete(generation_key(user_id))

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
