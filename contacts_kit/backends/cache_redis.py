"""Redis cache, chosen when `CONTACTS_KIT_REDIS_URL` is set: shared by every worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contacts_kit.errors import ConfigurationError
from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def redis_client(settings: Settings) -> Redis:
    """An asyncio Redis client for `settings.redis_url` with short timeouts."""
    try:
        from redis.asyncio import Redis
    except ImportError as exc:
        raise ConfigurationError(
            "CONTACTS_KIT_REDIS_URL is set but redis is missing: pip install 'contacts-kit[redis]'"
        ) from exc
    assert settings.redis_url is not None
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        decode_responses=True,
    )


class RedisCache:
    """Values are strings (JSON, never pickle) under keys that expire."""

    def __init__(self, client: Redis) -> None:
        self.client = client

    async def get(self, key: str) -> str | None:
        """The value under `key`, if any."""
        value = await self.client.get(key)
        return None if value is None else str(value)

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
        """Close the connection pool."""
        await self.client.aclose()


@hookimpl(trylast=True)
def provide_cache(settings: Settings) -> RedisCache | None:
    """Redis when a URL is configured; otherwise let the in-memory cache answer."""
    if settings.redis_url is None:
        return None
    return RedisCache(redis_client(settings))
