"""The kit's one Redis client, shared by the cache and the rate limits: a single Redis, or a
Redis Cluster when the URL says so (`redis+cluster://` or `rediss+cluster://`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from contacts_kit.errors import ConfigurationError
from contacts_kit.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    RedisClient: TypeAlias = Redis | RedisCluster
    """What the cache and the rate limits talk to: the commands they use (single-key reads
    and writes, one-key scripts, one-key pipelines) work the same on both."""

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster_url(url: str) -> bool:
    """Whether `url` names a Redis Cluster (any one node of it; the rest are discovered)."""
    return url.startswith(CLUSTER_SCHEMES)


def redis_client(settings: Settings) -> RedisClient | None:
    """An asyncio Redis client for `settings.redis_url` with short timeouts, or None when no
    URL is set. A command against a Redis that does not answer gives up after at most twice
    `settings.redis_timeout` (one retry)."""
    if settings.redis_url is None:
        return None
    try:
        from redis.asyncio import Redis
        from redis.asyncio.cluster import RedisCluster
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:
        raise ConfigurationError(
            "CONTACTS_KIT_REDIS_URL is set but redis is missing: pip install 'contacts-kit[redis]'"
        ) from exc
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "decode_responses": True,
        # One immediate retry: it replaces a pooled connection that Redis closed since its
        # last use (a restart). redis-py's default, three retries with backoff, would turn a
        # hung Redis into seconds per request instead of `redis_timeout`.
        "retry": Retry(NoBackoff(), 1),
    }
    if is_cluster_url(settings.redis_url):
        # A master that fails over: the client reloads the slot map on the next command that
        # meets the change (MOVED, or a refused connection), at most every second.
        return RedisCluster.from_url(settings.redis_url.replace("+cluster", "", 1), **options)
    return Redis.from_url(settings.redis_url, **options)
