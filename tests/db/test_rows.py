"""Reads on one pooled connection (`contacts_kit.db.rows`): PostgreSQL's straight to the
asyncpg connection, SQLite's through SQLAlchemy; the same rows either way, and the driver's
failures reported as SQLAlchemy reports them, so the routes answer them the same."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import Integer, bindparam, event, func, literal_column, select, table, text
from sqlalchemy.exc import DBAPIError

from contacts_kit.db.engine import (
    counting_statements,
    database_unavailable,
    lost_connection,
    make_engine,
    missing_schema,
)
from contacts_kit.db.rows import ConnectionRows, DriverRows, rows_for
from tests.conftest import make_settings

pytestmark = pytest.mark.postgres_only

# Values of each kind a contact's row holds, bound and literal.
STATEMENT = select(
    bindparam("number", type_=Integer()).label("number"),
    func.nullif(literal_column("''"), "").label("missing"),
    text('\'["a", "b"]\'::json AS tags'),
    text("timestamptz '2026-03-01 12:30:15.25+00' AS at"),
    text("date '1990-01-02' AS day"),
)


async def test_the_driver_gives_the_rows_sqlalchemy_gives(
    postgres_database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(make_settings(postgres_database_url, tmp_path))
    try:
        assert isinstance(rows_for(engine), DriverRows)
        assert isinstance(rows_for(engine, pgbouncer=True), DriverRows)
        with counting_statements() as count:
            driver = await DriverRows().fetch(engine, STATEMENT, {"number": 7})
            in_transaction = await DriverRows(in_transaction=True).fetch(
                engine, STATEMENT, {"number": 8}
            )
        assert count.completed == 2  # what a request's retry rule counts
        through_sqlalchemy = await ConnectionRows().fetch(engine, STATEMENT, {"number": 7})
        assert [tuple(row) for row in driver] == [tuple(row) for row in through_sqlalchemy]
        assert tuple(driver[0])[2] == ["a", "b"]  # JSON decoded, as SQLAlchemy decodes it
        assert in_transaction[0][0] == 8
    finally:
        await engine.dispose()


async def test_sqlite_reads_through_sqlalchemy(tmp_path: Path) -> None:
    engine = make_engine(make_settings(f"sqlite+aiosqlite:///{tmp_path}/rows.db", tmp_path))
    try:
        rows = rows_for(engine)
        assert isinstance(rows, ConnectionRows)
        [row] = await rows.fetch(engine, select(bindparam("n", type_=Integer())), {"n": 3})
        assert tuple(row) == (3,)
    finally:
        await engine.dispose()


async def test_a_missing_table_is_reported_as_sqlalchemy_reports_it(
    postgres_database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(make_settings(postgres_database_url, tmp_path))
    try:
        statement = select(literal_column("1")).select_from(table("no_such_table"))
        with pytest.raises(DBAPIError) as raised:
            await DriverRows().fetch(engine, statement, {})
        assert missing_schema(raised.value)  # the route answers "run the migrations"
        assert not lost_connection(raised.value)
    finally:
        await engine.dispose()


async def test_a_connection_the_server_closed_is_replaced_before_the_read(
    postgres_database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(make_settings(postgres_database_url, tmp_path, database_pool_size=1))
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *args: opened.append(args))
    reads = DriverRows()
    try:
        [first] = await reads.fetch(engine, select(func.pg_backend_pid()), {})
        admin = make_engine(make_settings(postgres_database_url, tmp_path))
        async with admin.begin() as connection:
            await connection.execute(select(func.pg_terminate_backend(first[0])))
        await admin.dispose()
        # Once the loop has seen the socket close, the read takes a new connection; a read
        # that meets the closing first fails as a lost connection (a request runs again).
        failures: list[BaseException] = []
        try:
            [second] = await reads.fetch(engine, select(func.pg_backend_pid()), {})
        except DBAPIError as exc:
            failures.append(exc)
            [second] = await reads.fetch(engine, select(func.pg_backend_pid()), {})
        assert all(lost_connection(failure) for failure in failures)
        assert second[0] != first[0]
        assert len(opened) == 2
    finally:
        await engine.dispose()


async def test_a_statement_past_its_timeout_is_a_database_unavailable(
    postgres_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        postgres_database_url, tmp_path, database_statement_timeout="PT0.2S", database_pool_size=1
    )
    engine = make_engine(settings)
    try:
        # The server cancels it (SQLSTATE 57014) or the client gives up on it first (the
        # connection then goes: it may still be busy); either way a 503, then reads go on.
        with pytest.raises(DBAPIError) as raised:
            await DriverRows().fetch(engine, select(func.pg_sleep(5)), {})
        assert database_unavailable(raised.value)
        [row] = await DriverRows().fetch(engine, select(literal_column("1")), {})
        assert tuple(row) == (1,)
    finally:
        await engine.dispose()


async def test_connections_beyond_the_pool_are_closed_when_given_back(
    postgres_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A pool of one with overflow: four reads at once open three more connections, which the
    # pool would close when given back (an await, which only SQLAlchemy may do): they are
    # closed by the read instead, and the pool keeps its one.
    settings = make_settings(
        postgres_database_url, tmp_path, database_pool_size=1, database_max_overflow=3
    )
    engine = make_engine(settings)
    reads = DriverRows()
    try:
        with caplog.at_level(logging.ERROR, logger="sqlalchemy.pool"):
            found = await asyncio.gather(
                *(
                    reads.fetch(engine, select(func.pg_sleep(0.05), func.pg_backend_pid()), {})
                    for _ in range(4)
                )
            )
        assert len({rows[0][1] for rows in found}) == 4  # four connections at once
        pool = engine.sync_engine.pool
        assert pool.checkedout() == 0
        assert pool.checkedin() == 1  # type: ignore[attr-defined]
        assert "Exception closing connection" not in caplog.text
        [again] = await reads.fetch(engine, select(func.pg_backend_pid()), {})
        assert again[0] in {rows[0][1] for rows in found}
    finally:
        await engine.dispose()
