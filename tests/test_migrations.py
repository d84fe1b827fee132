"""The migrations are the schema: they match the models, use their own version table, and
go down and up again cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

import contacts_kit.models  # noqa: F401
from contacts_kit.db.base import Base
from contacts_kit.migrate import (
    VERSION_TABLE,
    is_migration_only_index,
    migrations_dir,
    upgrade,
    upgrade_engine,
)
from contacts_kit.settings import normalize_database_url
from tests import services
from tests.server import temporary_database


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


def _migration(name: str) -> Any:
    import importlib.util

    path = migrations_dir() / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FOLDED = (
    "Zoë Ångström",
    "ПЕТРОВ",
    "Jose\u0301",
    "Straße",
    "\uff21\uff2c\uff29\uff23\uff25",
    "Ørsted Łukasz Żółć Đorđe Æsir Œuvre Þór",
    "",
    None,
)


def test_the_migrations_fold_search_text_as_the_package_does() -> None:
    from contacts_kit.contact.text import fold

    latest, first = (
        _migration("0017_transliterated_search"),
        _migration("0005_ids_and_folded_search"),
    )
    for written in FOLDED:
        assert latest.fold(written) == fold(written)
        assert latest.earlier_fold(written) == first.fold(written)
    assert latest.SEPARATOR == first.SEPARATOR == "\x1f"
    cards = _migration("0018_full_cards")
    for written in FOLDED:
        assert cards.fold(written) == fold(written)
    assert cards.SEPARATOR == "\x1f"


def test_the_full_card_migration_finds_phone_digits_as_the_package_does() -> None:
    from contacts_kit.contact.phones import phone_digits

    cards = _migration("0018_full_cards")
    for stored in (
        "+380501234567",
        "+442079460958",
        "+12025550143;ext=12",
        "+36123456789",
        "+79161234567",
        "+999",
        "+",
    ):
        assert cards.phone_digits(stored) == phone_digits(stored)


@contextmanager
def _empty_database(dialect: str, tmp_path: Path, server: str | None) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'refold.db'}"
        return
    if server is None:
        services.unavailable("PostgreSQL")
    with temporary_database(server, "contacts_kit_refold") as url:
        yield normalize_database_url(url)


async def _seed_at_0016(url: str) -> None:
    engine = create_async_engine(url)
    try:
        await upgrade_engine(engine, "0016_stale_keys")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO contacts_kit_contacts (owner_id, first_name, last_name, email, "
                    "phone, search_text, version, created_at, updated_at) VALUES ('1', "
                    "'Łukasz', 'Ørsted', 'zolc@example.com', '', "
                    "'łukasz\x1førsted\x1fzolc@example.com', 1, '2026-01-01 00:00:00', "
                    "'2026-01-01 00:00:00')"
                )
            )
    finally:
        await engine.dispose()


async def _search_text(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(text("SELECT search_text FROM contacts_kit_contacts"))
    finally:
        await engine.dispose()
    return str(found)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_upgrade_folds_existing_contacts_again_and_the_downgrade_back(
    dialect: str, tmp_path: Path, postgres_server_url: str | None
) -> None:
    from alembic import command

    from contacts_kit.migrate import alembic_config

    with _empty_database(dialect, tmp_path, postgres_server_url) as url:
        asyncio.run(_seed_at_0016(url))
        upgrade(url, "0017_transliterated_search")
        assert asyncio.run(_search_text(url)) == "lukasz\x1forsted\x1fzolc@example.com"
        command.downgrade(alembic_config(url), "0016_stale_keys")
        assert asyncio.run(_search_text(url)) == "łukasz\x1førsted\x1fzolc@example.com"


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
