"""A cache wrapper that turns backend failures into misses, so an outage never becomes a 500.

After a failure the backend is left alone for `retry_after` seconds: requests do not each wait
for a connection timeout while the cache is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from contacts_kit.backends.protocols import Cache

logger = logging.getLogger("contacts_kit.cache")

T = TypeVar("T")


class ResilientCache:
    """Delegates to `inner`; any exception is logged and treated as a miss or a no-op."""

    def __init__(
        self, inner: Cache, retry_after: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self.retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0

    async def _call(self, operation: str, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        if self._clock() < self._down_until:
            return fallback
        try:
            result = await call()
        except Exception as exc:
            self._down_until = self._clock() + self.retry_after
            logger.warning(
                "cache %s failed (%s: %s); using the database for the next %.0f s",
                operation,
                type(exc).__name__,
                exc,
                self.retry_after,
            )
            return fallback
        return result

    async def get(self, key: str) -> str | None:
        """The cached value, or None when missing or when the cache fails."""
        return await self._call("get", lambda: self.inner.get(key), None)

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store the value; a failure is logged and ignored."""
        await self._call("set", lambda: self.inner.set(key, value, ttl), None)

    async def delete(self, key: str) -> None:
        """Forget the value. Tried even while the cache is considered down: a stale entry is
        worse than a slow request."""
        try:
            await self.inner.delete(key)
        except Exception as exc:
            self._down_until = self._clock() + self.retry_after
            logger.error(
                "cache delete of %s failed, the entry may stay stale until it expires: %s: %s",
                key,
                type(exc).__name__,
                exc,
            )

    async def ping(self) -> bool:
        """True when the inner cache answers (always asked, for readiness probes)."""
        try:
            return await self.inner.ping()
        except Exception as exc:
            logger.warning("cache ping failed: %s: %s", type(exc).__name__, exc)
            return False

    async def close(self) -> None:
        """Close the inner cache."""
        try:
            await self.inner.close()
        except Exception as exc:
            logger.warning("cache close failed: %s: %s", type(exc).__name__, exc)
