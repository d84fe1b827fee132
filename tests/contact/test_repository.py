"""One data path: the same row type and the same values from SQLite and PostgreSQL, whether a
row comes from a read on a pooled connection or from the request's transaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.contact.birthdays import birthday_key, birthday_window
from contacts_kit.contact.repository import (
    ContactFilters,
    ContactReads,
    ContactRepository,
    erase_book,
)
from contacts_kit.contact.schemas import ContactRecord
from contacts_kit.db.engine import make_engine, make_session_factory, transactional
from contacts_kit.db.rows import rows_for
from tests.conftest import make_settings

CREATED = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
VALUES = {
    "first_name": "Zoë",
    "last_name": "Ångström",
    "email": "zoe@example.com",
    "phone": "+12025550143",
    "birthday": date(1990, 3, 4),
    "birthday_key": birthday_key(date(1990, 3, 4)),
    "notes": None,
    "created_at": CREATED,
    "updated_at": CREATED + timedelta(seconds=1),
}


@pytest.fixture
async def engines(
    sqlite_database_url: str, postgres_database_url: str, tmp_path: object
) -> AsyncIterator[dict[str, tuple[AsyncEngine, uuid.UUID]]]:
    made: dict[str, tuple[AsyncEngine, uuid.UUID]] = {}
    for name, url in (("sqlite", sqlite_database_url), ("postgresql", postgres_database_url)):
        engine = make_engine(make_settings(url, tmp_path))  # type: ignore[arg-type]
        owner = uuid.uuid4()
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO contacts_kit_users (id, email, hashed_password, is_verified,"
                    " token_version, created_at, updated_at)"
                    " VALUES (:id, :email, 'x', true, 0, :now, :now)"
                ),
                {
                    "id": owner.hex if name == "sqlite" else owner,
                    "email": f"{owner}@x.org",
                    "now": CREATED,
                },
            )
        made[name] = (engine, owner)
    yield made
    for name, (engine, owner) in made.items():
        async with engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM contacts_kit_users WHERE id = :id"),
                {"id": owner.hex if name == "sqlite" else owner},
            )
        async with make_session_factory(transactional(engine)).begin() as session:
            await erase_book(session, owner.hex)  # no cascade from the account any more
        await engine.dispose()


def _comparable(record: ContactRecord) -> dict[str, object]:
    return {key: value for key, value in dataclasses.asdict(record).items() if key != "id"}


async def test_both_dialects_give_the_same_row_type_and_values(
    engines: dict[str, tuple[AsyncEngine, uuid.UUID]],
) -> None:
    seen: dict[str, list[ContactRecord]] = {}
    for name, (engine, owner) in engines.items():
        async with make_session_factory(transactional(engine))() as session:
            written = await ContactRepository(session, owner.hex).add(dict(VALUES))
            await session.commit()
        reads = ContactReads(engine, rows_for(engine), owner.hex)
        window = birthday_window(date(2026, 3, 1), 10)
        records = [
            written,
            await reads.get(written.id),
            (await reads.search(ContactFilters(), 10, 0))[0],
            (await reads.search(ContactFilters(q="zoë"), 10, 0))[0],
            (await reads.upcoming_birthdays(window, 10, 0))[0],
            (await reads.changes((0, 0), 10, first=True))[2][0][2],
        ]
        assert all(type(record) is ContactRecord for record in records), records
        assert all(record == written for record in records[1:])
        seen[name] = records
    sqlite, postgresql = seen["sqlite"][0], seen["postgresql"][0]
    assert _comparable(sqlite) == _comparable(postgresql)
    assert sqlite.created_at == CREATED
    assert sqlite.created_at.tzinfo is not None
    assert postgresql.created_at.utcoffset() == timedelta(0)
    assert sqlite.version == postgresql.version == 1


async def test_both_dialects_refuse_a_naive_timestamp(
    engines: dict[str, tuple[AsyncEngine, uuid.UUID]],
) -> None:
    for engine, owner in engines.values():
        async with make_session_factory(transactional(engine))() as session:
            naive = dict(VALUES) | {"created_at": CREATED.replace(tzinfo=None)}
            with pytest.raises(StatementError, match="naive datetime"):
                await ContactRepository(session, owner.hex).add(naive)
