"""A cache wrapper that turns backend failures into misses, so an outage never becomes a 500."""

from __future__ import annotations

import logging

from contacts_kit.backends.protocols import Cache

logger = logging.getLogger("contacts_kit.cache")


class ResilientCache:
    """Delegates to `inner`; any exception is logged and treated as a miss or a no-op."""

    def __init__(self, inner: Cache) -> None:
        self.inner = inner

    async def get(self, key: str) -> str | None:
        """The cached value, or None when missing or when the cache fails."""
        try:
            return await self.inner.get(key)
        except Exception as exc:
            logger.warning("cache get failed, serving from the database: %s", _describe(exc))
            return None

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store the value; a failure is logged and ignored."""
        try:
            await self.inner.set(key, value, ttl)
        except Exception as exc:
            logger.warning("cache set failed: %s", _describe(exc))

    async def delete(self, key: str) -> None:
        """Forget the value; a failure is logged (the entry then lives until its TTL)."""
        try:
            await self.inner.delete(key)
        except Exception as exc:
            logger.error("cache delete failed, entry %s may be stale: %s", key, _describe(exc))

    async def ping(self) -> bool:
        """True when the inner cache answers."""
        try:
            return await self.inner.ping()
        except Exception as exc:
            logger.warning("cache ping failed: %s", _describe(exc))
            return False

    async def close(self) -> None:
        """Close the inner cache."""
        try:
            await self.inner.close()
        except Exception as exc:
            logger.warning("cache close failed: %s", _describe(exc))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
