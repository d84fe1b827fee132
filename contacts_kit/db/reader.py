"""Reads of one statement, sent the cheapest way the database allows.

Every authenticated read of the address book is one `SELECT`. On PostgreSQL it goes through an
asyncpg pool of its own: the statement (still SQLAlchemy Core, built in a repository) is
compiled once to asyncpg's `$n` SQL and then runs as a prepared statement, with no SQLAlchemy
execution machinery, no pre-ping round trip at checkout and no reset query at release. A
connection the server has dropped costs one retry, which is safe because a read changes
nothing. On other databases (SQLite) the same statements run through the SQLAlchemy engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, TypeAlias, cast

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import Select

logger = logging.getLogger("contacts_kit.db")

Row: TypeAlias = Mapping[Any, Any]
"""A row as read: column name to value."""

Statement: TypeAlias = Select[*tuple[Any, ...]]
"""A read statement whose values are all bound parameters."""

QueryObserver: TypeAlias = Callable[[str], None]


class Reader(Protocol):
    """Runs single read statements whose values are all bound parameters."""

    async def fetch(self, statement: Statement, params: Mapping[str, Any]) -> Sequence[Row]:
        """Every row of `statement`."""
        ...

    async def fetchrow(self, statement: Statement, params: Mapping[str, Any]) -> Row | None:
        """The first row of `statement`, if any."""
        ...


class ReadPool(Reader, Protocol):
    """A `Reader` of its own connections, for the reads outside any transaction."""

    async def ping(self) -> None:
        """Raise unless the database answers."""
        ...

    async def close(self) -> None:
        """Let go of the connections."""
        ...


def make_read_pool(engine: AsyncEngine, size: int) -> ReadPool:
    """An asyncpg pool beside `engine` on PostgreSQL, the engine itself elsewhere."""
    if engine.dialect.driver == "asyncpg":
        from contacts_kit.db.engine import postgres_connect_args

        return AsyncpgReader(engine, size, postgres_connect_args())
    return EngineReader(engine)


class SessionReader:
    """Reads inside a request's transaction (after a write, for instance)."""

    def __init__(self, session: AsyncSession | AsyncConnection) -> None:
        self.session = session

    async def fetch(self, statement: Statement, params: Mapping[str, Any]) -> Sequence[Row]:
        """Every row of `statement`."""
        result = await self.session.execute(statement, params)
        return result.mappings().all()

    async def fetchrow(self, statement: Statement, params: Mapping[str, Any]) -> Row | None:
        """The first row of `statement`, if any."""
        result = await self.session.execute(statement, params)
        return result.mappings().first()


class EngineReader:
    """Reads on a pooled connection of the engine, without a transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def fetch(self, statement: Statement, params: Mapping[str, Any]) -> Sequence[Row]:
        """Every row of `statement`."""
        async with self.engine.connect() as connection:
            return await SessionReader(connection).fetch(statement, params)

    async def fetchrow(self, statement: Statement, params: Mapping[str, Any]) -> Row | None:
        """The first row of `statement`, if any."""
        async with self.engine.connect() as connection:
            return await SessionReader(connection).fetchrow(statement, params)

    async def ping(self) -> None:
        """Raise unless the database answers."""
        from sqlalchemy import text

        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Nothing of its own to close: the engine is disposed of by its owner."""


MAX_STATEMENTS = 256


class CompiledRead(NamedTuple):
    """A read statement as asyncpg runs it: `$n` SQL and where each argument comes from."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `params`."""
        values = {**self.fixed, **params} if self.fixed else params
        return [values[name] for name in self.names]


def compile_read(statement: Statement, dialect: Dialect) -> CompiledRead:
    """`statement` compiled for asyncpg. Literals of the statement (a `CASE ... THEN 1`) are
    parameters too, whose values the statement carries; the rest are the caller's to give."""
    result = statement.compile(dialect=dialect)
    fixed = {name: bind.effective_value for name, bind in result.binds.items() if not bind.required}
    return CompiledRead(result.string, tuple(result.positiontup or ()), fixed)


