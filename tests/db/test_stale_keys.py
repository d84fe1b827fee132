"""The table of cache keys a failed delete left behind, read on its own (the outage tests in
tests/test_revocation_outage.py run it through the whole app)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.backends.breaker import CircuitBreaker
from contacts_kit.backends.cache_memory import MemoryCache
from contacts_kit.db.stale_keys import StaleKey, StaleKeys


def _ticking(step: float) -> Callable[[], float]:
    """A clock that moves `step` seconds each time it is read: every reading is slow."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


async def test_a_slow_reading_still_serves_the_request_that_waited_for_it(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url)
    cache = MemoryCache(max_entries=10)
    try:
        stale = StaleKeys(engine, cache, CircuitBreaker("cache", 0), 0.5, clock=_ticking(1.0))
        # The reading starts a second after the request asked and ends a second later: it
        # saw every key written before the request, so the request may believe the cache.
        assert await stale.unsure() == frozenset()
    finally:
        await engine.dispose()


async def test_a_lost_delete_is_skipped_then_settled_once_the_cache_answers(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url)
    cache = MemoryCache(max_entries=10)
    await cache.set("contacts_kit:user:{ab}", "an ended session", 300)
    try:
        stale = StaleKeys(engine, cache, CircuitBreaker("cache", 0), 0.01)
        await stale.lost("contacts_kit:user:{ab}")
        assert await stale.unsure() == frozenset({"contacts_kit:user:{ab}"})
        # That reading deleted the entry from the cache, then the key from the table.
        assert await cache.get("contacts_kit:user:{ab}") is None
        await asyncio.sleep(0.02)  # the next request: a reading is due
        assert await stale.unsure() == frozenset()
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(StaleKey))
        await engine.dispose()
