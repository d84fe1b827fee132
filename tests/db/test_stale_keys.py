"""The table of cache keys a failed delete left behind, read on its own (the outage tests in
tests/test_revocation_outage.py run it through the whole app)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

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


async def test_a_process_that_cannot_read_the_table_believes_no_cache_entry(
    tmp_path: Path,
) -> None:
    # The table is not there (a database it cannot read): no key is to be believed, and the
    # next request does not try again before the interval.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        stale = StaleKeys(engine, MemoryCache(max_entries=10), CircuitBreaker("cache", 0), 60)
        assert await stale.unsure() is None
        assert await stale.unsure() is None
    finally:
        await engine.dispose()
