"""Rows of one read statement on one pooled connection: the read side of every repository.

On PostgreSQL a read goes down to the asyncpg connection that SQLAlchemy's pool holds
(`AsyncEngine.raw_connection()` and its `driver_connection`, SQLAlchemy's documented way to
the driver): the statement is compiled once per shape, asyncpg prepares it once per
connection, and the rows come back as asyncpg records, without a cursor wrapper, a `Result`
or SQLAlchemy's per-execution bookkeeping around them (docs/benchmarks-log.md has what that
saves). The pool is the engine's own: its size, a replica's fallback to the primary, its
connection options, its JSON codecs.

Anything else (SQLite) reads through `AsyncConnection.execute`, as before.

Both give rows that unpack like tuples, with the same Python values: a repository builds its
records from either without knowing which.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.sql import Executable

from contacts_kit.db.engine import count_statement

Row = Any
"""A row that unpacks like a tuple: an asyncpg `Record` or a SQLAlchemy `Row`."""


class Rows(Protocol):
    """Runs a read statement on a connection of its own and gives its rows."""

    async def fetch(
        self, engine: AsyncEngine, statement: Executable, params: Mapping[str, Any]
    ) -> list[Row]:
        """The rows of `statement` with `params`, read on a pooled connection of `engine`."""
        ...


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]
    """Values the statement binds itself (a literal `''`), by parameter name."""


# asyncpg's errors that leave the connection unusable: a socket gone, a timeout (the
# statement may still run), a connection asyncpg itself knows to be closed or in a state it
# cannot go on from (a server's FATAL message met mid-way).
_LOST = (
    OSError,
    TimeoutError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


_BORN = "contacts_kit.born"


def _note_birth(dbapi_connection: Any, record: Any) -> None:
    """When a pooled connection was opened (SQLAlchemy's `connect` event)."""
    record.info[_BORN] = time.monotonic()


class DriverRows:
    """PostgreSQL reads on the asyncpg connection of a pooled SQLAlchemy connection.

    Args:
        in_transaction: run each read in a read-only transaction (behind PgBouncer in
            transaction mode, where a statement's prepare and its execution must meet one
            server connection).
    """

    def __init__(self, *, in_transaction: bool = False) -> None:
        self.in_transaction = in_transaction
        self._compiled: dict[tuple[int, Executable], _Compiled] = {}
        self._lost: dict[int, float] = {}
        self._watched: set[int] = set()
        """When each pool (by id) last lost a connection (`time.monotonic`)."""

    def _compile(self, engine: AsyncEngine, statement: Executable) -> _Compiled:
        key = (id(engine.dialect), statement)
        compiled = self._compiled.get(key)
        if compiled is None:
            result = statement.compile(dialect=engine.dialect)  # type: ignore[attr-defined]
            fixed = {
                name: bind.effective_value
                for name, bind in result.binds.items()
                if not bind.required
            }
            compiled = _Compiled(result.string, tuple(result.positiontup or ()), fixed)
            self._compiled[key] = compiled
        return compiled

    async def fetch(
        self, engine: AsyncEngine, statement: Executable, params: Mapping[str, Any]
    ) -> list[Row]:
        """The rows of `statement`, as asyncpg records."""
        sql, names, fixed = self._compile(engine, statement)
        args = [params[name] if name in params else fixed[name] for name in names]
        pool = engine.sync_engine.pool
        if not isinstance(pool, QueuePool):
            # A pool that may close what it is given back (a host's NullPool): SQLAlchemy
            # must be the one to give it back.
            async with engine.connect() as connection:
                rows = await self._run(await connection.get_raw_connection(), sql, args)
            count_statement()
            return rows
        pooled = await self._open_connection(engine)
        try:
            rows = await self._run(pooled, sql, args)
        except OperationalError as exc:
            if exc.connection_invalidated:
                # As SQLAlchemy does on a disconnect: the connections opened before this
                # moment are suspect (a server restarted, a replica stopped), and are
                # replaced as they are taken, rather than failing one request each.
                self._lost[id(pool)] = time.monotonic()
            raise
        finally:
            if pooled.is_valid and pool.checkedin() >= pool.size():
                # The pool is full: it would close this one, which takes awaiting; closed
                # here instead (an overflow connection, when the pool has overflow).
                pooled.invalidate()
            pooled.close()
        count_statement()
        return rows

    async def _open_connection(self, engine: AsyncEngine) -> PoolProxiedConnection:
        """A pooled connection whose socket is open and that was opened after the pool's last
        lost connection: others (a server closed it while it rested, or it is from before a
        failure) are dropped, and another taken."""
        sync_engine = engine.sync_engine
        if id(sync_engine) not in self._watched:  # once per engine, not once per read
            if not event.contains(sync_engine, "connect", _note_birth):
                event.listen(sync_engine, "connect", _note_birth)
            self._watched.add(id(sync_engine))
        lost = self._lost.get(id(sync_engine.pool), 0.0)
        while True:
            pooled = await engine.raw_connection()
            driver = pooled.driver_connection
            suspect = lost and pooled.info.get(_BORN, 0.0) < lost
            if driver is not None and not driver.is_closed() and not suspect:
                return pooled
            pooled.invalidate()
            pooled.close()

    async def _run(self, pooled: PoolProxiedConnection, sql: str, args: list[Any]) -> list[Row]:
        """The rows of `sql` on the asyncpg connection of `pooled`, which is invalidated (kept
        out of the pool) when it failed or may still be busy."""
        driver: asyncpg.Connection[Any] | None = pooled.driver_connection
        assert driver is not None, "a pooled connection holds its driver's"
        try:
            if self.in_transaction:
                async with driver.transaction(readonly=True):
                    return await driver.fetch(sql, *args)
            return await driver.fetch(sql, *args)
        except _LOST as exc:
            pooled.invalidate(exc)
            raise OperationalError(sql, args, exc, connection_invalidated=True) from exc
        except asyncpg.PostgresError as exc:
            # As SQLAlchemy would raise it: the SQLSTATE on `orig`, for the route's answers.
            raise DBAPIError(sql, args, exc) from exc
        except BaseException:
            pooled.invalidate()  # cancelled mid-statement: the connection may still be busy
            raise


class ConnectionRows:
    """Reads through SQLAlchemy's `AsyncConnection.execute` (SQLite)."""

    async def fetch(
        self, engine: AsyncEngine, statement: Executable, params: Mapping[str, Any]
    ) -> list[Row]:
        """The rows of `statement`, as SQLAlchemy rows."""
        async with engine.connect() as connection:
            return list(await connection.execute(statement, dict(params)))


def rows_for(engine: AsyncEngine, *, pgbouncer: bool = False) -> Rows:
    """How reads of `engine` (and of its replicas, which speak the same dialect) fetch rows."""
    if engine.dialect.driver == "asyncpg":
        return DriverRows(in_transaction=pgbouncer)
    return ConnectionRows()
