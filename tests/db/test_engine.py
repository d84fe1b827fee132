"""One engine, one pool: a worker never holds more connections than its budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.migrate import upgrade
from contacts_kit.settings import normalize_database_url
from tests.conftest import RunningApp, auth_headers, make_settings
from tests.server import temporary_database
from tests.services import unavailable

POOL_SIZE, MAX_OVERFLOW = 3, 2


@pytest.fixture
def own_database(postgres_server_url: str | None) -> Iterator[str]:
    """A database no other test uses, so every connection to it is this test's."""
    if postgres_server_url is None:
        unavailable("PostgreSQL")
    assert postgres_server_url is not None
    with temporary_database(postgres_server_url, "contacts_kit_budget") as url:
        upgrade(url)
        yield url


async def test_32_concurrent_reads_hold_at_most_pool_size_plus_overflow_connections(
    own_database: str, tmp_path: Path
) -> None:
    url = own_database
    name = make_url(normalize_database_url(url)).database
    settings = make_settings(
        url, tmp_path, database_pool_size=POOL_SIZE, database_max_overflow=MAX_OVERFLOW
    )
    monitor = create_async_engine(
        make_url(normalize_database_url(url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with RunningApp(settings) as running:
            headers = await auth_headers(running.client, "budget@example.com")
            peak = 0
            done = asyncio.Event()

            async def watch() -> None:
                nonlocal peak
                async with monitor.connect() as connection:
                    while not done.is_set():
                        count = await connection.scalar(
                            text("SELECT count(*) FROM pg_stat_activity WHERE datname = :n"),
                            {"n": name},
                        )
                        peak = max(peak, int(count or 0))
                        await asyncio.sleep(0.001)

            watcher = asyncio.create_task(watch())
            for _ in range(3):
                responses = await asyncio.gather(
                    *(
                        running.client.get(path, headers=headers)
                        for path in ["/api/contacts", "/api/contacts/birthdays"] * 16
                    )
                )
                assert [response.status_code for response in responses] == [200] * 32
            done.set()
            await watcher
    finally:
        await monitor.dispose()
    assert POOL_SIZE <= peak <= POOL_SIZE + MAX_OVERFLOW
