"""Run the library's own alembic migrations, from a checkout or from an installed wheel, or
from a host's own alembic `env.py`; and keep a host's alembic off the kit's tables.

In a host's `env.py` (sync or async alike; the connection is a sync one, as alembic hands it
to `run_migrations_online`):

    from contacts_kit.migrate import include_object, upgrade_sync_connection

    def do_run_migrations(connection):
        upgrade_sync_connection(connection)  # the kit's tables, in its own version table
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,  # autogenerate and `alembic check` skip the kit's
        )
        with context.begin_transaction():
            context.run_migrations()
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, MigrationStep, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from contacts_kit.settings import normalize_database_url

VERSION_TABLE = "contacts_kit_alembic_version"
TABLE_PREFIX = "contacts_kit_"
"""Every table of the kit (its alembic version table included) is named with this prefix."""


def migrations_dir() -> Path:
    """The `migrations` folder: inside the installed package, or at the top of a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("contacts-kit migrations not found next to the package")


def alembic_config(database_url: str) -> Config:
    """An alembic `Config` for our migrations, built without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", normalize_database_url(database_url))
    return config


@functools.cache
def revisions() -> tuple[str, frozenset[str]]:
    """The head revision of the shipped migrations, and every revision they know (read from
    the migration files once per process, when first asked)."""
    script = ScriptDirectory(str(migrations_dir()))
    head = script.get_current_head()
    if head is None:
        raise FileNotFoundError("contacts-kit migrations have no head revision")
    return head, frozenset(revision.revision for revision in script.walk_revisions())


def context_options(connection: Connection) -> dict[str, Any]:
    """How the kit's migrations run on `connection`: its own version table, SQLite's tables
    rebuilt in batches (`migrations/env.py` uses the same)."""
    import contacts_kit.models  # noqa: F401 (registers every table on the metadata)
    from contacts_kit.db.base import Base

    return {
        "target_metadata": Base.metadata,
        "version_table": VERSION_TABLE,
        "render_as_batch": connection.dialect.name == "sqlite",
        "compare_type": True,
    }


def upgrade_sync_connection(connection: Connection, revision: str = "head") -> None:
    """Upgrade the kit's tables through an open sync connection, in its transaction: from a
    host's alembic `env.py` too. It runs the kit's migrations without its `env.py` and
    leaves alembic's `context` (the host's running environment) as it was."""
    script = ScriptDirectory(str(migrations_dir()))

    def steps(current: Any, context: MigrationContext) -> list[RevisionStep]:
        # What `alembic upgrade` runs: every revision after the current one, oldest first.
        found = script.iterate_revisions(revision, current, implicit_base=True)
        return [
            MigrationStep.upgrade_from_script(script.revision_map, each)
            for each in reversed(list(found))
        ]

    environment = EnvironmentContext(Config(), script, fn=steps, destination_rev=revision)
    environment.configure(connection=connection, **context_options(connection))
    with environment.begin_transaction():
        environment.run_migrations()


async def upgrade_connection(connection: AsyncConnection, revision: str = "head") -> None:
    """Upgrade through an open async connection (usable from a running event loop)."""
    await connection.run_sync(upgrade_sync_connection, revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind `engine` to `revision`, in one transaction."""
    async with engine.begin() as connection:
        await upgrade_connection(connection, revision)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at `database_url`; call it where no event loop is running."""

    async def _run() -> None:
        engine = create_async_engine(normalize_database_url(database_url))
        try:
            await upgrade_engine(engine, revision)
        finally:
            await engine.dispose()

    asyncio.run(_run())


def include_object(
    object: Any,
    name: str | None,
    type_: str,
    reflected: bool,
    compare_to: Any,
) -> bool:
    """A host's alembic `include_object` filter: False for the kit's tables (its version
    table included) and for everything on them, so the host's `alembic revision
    --autogenerate` never drops them and `alembic check` passes. Chain it with a filter of
    your own: `lambda *args: include_object(*args) and mine(*args)`."""
    table = name if type_ == "table" else getattr(getattr(object, "table", None), "name", "")
    return not str(table or "").startswith(TABLE_PREFIX)


def is_migration_only_index(name: str | None) -> bool:
    """Indexes the migrations create on PostgreSQL only, absent from the models on purpose."""
    return bool(name and name.endswith("_trgm"))
