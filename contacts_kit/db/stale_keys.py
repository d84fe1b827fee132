"""Cache entries a failed delete may have left behind, kept in the database until deleted.

A logout, a password change, a deleted account and every change to an address book end cache
entries (the cached user, the owner's generation of kept answers). When the cache cannot take
that delete (Redis down or hung), the entry would be believed again once the cache answers:
an ended session accepted, an old page served. So the key goes to this table instead, in the
database that already holds the change, and every process sharing the cache skips what the
table lists:

- each process reads the table at most once per `interval`, before it believes a cache read
  (one short SELECT on the primary, in a task of its own, shared by the requests waiting on
  it); with no reading newer than `interval`, it believes no cache entry at all;
- the request whose delete failed answers only `interval` after its key was written here, so
  by the time its client hears "done", every process reads the key in the table before it
  reads the cache again: no ended session is accepted, on any worker or instance;
- a reading that finds keys deletes them from the cache (once the cache answers) and then
  from the table.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime

from sqlalchemy import Integer, String, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from contacts_kit.backends.breaker import CircuitBreaker
from contacts_kit.backends.protocols import Cache
from contacts_kit.db.base import Base, UTCDateTime

logger = logging.getLogger("contacts_kit.cache")

READ_LIMIT = 1000
"""Keys read at a time; with more waiting, no cache entry is believed until fewer wait."""


class StaleKey(Base):
    """A cache key whose delete failed: not to be believed until deleted from the cache."""

    __tablename__ = "contacts_kit_stale_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(512))
    lost_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaleKeys:
    """The keys of `cache` not to believe, as the table says (read on `engine`, the primary)."""

    def __init__(
        self,
        engine: AsyncEngine,
        cache: Cache,
        breaker: CircuitBreaker,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.breaker = breaker
        self.interval = interval
        self._clock = clock
        self._read_at = -float("inf")  # when the last good reading started
        self._failed_at = -float("inf")
        self._keys: frozenset[str] | None = None
        self._lock = asyncio.Lock()

    async def unsure(self) -> Collection[str] | None:
        """The keys not to believe now; None when no key is to be believed (the table could
        not be read lately, or lists too many).

        A reading serves the requests that arrive within `interval` after it started, however
        long it takes: it saw every key written before it started."""
        asked = self._clock()
        if asked - self._read_at >= self.interval:
            async with self._lock:
                now = self._clock()
                if now - self._read_at >= self.interval and now - self._failed_at >= self.interval:
                    # Its own task, in a context of its own: the reading belongs to no request
                    # (its statement is not one of the request's; a request given up on does
                    # not cancel it for the others waiting).
                    await asyncio.shield(
                        asyncio.create_task(self._read(), context=contextvars.Context())
                    )
            if asked - self._read_at >= self.interval:
                return None
        return self._keys

    async def lost(self, key: str) -> None:
        """Note that the delete of `key` failed; return once every process has read it."""
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    insert(StaleKey).values(key=key, lost_at=datetime.now(UTC))
                )
        except Exception as exc:
            logger.error(
                "neither the cache nor the database took the end of cache entry %s; it may be "
                "believed until it expires: %s: %s",
                key,
                type(exc).__name__,
                exc,
            )
            return
        if self._keys is not None:
            self._keys = self._keys | {key}
        await asyncio.sleep(self.interval)

    async def _read(self) -> None:
        started = self._clock()
        try:
            async with self.engine.connect() as connection:
                query = select(StaleKey.id, StaleKey.key).order_by(StaleKey.id).limit(READ_LIMIT)
                rows = [(row_id, key) for row_id, key in await connection.execute(query)]
        except Exception as exc:
            self._failed_at = started
            logger.warning(
                "could not read which cache entries to skip (%s: %s); skipping them all",
                type(exc).__name__,
                exc,
            )
            return
        self._keys = None if len(rows) == READ_LIMIT else frozenset(key for _, key in rows)
        self._read_at = started
        if rows and not self.breaker.open:
            await self._settle(rows)

    async def _settle(self, rows: list[tuple[int, str]]) -> None:
        """Delete the keys from the cache, then (those deleted) from the table."""
        deleted: list[int] = []
        for row_id, key in rows:
            try:
                await self.cache.delete(key)
            except Exception as exc:
                self.breaker.failed("cache delete", exc)
                break
            deleted.append(row_id)
        if not deleted:
            return
        try:
            async with self.engine.begin() as connection:
                await connection.execute(delete(StaleKey).where(StaleKey.id.in_(deleted)))
        except Exception as exc:  # the next reading deletes them again
            logger.warning("could not clear deleted cache keys: %s: %s", type(exc).__name__, exc)
            return
        logger.warning("the cache deleted %d entries it kept through an outage", len(deleted))
