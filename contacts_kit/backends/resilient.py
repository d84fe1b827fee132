"""A cache wrapper that turns backend failures into misses, so an outage never becomes a 500.

It shares the kit's circuit breaker with the rate limits: after a failure the store is left
alone for a while, so requests do not each wait for a timeout while it is down.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Protocol

from contacts_kit.backends.breaker import CircuitBreaker
from contacts_kit.backends.protocols import Cache, ManyGets

logger = logging.getLogger("contacts_kit.cache")


class LostDeletes(Protocol):
    """Where the keys of failed deletes go, so that no process believes them until the cache
    has deleted them (`contacts_kit.db.stale_keys.StaleKeys`)."""

    async def unsure(self) -> Collection[str] | None:
        """The (full) keys not to believe now; None when none is to be believed."""
        ...

    async def lost(self, key: str) -> None:
        """Note the failed delete of `key` (a full key) for every process."""
        ...


class ResilientCache:
    """Delegates to `inner`; any exception is a miss or a no-op, and opens the breaker.

    Every key is put under `prefix` (`CONTACTS_KIT_KEY_PREFIX`): callers name keys relative to
    their kit, so two kits sharing one Redis never read each other's entries.

    With `lost_deletes` (a cache every process shares), a delete that fails is handed to it,
    and a read never returns a key it lists: an outage of the cache cannot bring back an
    ended session or an old page once the cache answers again."""

    def __init__(
        self,
        inner: Cache,
        breaker: CircuitBreaker,
        prefix: str = "contacts_kit",
        lost_deletes: LostDeletes | None = None,
    ) -> None:
        self.inner = inner
        self.breaker = breaker
        self.prefix = f"{prefix}:"
        self.lost_deletes = lost_deletes
        self._many = inner if isinstance(inner, ManyGets) else None

    async def _unsure(self) -> Collection[str] | None:
        if self.lost_deletes is None:
            return ()
        return await self.lost_deletes.unsure()

    async def get(self, key: str) -> str | None:
        """The cached value, or None when missing or when the cache fails."""
        if self.breaker.open:
            return None
        full = self.prefix + key
        unsure = await self._unsure()
        if unsure is None or full in unsure:
            return None
        try:
            value = await self.inner.get(full)
        except Exception as exc:
            self.breaker.failed("cache get", exc)
            return None
        self.breaker.succeeded()
        return value

    async def get_many(self, keys: list[str]) -> list[str | None]:
        """The value under each key (None when missing or when the cache fails): in one round
        trip when the inner cache has `get_many`, else one `get` per key."""
        if self.breaker.open:
            return [None] * len(keys)
        full = [self.prefix + key for key in keys]
        unsure = await self._unsure()
        if unsure is None:
            return [None] * len(keys)
        try:
            if self._many is not None:
                values = await self._many.get_many(full)
            else:
                values = [await self.inner.get(key) for key in full]
        except Exception as exc:
            self.breaker.failed("cache get", exc)
            return [None] * len(keys)
        self.breaker.succeeded()
        return [None if key in unsure else value for key, value in zip(full, values, strict=True)]

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store the value; a failure is logged and ignored."""
        if self.breaker.open:
            return
        try:
            await self.inner.set(self.prefix + key, value, ttl)
        except Exception as exc:
            self.breaker.failed("cache set", exc)
            return
        self.breaker.succeeded()

    async def delete(self, key: str) -> None:
        """Forget the value. Tried even while the breaker is open: a stale entry (a user whose
        session was revoked) is worse than a slow request. When it fails, the key goes to
        `lost_deletes` (and this returns once every process skips it)."""
        full = self.prefix + key
        try:
            await self.inner.delete(full)
        except Exception as exc:
            self.breaker.failed("cache delete", exc)
            if self.lost_deletes is None:
                logger.error(
                    "cache delete of %s failed, the entry may stay stale until it expires: %s: %s",
                    key,
                    type(exc).__name__,
                    exc,
                )
                return
            logger.warning(
                "cache delete of %s failed (%s: %s); every process skips the entry until the "
                "cache deletes it",
                key,
                type(exc).__name__,
                exc,
            )
            await self.lost_deletes.lost(full)
            return
        self.breaker.succeeded()

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
