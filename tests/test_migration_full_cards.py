"""Revision 0018 (full cards) on a database of the previous head holding contacts: each
email and phone becomes the first entry of its list, search finds the phone by its digits,
a live contact's email is claimed in the emails table (a trashed one's is not), and the
downgrade keeps the primary values."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.migrate import alembic_config, upgrade, upgrade_engine
from tests.test_migrations import _empty_database

_COLUMNS = (
    "owner_id, first_name, last_name, email, phone, search_text, version, created_at, "
    "updated_at, deleted_at"
)


async def _seed_at_0017(url: str) -> None:
    engine = create_async_engine(url)
    try:
        await upgrade_engine(engine, "0017_transliterated_search")
        async with engine.begin() as connection:
            for values in (
                "'1', 'Ada', 'Lovelace', 'ada@example.com', '+380501234567', "
                "'ada\x1flovelace\x1fada@example.com', 1, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00', NULL",
                "'1', 'Old', '', 'old@example.com', NULL, 'old\x1f\x1fold@example.com', 1, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-02 00:00:00'",
                "'2', 'Phone', '', NULL, '+442079460958', 'phone\x1f\x1f', 1, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL",
            ):
                await connection.execute(
                    text(f"INSERT INTO contacts_kit_contacts ({_COLUMNS}) VALUES ({values})")
                )
    finally:
        await engine.dispose()


async def _rows(url: str, query: str) -> list[Any]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text(query))).all())
    finally:
        await engine.dispose()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_existing_contacts_move_into_the_lists_and_back(
    dialect: str, tmp_path: Path, postgres_server_url: str | None
) -> None:
    from alembic import command

    with _empty_database(dialect, tmp_path, postgres_server_url) as url:
        asyncio.run(_seed_at_0017(url))
        upgrade(url)
        rows = asyncio.run(
            _rows(
                url,
                "SELECT first_name, emails, phones, search_text FROM contacts_kit_contacts "
                "ORDER BY id",
            )
        )
        found = {row[0]: (_json(row[1]), _json(row[2]), row[3]) for row in rows}
        assert found["Ada"][0] == [{"value": "ada@example.com", "label": None}]
        assert found["Ada"][1] == [{"value": "+380501234567", "label": None}]
        assert found["Ada"][2] == "ada\x1flovelace\x1fada@example.com\x1f380501234567"
        assert found["Old"][:2] == ([{"value": "old@example.com", "label": None}], [])
        # National digits too: a query typed the British way finds it.
        assert found["Phone"] == (
            [],
            [{"value": "+442079460958", "label": None}],
            "phone\x1f\x1f\x1f442079460958 02079460958",
        )
        claimed = asyncio.run(
            _rows(url, "SELECT owner_id, email FROM contacts_kit_contact_emails ORDER BY email")
        )
        assert [tuple(row) for row in claimed] == [("1", "ada@example.com")]  # not the trash's

        command.downgrade(alembic_config(url), "0017_transliterated_search")
        rows = asyncio.run(
            _rows(
                url,
                "SELECT first_name, email, phone, search_text FROM contacts_kit_contacts "
                "ORDER BY id",
            )
        )
        assert [tuple(row) for row in rows] == [
            ("Ada", "ada@example.com", "+380501234567", "ada\x1flovelace\x1fada@example.com"),
            ("Old", "old@example.com", None, "old\x1f\x1fold@example.com"),
            ("Phone", None, "+442079460958", "phone\x1f\x1f"),
        ]
