"""Per-key rate limits on fastapi-limiter and pyrate-limiter.

fastapi-limiter's `Limiter(Rate(...))` keeps one bucket for every caller, so one user would
throttle all. `KeyedBucketFactory` keeps one bucket per key instead: in Redis when
`REDIS_URL` is set (so every worker shares the count), in memory otherwise (bounded, idle keys
forgotten first).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request, Response, status
from fastapi_limiter.depends import RateLimiter
from pyrate_limiter import (
    AbstractBucket,
    BucketFactory,
    InMemoryBucket,
    Limiter,
    Rate,
    RateItem,
    RedisBucket,
)

from contacts_kit.errors import ContactsKitError, ErrorCode
from contacts_kit.settings import Settings, parse_rates

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("contacts_kit.ratelimit")

T = TypeVar("T")
KEY_PREFIX = "contacts_kit:ratelimit:"


class RateLimited(ContactsKitError):
    """Too many requests; `Retry-After` says when to try again."""

    http_status = status.HTTP_429_TOO_MANY_REQUESTS
    code = ErrorCode.RATE_LIMITED
    message = "Too many requests; slow down and retry after the time in `Retry-After`."

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests; retry in {retry_after} s.", {"Retry-After": str(retry_after)}
        )


class RateLimitUnavailable(ContactsKitError):
    """The rate limit store failed and the settings say to fail closed."""

    http_status = status.HTTP_503_SERVICE_UNAVAILABLE
    code = ErrorCode.RATE_LIMIT_UNAVAILABLE
    message = "Rate limiting is unavailable; try again shortly."


def to_rates(text: str) -> list[Rate]:
    """pyrate-limiter rates from a readable setting such as `10/minute;100/day`."""
    return [Rate(limit, seconds * 1000) for limit, seconds in parse_rates(text)]


async def _resolve(value: T | Awaitable[T]) -> T:
    if isinstance(value, Awaitable):
        return await value
    return value


class _ExpiringRedisBucket(RedisBucket):
    """A RedisBucket whose key drops entries older than its longest window and expires, so
    Redis holds nothing for idle callers."""

    def __init__(self, rates: list[Rate], redis: Redis, bucket_key: str, script_hash: str) -> None:
        super().__init__(rates, redis, bucket_key, script_hash)
        self.async_redis = redis

    async def put(self, item: RateItem) -> bool:
        admitted = await _resolve(super().put(item))
        longest = self.rates[-1].interval
        async with self.async_redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.bucket_key, 0, item.timestamp - longest)
            pipe.pexpire(self.bucket_key, longest)
            await pipe.execute()
        return bool(admitted)


class KeyedBucketFactory(BucketFactory):
    """One bucket per item name, created on first use; nothing leaks in the background."""

    def __init__(self, rates: list[Rate], redis: Redis | None, max_keys: int) -> None:
        self.rates = rates
        self.redis = redis
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

    async def _create(self, name: str) -> AbstractBucket:
        if self.redis is None:
            return InMemoryBucket(self.rates)
        if self._script_hash is None:
            template = await _resolve(RedisBucket.init(self.rates, self.redis, KEY_PREFIX + name))
            self._script_hash = template.script_hash
        return _ExpiringRedisBucket(self.rates, self.redis, KEY_PREFIX + name, self._script_hash)

    def _evict(self, now: float) -> None:
        # Least recently used first: idle keys go, and the dictionary never passes max_keys.
        while self._buckets:
            name, (seen, _) = next(iter(self._buckets.items()))
            if len(self._buckets) <= self.max_keys and now - seen < self._idle_after:
                break
            del self._buckets[name]

    def __len__(self) -> int:
        return len(self._buckets)


class KeyedRateLimiter(RateLimiter):
    """A fastapi-limiter dependency over a `KeyedBucketFactory`, answering 429 with
    `Retry-After` (fastapi-limiter 0.2 sends none)."""

    def __init__(
        self,
        name: str,
        rates: list[Rate],
        settings: Settings,
        redis: Redis | None,
        identifier: Callable[[Request], Awaitable[str | None]],
    ) -> None:
        self.factory = KeyedBucketFactory(rates, redis, settings.rate_limit_max_keys)
        super().__init__(limiter=Limiter(self.factory), identifier=identifier)
        self.name = name
        self.settings = settings

    async def __call__(self, request: Request, response: Response) -> None:
        """Dependency: count the request against its key; raise `RateLimited` over the limit."""
        await self.hit(request)

    async def hit(self, request: Request) -> None:
        """Count the request against its key; raise `RateLimited` over the limit."""
        if not self.settings.rate_limit_enabled:
            return
        identity = await self.identifier(request)
        if identity is None:
            return
        key = f"{self.name}:{identity}"
        try:
            admitted = await self.limiter.try_acquire_async(key, blocking=False)
            if admitted:
                return
            retry_ms = await self._waiting(key)
        except Exception as exc:
            logger.warning("rate limit store failed (%s: %s)", type(exc).__name__, exc)
            if self.settings.rate_limit_fail_open:
                return
            raise RateLimitUnavailable() from exc
        raise RateLimited(max(1, math.ceil(retry_ms / 1000)))

    async def _waiting(self, key: str) -> int:
        bucket = self.factory.bucket(key)
        if bucket is None:
            return 1000
        waited = await _resolve(bucket.waiting(self.factory.wrap_item(key)))
        return int(waited) if waited and waited > 0 else 1000


def client_ip(request: Request, trusted_proxies: list[str]) -> str:
    """The client address: the socket peer, or, when that peer is a trusted proxy, the
    right-most address of `X-Forwarded-For` that is not itself a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies:
        return peer
    networks = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    if not trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not trusted(hop):
            return hop
    return peer


class RateLimits:
    """The three limits of a `ContactsKit`, as FastAPI dependencies."""

    def __init__(self, settings: Settings, redis: Redis | None) -> None:
        self.settings = settings

        async def by_user(request: Request) -> str | None:
            user_id = getattr(request.state, "contacts_kit_user_id", None)
            return None if user_id is None else f"user:{user_id}"

        async def by_ip(request: Request) -> str:
            return f"{request.url.path}:ip:{client_ip(request, settings.trusted_proxies)}"

        self.contact_create = KeyedRateLimiter(
            "create", to_rates(settings.rate_limit_contact_create), settings, redis, by_user
        )
        self.contacts = KeyedRateLimiter(
            "contacts", to_rates(settings.rate_limit_contacts), settings, redis, by_user
        )
        self.auth = KeyedRateLimiter(
            "auth", to_rates(settings.rate_limit_auth), settings, redis, by_ip
        )
