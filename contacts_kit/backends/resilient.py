"""A cache wrapper that turns backend failures into misses, so an outage never becomes a 500.

After a failure the backend is left alone for `retry_after` seconds: requests do not each wait
for a connection timeout while the cache is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from contacts_kit.backends.protocols import Cache

logger = logging.getLogger("contacts_kit.cache")


class ResilientCache:
    """Delegates to `inner`; any exception is logged and treated as a miss or a no-op."""

    def __init__(
        self, inner: Cache, retry_after: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self.retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0

    def _failed(self, operation: str, exc: Exception) -> None:
        self._down_until = self._clock() + self.retry_after
        logger.warning(
            "cache %s failed (%s: %s); using the database for the next %.0f s",
            operation,
            type(exc).__name__,
            exc,
            self.retry_after,
        )

    async def get(self, key: str) -> str | None:
        """The cached value, or None when missing or when the cache fails."""
        # Written out rather than through a shared wrapper: this runs on every authenticated
        # request, and a closure and a coroutine fewer is measurable there.
        if self._clock() < self._down_until:
            return None
        try:
            return await self.inner.get(key)
        except Exception as exc:
            self._failed("get", exc)
            return None

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store the value; a failure is logged and ignored."""
        if self._clock() < self._down_until:
            return
        try:
            await self.inner.set(key, value, ttl)
        except Exception as exc:
            self._failed("set", exc)

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
