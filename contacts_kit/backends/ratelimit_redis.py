"""Redis rate-limit store, chosen when `CONTACTS_KIT_REDIS_URL` is set: every worker and every
instance shares the count. It uses the kit's one Redis client, the cache's too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyrate_limiter import Rate

from contacts_kit.backends.buckets import KeyedBucketFactory
from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings

if TYPE_CHECKING:
    from contacts_kit.backends.redis_client import RedisClient


class RedisRateLimitStore:
    """Buckets as sorted sets in Redis."""

    def __init__(self, redis: RedisClient, max_keys: int, key_prefix: str = "contacts_kit") -> None:
        self.redis = redis
        self.max_keys = max_keys
        self.key_prefix = f"{key_prefix}:ratelimit:"

    def buckets(self, rates: list[Rate]) -> KeyedBucketFactory:
        """A bucket per key, in Redis, under the kit's key prefix."""
        return KeyedBucketFactory(rates, self.redis, self.max_keys, self.key_prefix)


@hookimpl(trylast=True)
def provide_rate_limit_store(
    settings: Settings, redis: RedisClient | None
) -> RedisRateLimitStore | None:
    """Redis when the kit has a Redis client; otherwise let the in-memory store answer."""
    if redis is None:
        return None
    return RedisRateLimitStore(redis, settings.rate_limit_max_keys, settings.key_prefix)
