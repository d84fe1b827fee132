"""pyrate-limiter buckets kept per key, in memory or in Redis: the rate-limit stores' engine.

pyrate-limiter's `Limiter` asks a `BucketFactory` for the bucket of each item; fastapi-limiter's
single shared bucket would let one user throttle all, so `KeyedBucketFactory` keeps one bucket
per key instead: in Redis when a client is given (every worker shares the count), in memory
otherwise (bounded, idle keys forgotten first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar, cast

from pyrate_limiter import (
    AbstractBucket,
    BucketFactory,
    InMemoryBucket,
    Rate,
    RateItem,
    RedisBucket,
)
from pyrate_limiter.buckets.redis_bucket import LuaScript

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from contacts_kit.backends.redis_client import RedisClient

try:
    from redis.exceptions import NoScriptError
except ImportError:  # pragma: no cover - the redis extra is not installed: no Redis buckets

    class NoScriptError(Exception):  # type: ignore[no-redef]
        """Stands in for redis' error where redis is not installed."""


T = TypeVar("T")


def _for_pyrate(redis: RedisClient) -> Redis:
    """pyrate-limiter's RedisBucket names `redis.asyncio.Redis`; what it runs (SCRIPT LOAD,
    EVALSHA on one key, sorted-set reads of one key) a RedisCluster runs as well (routed by
    the key's slot): tests/test_redis_cluster.py proves it on a three-master cluster."""
    return cast("Redis", redis)


KEY_PREFIX = "contacts_kit:ratelimit:"
"""Where the Redis buckets of a kit with the default `CONTACTS_KIT_KEY_PREFIX` live."""


async def resolve(value: T | Awaitable[T]) -> T:
    """`value`, awaited when pyrate-limiter handed back an awaitable."""
    if isinstance(value, Awaitable):
        return await value
    return value


_COUNT_UP_TO_NOW = "redis.call('ZCOUNT', bucket, window_start, now)"
if _COUNT_UP_TO_NOW not in LuaScript.PUT_ITEM:  # pragma: no cover - a pyrate-limiter change
    raise ImportError("pyrate-limiter's PUT_ITEM script changed: review EXACT_PUT_ITEM")
EXACT_PUT_ITEM = LuaScript.PUT_ITEM.replace(
    _COUNT_UP_TO_NOW, "redis.call('ZCOUNT', bucket, window_start, '+inf')"
)
"""pyrate-limiter's check-and-insert script, counting every entry of the window. Its own
counts entries up to the new item's timestamp only, which each process reads from its clock
before the round trip: an entry written meanwhile by another process with a later timestamp
went uncounted, and two instances let 7 requests through a limit of 6 (the scale lab showed
it). Passed to `RedisBucket` through its `script_hash` argument, with the same arguments."""


async def _load_script(redis: RedisClient) -> str:
    return str(await redis.script_load(EXACT_PUT_ITEM))


class _ExpiringRedisBucket(RedisBucket):
    """A RedisBucket whose key drops entries older than its longest window and expires, so
    Redis holds nothing for idle callers."""

    def __init__(
        self, rates: list[Rate], redis: RedisClient, bucket_key: str, script_hash: str
    ) -> None:
        super().__init__(rates, _for_pyrate(redis), bucket_key, script_hash)
        self.async_redis = redis

    async def put(self, item: RateItem) -> bool:
        try:
            admitted = await resolve(super().put(item))
        except NoScriptError:
            # Redis restarted (or failed over) and forgot the script: load it again, once.
            self.script_hash = await _load_script(self.async_redis)
            admitted = await resolve(super().put(item))
        longest = self.rates[-1].interval
        async with self.async_redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.bucket_key, 0, item.timestamp - longest)
            pipe.pexpire(self.bucket_key, longest)
            await pipe.execute()
        return bool(admitted)


class KeyedBucketFactory(BucketFactory):
    """One bucket per item name, created on first use; nothing leaks in the background."""

    def __init__(
        self,
        rates: list[Rate],
        redis: RedisClient | None,
        max_keys: int,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        self.rates = rates
        self.redis = redis
        self.key_prefix = key_prefix
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, AbstractBucket]] = OrderedDict()
        self._script_hash: str | None = None
        self._idle_after = max(rate.interval for rate in rates) / 1000

    def _now_ms(self) -> int:
        # Redis buckets compare timestamps across processes: wall clock. Memory: monotonic.
        return (
            time.time_ns() // 1_000_000
            if self.redis is not None
            else time.monotonic_ns() // 1_000_000
        )

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        """Stamp the request with the factory's clock."""
        return RateItem(name, self._now_ms(), weight=weight)

    async def get(self, item: RateItem) -> AbstractBucket:
        """The bucket of `item.name`, created on first use."""
        entry = self._buckets.get(item.name)
        now = time.monotonic()
        if entry is None:
            bucket = await self._create(item.name)
        else:
            bucket = entry[1]
            if isinstance(bucket, InMemoryBucket):
                bucket.leak(item.timestamp)
        self._buckets[item.name] = (now, bucket)
        self._buckets.move_to_end(item.name)
        self._evict(now)
        return bucket

    def bucket(self, name: str) -> AbstractBucket | None:
        """The bucket of `name`, if one exists in this process."""
        entry = self._buckets.get(name)
        return entry[1] if entry else None

    async def waiting_ms(self, name: str) -> int:
        """Milliseconds until `name` may be admitted again (1000 when unknown)."""
        bucket = self.bucket(name)
        if bucket is None:
            return 1000
        waited = await resolve(bucket.waiting(self.wrap_item(name)))
        return int(waited) if waited and waited > 0 else 1000

    async def _create(self, name: str) -> AbstractBucket:
        if self.redis is None:
            return InMemoryBucket(self.rates)
        if self._script_hash is None:
            self._script_hash = await _load_script(self.redis)
        return _ExpiringRedisBucket(
            self.rates, self.redis, self.key_prefix + name, self._script_hash
        )

    def _evict(self, now: float) -> None:
        # Least recently used first: idle keys go, and the dictionary never passes max_keys.
        while self._buckets:
            name, (seen, _) = next(iter(self._buckets.items()))
            if len(self._buckets) <= self.max_keys and now - seen < self._idle_after:
                break
            del self._buckets[name]

    def __len__(self) -> int:
        return len(self._buckets)
