"""The read pool: statements compiled once, and lost connections replaced on the next read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, bindparam, literal_column, select

from contacts_kit import ContactsKit
from contacts_kit.contact.models import Contact
from contacts_kit.db.reader import AsyncpgReader
from tests.conftest import make_settings
from tests.test_faults import _terminate_connections_to


@asynccontextmanager
async def _read_pool(url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[AsyncpgReader]:
    """The read pool of a kit on `url`; closed, with the kit's engine, afterwards."""
    kit = ContactsKit(make_settings(url, tmp_path, **settings))
    assert isinstance(kit.read_pool, AsyncpgReader)
    try:
        yield kit.read_pool
    finally:
        await kit.read_pool.close()
        await kit.engine.dispose()


_BY_OWNER = select(Contact.id, literal_column("7").label("seven")).where(
    Contact.owner_id == bindparam("owner_id")
)


async def test_reads_survive_every_pooled_connection_being_killed(
    postgres_database_url: str, tmp_path: Path
) -> None:
    owner = {"owner_id": uuid.uuid4()}
    async with _read_pool(postgres_database_url, tmp_path, database_pool_size=4) as pool:
        # Four reads at once: the pool opens four connections.
        await asyncio.gather(*(pool.fetch(_BY_OWNER, owner) for _ in range(4)))
        assert await _terminate_connections_to(postgres_database_url) >= 4
        # Each of these would land on a dead connection; each gets a fresh one instead.
        results = await asyncio.gather(*(pool.fetch(_BY_OWNER, owner) for _ in range(4)))
        assert results == [[], [], [], []]
        await pool.ping()


async def test_a_statement_is_compiled_once_with_its_literals_bound(
    postgres_database_url: str, tmp_path: Path
) -> None:
    seen: list[str] = []
    statement = select(literal_column("1").label("one"), bindparam("x", 5).label("five")).where(
        bindparam("n", type_=Integer()) > 0
    )
    async with _read_pool(postgres_database_url, tmp_path) as pool:
        pool.observers.append(seen.append)
        first = await pool.fetchrow(statement, {"n": 1})
        second = await pool.fetchrow(statement, {"n": 2})
        assert first is not None
        assert second is not None
        assert (first["one"], first["five"]) == (1, 5)  # the literal 5 travels as a parameter
        assert len(seen) == 2
        assert seen[0] == seen[1]
        assert "$1" in seen[0]
        assert len(pool._compiled) == 1


def test_the_pool_reopens_in_a_new_event_loop_after_close(
    postgres_database_url: str, tmp_path: Path
) -> None:
    # A host app's test client may run each lifespan in an event loop of its own.
    kit = ContactsKit(make_settings(postgres_database_url, tmp_path))
    owner = {"owner_id": uuid.uuid4()}

    async def burst() -> list[object]:
        try:
            return list(
                await asyncio.gather(*(kit.read_pool.fetch(_BY_OWNER, owner) for _ in range(3)))
            )
        finally:
            await kit.read_pool.close()

    assert asyncio.run(burst()) == [[], [], []]
    assert asyncio.run(burst()) == [[], [], []]
    asyncio.run(kit.engine.dispose())


async def test_reads_waiting_for_a_connection_are_served_in_order(
    postgres_database_url: str, tmp_path: Path
) -> None:
    # One connection, and a new read arriving on every turn of the event loop, as requests
    # do under load. asyncpg's pool gives a released connection to whichever read asks next,
    # so a newcomer can take it from a read that has been waiting, again and again: the tail
    # latency of docs/benchmarks.md. In order, every read is served before any that came
    # after it.
    statement = select(bindparam("n", type_=Integer()).label("n"))
    served: list[int] = []

    async def read(pool: AsyncpgReader, n: int) -> None:
        row = await pool.fetchrow(statement, {"n": n})
        assert row is not None
        served.append(row["n"])

    async with _read_pool(postgres_database_url, tmp_path, database_pool_size=1) as pool:
        await pool.ping()  # the connection exists before the reads queue up
        tasks = []
        for n in range(300):
            tasks.append(asyncio.create_task(read(pool, n)))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        assert served == list(range(300))
