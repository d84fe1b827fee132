"""The one engine and its pool, built from `Settings`, and what a request needs to know of it.

There is no pre-ping: a read or a write's first statement that meets a connection the server
has dropped is retried once on a fresh one (`contacts_kit.http.KitRoute`). SQLAlchemy
invalidates the whole pool on such an error, so after a restart only the requests that were in
flight see it, and they are retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from contacts_kit.settings import Settings


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
        engine = create_async_engine(settings.database_url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_pre_ping=False,
            isolation_level="AUTOCOMMIT",
            connect_args=postgres_connect_args(),
        )
    return watch_statements(engine)


def postgres_connect_args() -> dict[str, Any]:
    """asyncpg's connection options."""
    # Statements are prepared once per connection; a generic plan does not know which owner
    # it serves and would scan a large book through the wrong index. Plans made for the
    # actual values cost a millisecond or two and pick the right one.
    return {"server_settings": {"plan_cache_mode": "force_custom_plan"}}


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
    """Let `counting_statements` see the statements of `engine` (a host's engine too)."""
    if not event.contains(engine.sync_engine, "after_cursor_execute", _count_statement):
        event.listen(engine.sync_engine, "after_cursor_execute", _count_statement)
    return engine


def _count_statement(*args: Any) -> None:
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
