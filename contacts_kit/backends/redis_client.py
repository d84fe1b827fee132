"""The kit's one Redis client, shared by the cache and the rate limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from contacts_kit.errors import ConfigurationError
from contacts_kit.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def redis_client(settings: Settings) -> Redis | None:
    """An asyncio Redis client for `settings.redis_url` with short timeouts, or None when no
    URL is set. A command against a Redis that does not answer gives up after at most twice
    `settings.redis_timeout` (one retry)."""
    if settings.redis_url is None:
        return None
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:
        raise ConfigurationError(
            "CONTACTS_KIT_REDIS_URL is set but redis is missing: pip install 'contacts-kit[redis]'"
        ) from exc
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        decode_responses=True,
        # One immediate retry: it replaces a pooled connection that Redis closed since its
        # last use (a restart). redis-py's default, three retries with backoff, would turn a
        # hung Redis into seconds per request instead of `redis_timeout`.
        retry=Retry(NoBackoff(), 1),
    )
