"""Faults under the app: its database connections killed, Redis gone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.settings import normalize_database_url
from tests.conftest import RunningApp, auth_headers, make_settings


async def _terminate_connections_to(database_url: str) -> int:
    """Kill every server process serving `database_url`'s database, from outside the app."""
    url = make_url(normalize_database_url(database_url))
    admin = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            )
            return int(result.scalar_one())
    finally:
        await admin.dispose()


async def test_requests_succeed_after_the_database_connections_are_killed(
    postgres_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(postgres_database_url, tmp_path, user_cache_ttl=0)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "faulty@example.com")
        for _ in range(3):  # fill the pool with live connections
            assert (await running.client.get("/api/contacts", headers=headers)).status_code == 200
        killed = await _terminate_connections_to(postgres_database_url)
        assert killed >= 1
        # Pre-ping notices the dead connections at checkout and replaces them.
        for _ in range(5):
            response = await running.client.get("/api/contacts", headers=headers)
            assert response.status_code == 200, response.text
        created = await running.client.post(
            "/api/contacts",
            json={
                "first_name": "After",
                "last_name": "Fault",
                "email": "after@example.com",
                "phone": "+12025550143",
                "birthday": "1990-01-01",
            },
            headers=headers,
        )
        assert created.status_code == 201
