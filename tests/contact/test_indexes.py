"""On PostgreSQL, a large address book is searched and scanned for birthdays through indexes.

The book is seeded with SQL (not through the API) and the plans are read with EXPLAIN.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.seed import FOLD_SEARCH_TEXT, FULL_CARDS
from contacts_kit.contact.birthdays import birthday_window
from contacts_kit.contact.repository import ContactFilters, ContactReads
from contacts_kit.db.engine import postgres_connect_args
from contacts_kit.db.rows import ConnectionRows

BOOK_SIZE = 100_000

SEED = text(
    """
    INSERT INTO contacts_kit_contacts
        (owner_id, first_name, last_name, email, phone, birthday, birthday_key, notes,
         version, created_at, updated_at)
    SELECT :owner,
           (ARRAY['Ada','Alan','Grace','Linus','Barbara','Ken','Edsger','Margaret'])[1 + n % 8]
               || n::text,
           (ARRAY['Lovelace','Turing','Hopper','Torvalds','Liskov','Thompson','Dijkstra',
                  'Hamilton'])[1 + (n / 8) % 8] || (n % 997)::text,
           'person' || n::text || '@example' || (n % 50)::text || '.org',
           '+1202555' || lpad((n % 10000)::text, 4, '0'),
           d,
           (extract(month FROM d) * 100 + extract(day FROM d))::smallint,
           NULL, 1, now(), now()
    FROM generate_series(1, :size) AS n,
         LATERAL (SELECT date '1950-01-01' + (n * 7919 % 20000) AS d) AS birthday
    """
)


@pytest.fixture(scope="module")
async def big_book(postgres_database_url: str) -> AsyncIterator[tuple[AsyncEngine, uuid.UUID]]:
    engine = create_async_engine(
        postgres_database_url, connect_args=postgres_connect_args(), isolation_level="AUTOCOMMIT"
    )
    owner, other = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        for user_id, email in ((owner, "big@example.com"), (other, "small@example.com")):
            await connection.execute(
                text(
                    "INSERT INTO contacts_kit_users (id, email, hashed_password, is_verified,"
                    " token_version, created_at, updated_at)"
                    " VALUES (:id, :email, 'x', true, 0, :now, :now)"
                ),
                {"id": user_id, "email": email, "now": now},
            )
        await connection.execute(SEED, {"owner": owner.hex, "size": BOOK_SIZE})
        await connection.execute(SEED, {"owner": other.hex, "size": 1000})
        await connection.execute(text(FULL_CARDS))
        await connection.execute(text(FOLD_SEARCH_TEXT))
        await connection.execute(text("ANALYZE contacts_kit_contacts"))
    yield engine, owner
    async with engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM contacts_kit_users WHERE id IN (:a, :b)"), {"a": owner, "b": other}
        )
        await connection.execute(
            text("DELETE FROM contacts_kit_contacts WHERE owner_id IN (:a, :b)"),
            {"a": owner.hex, "b": other.hex},
        )
    await engine.dispose()


async def _plan(engine: AsyncEngine, call: str, owner: uuid.UUID, *args: Any) -> dict[str, Any]:
    """The plan of the statement the repository sends for `call(*args)`, with its values."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        # Through SQLAlchemy's execution, whose event shows the statement and its values.
        await getattr(ContactReads(engine, ConnectionRows(), owner.hex), call)(*args)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    [(statement, parameters)] = sent
    async with engine.connect() as connection:
        rows = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan: dict[str, Any] = json.loads(json.dumps(rows.scalar_one()))[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found.extend(_nodes(child))
    return found


def _scans_of_contacts(plan: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [
        (node["Node Type"], node.get("Index Name"))
        for node in _nodes(plan)
        if node.get("Relation Name") == "contacts_kit_contacts" or "Index Name" in node
    ]


TRIGRAM_INDEX = "ix_contacts_kit_contacts_search_trgm"


@pytest.mark.parametrize(
    "filters",
    [
        ContactFilters(q="person4242@"),
        ContactFilters(q="zzzq"),
        ContactFilters(last_name="hopper12"),
        ContactFilters(email="person777"),
        ContactFilters(first_name="grace4", email="example7"),
    ],
    ids=["q-one-email", "q-no-match", "last-name", "email", "two-fields"],
)
async def test_a_selective_search_on_a_large_book_uses_the_trigram_index(
    big_book: tuple[AsyncEngine, uuid.UUID], filters: ContactFilters
) -> None:
    engine, owner = big_book
    scans = _scans_of_contacts(await _plan(engine, "search", owner, filters, 20, 0))
    assert ("Seq Scan", None) not in scans, scans
    assert ("Bitmap Index Scan", TRIGRAM_INDEX) in scans, scans


@pytest.mark.parametrize("q", ["hopper1", "ada", "turing1"])
async def test_a_broader_search_on_a_large_book_still_uses_an_index(
    big_book: tuple[AsyncEngine, uuid.UUID], q: str
) -> None:
    # From about 1% to 12% of the book: still collected through an index, never a table scan.
    engine, owner = big_book
    scans = _scans_of_contacts(await _plan(engine, "search", owner, ContactFilters(q=q), 20, 0))
    assert ("Seq Scan", None) not in scans, scans
    assert any(name for _, name in scans), scans


async def test_birthday_window_on_a_large_book_uses_the_owner_birthday_index(
    big_book: tuple[AsyncEngine, uuid.UUID],
) -> None:
    engine, owner = big_book
    for today in (datetime(2026, 6, 10, tzinfo=UTC), datetime(2026, 12, 29, tzinfo=UTC)):
        window = birthday_window(today.date(), 7)
        scans = _scans_of_contacts(await _plan(engine, "upcoming_birthdays", owner, window, 100, 0))
        assert ("Seq Scan", None) not in scans, scans
        assert any(name == "ix_contacts_kit_contacts_owner_birthday_name" for _, name in scans), (
            scans
        )
