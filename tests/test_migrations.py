"""The migrations are the schema: they match the models, use their own version table, and
go down and up again cleanly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

import contacts_kit.models  # noqa: F401
from contacts_kit.db.base import Base
from contacts_kit.migrate import VERSION_TABLE, is_migration_only_index, migrations_dir, upgrade


async def _diff_and_tables(url: str) -> tuple[list[Any], list[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            def _inspect(sync_connection: Any) -> tuple[list[Any], list[str]]:
                context = MigrationContext.configure(
                    sync_connection, opts={"compare_type": True, "include_name": _ours}
                )
                return compare_metadata(context, Base.metadata), inspect(
                    sync_connection
                ).get_table_names()

            return await connection.run_sync(_inspect)
    finally:
        await engine.dispose()


def _ours(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "index":
        return not is_migration_only_index(name)
    return type_ != "table" or name != VERSION_TABLE


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    diff, tables = await _diff_and_tables(database_url)
    assert diff == []
    assert VERSION_TABLE in tables
    assert "alembic_version" not in tables  # a host app's own history stays untouched


def test_migrations_go_down_and_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    upgrade(url)
    upgrade_to_base(url)
    upgrade(url)


def upgrade_to_base(url: str) -> None:
    from alembic import command

    from contacts_kit.migrate import alembic_config

    command.downgrade(alembic_config(url), "base")


def test_migrations_folder_is_found() -> None:
    assert (migrations_dir() / "env.py").is_file()
    assert any(migrations_dir().glob("versions/*.py"))


def test_the_migration_folds_search_text_as_the_package_does() -> None:
    import importlib.util

    from contacts_kit.contact.text import fold

    path = migrations_dir() / "versions" / "0005_ids_and_folded_search.py"
    spec = importlib.util.spec_from_file_location("folding_migration", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for text in (
        "Zoë Ångström",
        "ПЕТРОВ",
        "Jose\u0301",
        "Straße",
        "\uff21\uff2c\uff29\uff23\uff25",
        "",
        None,
    ):
        assert module.fold(text) == fold(text)
    assert module.SEPARATOR == "\x1f"


def test_every_revision_id_fits_the_version_table() -> None:
    # alembic's version column is VARCHAR(32): a longer id migrates SQLite and fails PostgreSQL.
    ids = [
        line.split('"')[1]
        for path in (migrations_dir() / "versions").glob("*.py")
        for line in path.read_text().splitlines()
        if line.startswith("revision: str =")
    ]
    assert len(ids) >= 5
    assert max(len(revision) for revision in ids) <= 32