async def _keep_session(connection: Any) -> None:
    """Release without asyncpg's reset query: reads change no session state, and asyncpg
    still rolls back a transaction left open before calling this."""


class AsyncpgReader:
    """Reads on an asyncpg pool of `size` connections, opened at the first read."""

    def __init__(self, engine: AsyncEngine, size: int, connect_args: Mapping[str, Any]) -> None:
        self.dialect = engine.dialect
        _, kwargs = engine.dialect.create_connect_args(engine.url)
        # Options that SQLAlchemy's dialect consumes itself, in asyncpg's own terms.
        kwargs.pop("prepared_statement_name_func", None)
        kwargs["statement_cache_size"] = kwargs.pop("prepared_statement_cache_size", 100)
        self._connect_kwargs: dict[str, Any] = {**kwargs, **connect_args}
        self.size = size
        self._pool: Any = None
        self._lock = asyncio.Lock()
        self._gate = asyncio.Semaphore(size)
        self._compiled: dict[Statement, CompiledRead] = {}
        self.observers: list[QueryObserver] = []

    def _compile(self, statement: Statement) -> CompiledRead:
        compiled = self._compiled.get(statement)
        if compiled is None:
            compiled = compile_read(statement, self.dialect)
            if len(self._compiled) >= MAX_STATEMENTS:
                # Repositories keep their statements, so this only guards against a caller
                # that builds a new one per request.
                self._compiled.clear()
            self._compiled[statement] = compiled
        return compiled

    async def _open(self) -> Any:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    min_size=1, max_size=self.size, reset=_keep_session, **self._connect_kwargs
                )
        return self._pool

    async def _run(self, method: str, statement: Statement, params: Mapping[str, Any]) -> Any:
        compiled = self._compile(statement)
        sql, args = compiled.sql, compiled.args(params)
        for observe in self.observers:
            observe(sql)
        pool = self._pool or await self._open()
        # First come, first served: asyncpg's pool hands a released connection to whichever
        # acquire runs next, so under load a waiting read can lose it again and again (a p99
        # of 100+ ms at 32 connections on a pool of 10, docs/benchmarks.md). The semaphore
        # admits at most `size` reads and wakes the waiting ones in order.
        async with self._gate:
            try:
                return await getattr(pool, method)(sql, *args)
            except (
                asyncpg.PostgresConnectionError,
                asyncpg.AdminShutdownError,
                asyncpg.InterfaceError,
                asyncpg.InternalClientError,
                ConnectionError,
            ) as exc:
                # The server dropped connections we held (restart, failover, terminated
                # backends): replace every idle one and try once more on a fresh connection.
                # A query sent just as the server's goodbye arrives surfaces as a protocol
                # state error (InternalClientError), so that counts as a lost connection too.
                logger.warning("read on a lost connection (%s); retrying", type(exc).__name__)
                await pool.expire_connections()
                return await getattr(pool, method)(sql, *args)

    async def fetch(self, statement: Statement, params: Mapping[str, Any]) -> Sequence[Row]:
        """Every row of `statement`."""
        return cast(Sequence[Row], await self._run("fetch", statement, params))

    async def fetchrow(self, statement: Statement, params: Mapping[str, Any]) -> Row | None:
        """The first row of `statement`, if any."""
        return cast(Row | None, await self._run("fetchrow", statement, params))

    async def ping(self) -> None:
        """Raise unless the database answers on this pool."""
        pool = self._pool or await self._open()
        async with self._gate:
            await pool.fetchval("SELECT 1")

    async def close(self) -> None:
        """Close the pool; the next read opens a new one, possibly in another event loop."""
        pool, self._pool = self._pool, None
        # A lock or semaphore that made someone wait is bound to that event loop.
        self._lock = asyncio.Lock()
        self._gate = asyncio.Semaphore(self.size)
        if pool is not None:
            await pool.close()
