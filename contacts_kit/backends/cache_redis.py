"""Redis cache, chosen when `CONTACTS_KIT_REDIS_URL` is set: shared by every worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings

if TYPE_CHECKING:
    from contacts_kit.backends.redis_client import RedisClient


class RedisCache:
    """Values are strings (JSON, never pickle) under keys that expire. The client belongs to
    whoever made it (the kit closes its own)."""

    shared = True
    """Every worker and instance reading this Redis sees the same entries."""

    def __init__(self, client: RedisClient) -> None:
        self.client = client

    async def get(self, key: str) -> str | None:
        """The value under `key`, if any."""
        value = await self.client.get(key)
        return None if value is None else str(value)

    async def get_many(self, keys: list[str]) -> list[str | None]:
        """The values under `keys`, in one MGET: on a Redis Cluster the keys must share a slot
        (a `{...}` hash tag), as the kit's keys of one user do."""
        values = await self.client.mget(keys)
        return [None if value is None else str(value) for value in values]

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store `value` for `ttl` seconds (a ttl of 0 deletes)."""
        if ttl <= 0:
            await self.client.delete(key)
        else:
            await self.client.set(key, value, ex=ttl)

    async def delete(self, key: str) -> None:
        """Forget `key`."""
        await self.client.delete(key)

    async def ping(self) -> bool:
        """True when Redis answers PING."""
        return bool(await self.client.ping())

    async def close(self) -> None:
        """Nothing of its own to close: the client is shared."""


@hookimpl(trylast=True)
def provide_cache(settings: Settings, redis: RedisClient | None) -> RedisCache | None:
    """Redis when the kit has a Redis client; otherwise let the in-memory cache answer."""
    if redis is None:
        return None
    return RedisCache(redis)
