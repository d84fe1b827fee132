"""What one read by id costs on each way down to PostgreSQL, in CPU time per read (the bench
database seeded by `python -m bench run` or `python -m bench.instructions`):

    python -m bench.driver

- `AsyncConnection.execute`: SQLAlchemy's execution (what every read used before issue 30);
- `AsyncConnection.get_raw_connection`: SQLAlchemy's connection, the statement on asyncpg;
- `AsyncEngine.raw_connection`: the pooled connection alone, the statement on asyncpg (what
  `contacts_kit.db.rows.DriverRows` does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.__main__ import DEFAULT_DATABASE
from contacts_kit.contact.repository import by_id_query
from contacts_kit.db.engine import postgres_connect_args

READS = 3000


async def _measure(name: str, read: Callable[[], Awaitable[Any]]) -> None:
    for _ in range(300):
        await read()
    started = time.process_time()
    for _ in range(READS):
        await read()
    print(f"{name:40} {(time.process_time() - started) / READS * 1e6:6.0f} us CPU per read")


async def main() -> None:
    """Each way twice, in turn."""
    url = DEFAULT_DATABASE.replace("postgresql://", "postgresql+asyncpg://")
    engine = create_async_engine(
        url, pool_size=5, isolation_level="AUTOCOMMIT", connect_args=postgres_connect_args()
    )
    async with engine.connect() as connection:
        owner, contact = (
            await connection.execute(
                text("SELECT owner_id, id FROM contacts_kit_contacts ORDER BY id LIMIT 1")
            )
        ).one()
    statement, params = by_id_query(owner, contact)
    compiled = statement.compile(dialect=engine.dialect)
    values = {name: bind.effective_value for name, bind in compiled.binds.items()} | params
    sql, args = compiled.string, [values[name] for name in compiled.positiontup or ()]

    async def execute() -> Any:
        async with engine.connect() as connection:
            return (await connection.execute(statement, params)).first()

    async def connection_driver() -> Any:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            return await raw.driver_connection.fetchrow(sql, *args)  # type: ignore[union-attr]

    async def pooled_driver() -> Any:
        raw = await engine.raw_connection()
        try:
            return await raw.driver_connection.fetchrow(sql, *args)  # type: ignore[union-attr]
        finally:
            raw.close()

    for _ in range(2):
        await _measure("AsyncConnection.execute", execute)
        await _measure("AsyncConnection.get_raw_connection", connection_driver)
        await _measure("AsyncEngine.raw_connection", pooled_driver)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
