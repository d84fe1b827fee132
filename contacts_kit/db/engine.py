"""The one engine and its pool, built from `Settings`, and what a request needs to know of it.

There is no pre-ping: a read or a write's first statement that meets a connection the server
has dropped is retried once on a fresh one (`contacts_kit.http.KitRoute`). SQLAlchemy
invalidates the whole pool on such an error, so after a restart only the requests that were in
flight see it, and they are retried.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from contacts_kit.settings import Settings


# JSON columns (a contact's tags) are read with pydantic-core's parser: a page of twenty
# contacts spent a tenth of its time in `json.loads`.
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(settings: Settings) -> AsyncEngine:
    """The engine of `settings.database_url`: SQLite gets foreign keys and WAL; PostgreSQL a
    pool of `database_pool_size` + `database_max_overflow` connections that rest in
    autocommit, so that a read is one round trip (no BEGIN/COMMIT)."""
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url, json_deserializer=from_json)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        connect = settings.database_connect_timeout.total_seconds()
        statement = settings.database_statement_timeout.total_seconds()
        engine = create_async_engine(
            settings.database_url,
            json_deserializer=from_json,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=connect,
            pool_pre_ping=False,
            # Reads rest in autocommit: one round trip. Behind PgBouncer in transaction mode
            # every statement must be in a transaction, or its prepare and its execute may
            # meet two server connections.
            isolation_level="READ COMMITTED" if settings.database_pgbouncer else "AUTOCOMMIT",
            connect_args=postgres_connect_args(
                connect_timeout=connect,
                statement_timeout=statement,
                pgbouncer=settings.database_pgbouncer,
            ),
        )
    return watch_statements(engine)


def _statement_name() -> str:
    """A prepared statement's name no other client of a PgBouncer server connection uses."""
    return f"__contacts_kit_{uuid.uuid4().hex}__"


def postgres_connect_args(
    *,
    connect_timeout: float | None = None,
    statement_timeout: float | None = None,
    pgbouncer: bool = False,
) -> dict[str, Any]:
    """asyncpg's connection options."""
    # Statements are prepared once per connection; a generic plan does not know which owner
    # it serves and would scan a large book through the wrong index. Plans made for the
    # actual values cost a millisecond or two and pick the right one.
    server_settings = {"plan_cache_mode": "force_custom_plan"}
    args: dict[str, Any] = {"server_settings": server_settings}
    if connect_timeout is not None:
        args["timeout"] = connect_timeout
    if statement_timeout is not None:
        # The server stops a runaway statement; the client gives up on a server that does
        # not answer at all.
        server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
        args["command_timeout"] = statement_timeout
    if pgbouncer:
        # Transaction pooling hands each transaction any server connection: a statement
        # prepared on one is unknown on the next, and asyncpg's statement names collide
        # between clients. Nothing is cached, every name is unique (SQLAlchemy's asyncpg
        # dialect options), and PgBouncer refuses startup parameters it does not know. Each
        # statement is prepared afresh, so plans are custom ones anyway.
        args.update(
            statement_cache_size=0,
            prepared_statement_cache_size=0,
            prepared_statement_name_func=_statement_name,
            server_settings={},
        )
    return args


def transactional(engine: AsyncEngine) -> AsyncEngine:
    """The engine writes go through: READ COMMITTED transactions on PostgreSQL (the same
    pool: `execution_options` makes a proxy, not a second engine)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="READ COMMITTED")
    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass
class StatementCount:
    """Statements that completed in one request (see `counting_statements`)."""

    completed: int = 0


_current_count: ContextVar[StatementCount | None] = ContextVar(
    "contacts_kit_statement_count", default=None
)


def watch_statements(engine: AsyncEngine) -> AsyncEngine:
    """Let `counting_statements` see the statements of `engine` (a host's engine too), and
    have a connection that timed out replaced rather than reused."""
    sync_engine = engine.sync_engine
    if not event.contains(sync_engine, "after_cursor_execute", count_statement):
        event.listen(sync_engine, "after_cursor_execute", count_statement)
    if not event.contains(sync_engine, "handle_error", _timeout_is_a_disconnect):
        event.listen(sync_engine, "handle_error", _timeout_is_a_disconnect)
    return engine


def _timeout_is_a_disconnect(context: ExceptionContext) -> None:
    # A statement the client gave up on may still be running, or the server may be gone:
    # either way the connection must not go back to the pool.
    if isinstance(context.original_exception, TimeoutError):
        context.is_disconnect = True


def count_statement(*args: Any) -> None:
    """One more statement completed in this task (`counting_statements`): SQLAlchemy's
    `after_cursor_execute` calls it, and the reads that go straight to the driver."""
    count = _current_count.get()
    if count is not None:
        count.completed += 1


@contextmanager
def counting_statements() -> Iterator[StatementCount]:
    """Count the statements that complete while the block runs (in this task)."""
    count = StatementCount()
    token = _current_count.set(count)
    try:
        yield count
    finally:
        _current_count.reset(token)


def lost_connection(exc: BaseException) -> bool:
    """Whether `exc` is the database driver reporting a connection that is gone."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


_UNAVAILABLE = (
    PoolTimeout,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


# SQLSTATEs of a server that cannot serve now: connection exceptions (class 08), a statement
# cancelled by `statement_timeout`, a shutdown, too many connections or out of resources.
_UNAVAILABLE_STATES = frozenset({"57014", "57P01", "57P02", "57P03", "53300", "53400"})


# SQLSTATEs of a statement naming a table or a column that does not exist.
_MISSING_SCHEMA_STATES = frozenset({"42P01", "42703"})
_MISSING_SCHEMA_SQLITE = ("no such table", "no such column", "has no column named")


def missing_schema(exc: BaseException) -> bool:
    """Whether `exc` says a table or column is missing: the migrations were not run."""
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str):
        return state in _MISSING_SCHEMA_STATES
    message = str(exc.orig)
    return isinstance(exc, OperationalError) and message.startswith(_MISSING_SCHEMA_SQLITE)


_DATABASE_MODULES = ("sqlalchemy.", "asyncpg", "aiosqlite")


def _raised_by_database(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) came out of SQLAlchemy or a driver: a
    `TimeoutError` or `ConnectionError` of anything else (a host's dependency) is not the
    database's to answer."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        trace = current.__traceback__
        while trace is not None:
            if str(trace.tb_frame.f_globals.get("__name__", "")).startswith(_DATABASE_MODULES):
                return True
            trace = trace.tb_next
        current = current.__cause__ or current.__context__
    return False


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached or did not answer in time (asyncpg
    raises refused connections and timeouts unwrapped: they count when SQLAlchemy or the
    driver raised them, never when a host's own code did)."""
    if lost_connection(exc):
        return True
    if isinstance(exc, _UNAVAILABLE):
        return isinstance(exc, DBAPIError | PoolTimeout) or _raised_by_database(exc)
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_STATES)
