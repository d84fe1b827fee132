"""Engine and session factories built from `Settings`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
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
    """An async engine for `settings.database_url`; SQLite gets foreign keys and WAL."""
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Connections rest in autocommit: a read is one round trip (no BEGIN/COMMIT) and the
    # pre-ping at checkout is one `;` rather than BEGIN, `;`, ROLLBACK. Writes run through
    # `transactional()`, which gives their session real transactions.
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        isolation_level="AUTOCOMMIT",
        connect_args=postgres_connect_args(),
    )


def postgres_connect_args() -> dict[str, Any]:
    """asyncpg's connection options, shared by the engine and the read pool."""
    # Statements are prepared once per connection; a generic plan does not know which owner
    # it serves and would scan a large book through the wrong index. Plans made for the
    # actual values cost a millisecond or two and pick the right one.
    return {"server_settings": {"plan_cache_mode": "force_custom_plan"}}


def transactional(engine: AsyncEngine) -> AsyncEngine:
    """The engine writes go through: READ COMMITTED transactions on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="READ COMMITTED")
    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
