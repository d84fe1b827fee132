"""A host's own alembic project beside contacts-kit on PostgreSQL: its autogenerate and
`alembic check` leave the kit's tables alone, and its `env.py` (async or sync) runs the
kit's upgrade too."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import alembic
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.cli import main
from contacts_kit.settings import normalize_database_url
from tests import services

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200))
"""

ASYNC_ENV = """
import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.migrate import include_object, upgrade_sync_connection
from host_models import Base


def do_run_migrations(connection):
    upgrade_sync_connection(connection)
    context.configure(
        connection=connection, target_metadata=Base.metadata, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    engine = create_async_engine(context.config.get_main_option("sqlalchemy.url"))
    async with engine.begin() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


asyncio.run(run_async_migrations())
"""

SYNC_ENV = """
from alembic import context
from sqlalchemy import create_engine

from contacts_kit.migrate import include_object, upgrade_sync_connection
from host_models import Base

engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
with engine.begin() as connection:
    upgrade_sync_connection(connection)
    context.configure(
        connection=connection, target_metadata=Base.metadata, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
"""


async def _admin(server: str, statement: str) -> None:
    engine = create_async_engine(
        make_url(normalize_database_url(server)), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_database(postgres_server_url: str | None) -> Iterator[str]:
    """An empty PostgreSQL database of the test's own (asyncpg URL)."""
    if postgres_server_url is None:
        services.unavailable("PostgreSQL")
    name = f"contacts_kit_host_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(postgres_server_url, f'CREATE DATABASE "{name}"'))
    server = make_url(normalize_database_url(postgres_server_url))
    yield server.set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _project(folder: Path, database_url: str, env: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    """A host's alembic project in `folder`: its models, its env.py, an empty history."""
    (folder / "host_models.py").write_text(MODELS)
    scripts = folder / "migrations"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text(env)
    template = Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako"
    shutil.copy(template, scripts / "script.py.mako")
    monkeypatch.syspath_prepend(str(folder))
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def _revision(config: Config, message: str) -> str:
    script = command.revision(config, message=message, autogenerate=True)
    assert script is not None
    assert not isinstance(script, list)
    return Path(script.path).read_text()


def _upgrade_body(source: str) -> str:
    return source.split("def upgrade()")[1].split("def downgrade()")[0]


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
def test_the_host_alembic_leaves_the_kit_tables_alone(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, driver: str
) -> None:
    url = fresh_database if driver == "asyncpg" else fresh_database.replace("+asyncpg", "+psycopg")
    config = _project(tmp_path, url, ASYNC_ENV if driver == "asyncpg" else SYNC_ENV, monkeypatch)
    monkeypatch.setenv("CONTACTS_KIT_DATABASE_URL", fresh_database)
    assert main(["migrate"]) == 0
    first = _upgrade_body(_revision(config, "notes"))
    assert "op.create_table('notes'" in first
    assert "drop" not in first
    assert "contacts_kit" not in first
    command.upgrade(config, "head")
    # Nothing left to do: `alembic check` passes, and autogenerate writes an empty migration.
    command.check(config)
    second = _upgrade_body(_revision(config, "nothing"))
    assert "op." not in second


def test_the_kit_upgrade_runs_from_the_host_env_py(
    fresh_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _project(tmp_path, fresh_database, ASYNC_ENV, monkeypatch)
    _revision(config, "notes")
    command.upgrade(config, "head")  # the kit's tables first, then the host's, one transaction

    async def tables() -> set[str]:
        engine = create_async_engine(fresh_database)
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        finally:
            await engine.dispose()
        return set(names)

    found = asyncio.run(tables())
    assert {"notes", "alembic_version", "contacts_kit_contacts", "contacts_kit_users"} <= found
    assert "contacts_kit_alembic_version" in found
    command.upgrade(config, "head")  # again: nothing to do, no error
    command.check(config)
