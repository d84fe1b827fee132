"""Run the library's own alembic migrations, from a checkout or from an installed wheel."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from contacts_kit.settings import normalize_database_url

VERSION_TABLE = "contacts_kit_alembic_version"


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


async def upgrade_connection(connection: AsyncConnection, revision: str = "head") -> None:
    """Upgrade through an open async connection (usable from a running event loop)."""

    def _upgrade(sync_connection: object) -> None:
        config = alembic_config(str(connection.engine.url.render_as_string(hide_password=False)))
        config.attributes["connection"] = sync_connection
        command.upgrade(config, revision)

    await connection.run_sync(_upgrade)


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


def is_migration_only_index(name: str | None) -> bool:
    """Indexes the migrations create on PostgreSQL only, absent from the models on purpose."""
    return bool(name and name.endswith("_trgm"))
