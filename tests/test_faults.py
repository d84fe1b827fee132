"""Faults under the app: its database connections killed, Redis gone."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
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


CONTACT = {
    "first_name": "After",
    "last_name": "Fault",
    "email": "after@example.com",
    "phone": "+12025550143",
    "birthday": "1990-01-01",
}


async def test_requests_succeed_after_the_database_connections_are_killed(
    postgres_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No pre-ping: a request whose first statement meets a dropped connection runs once more.
    settings = make_settings(postgres_database_url, tmp_path)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "faulty@example.com")
        for _ in range(3):  # fill the pool with live connections
            assert (await running.client.get("/api/contacts", headers=headers)).status_code == 200

        # A read first (the user is cached: the SELECT of the page is its first statement).
        # A read takes its connection from the pool straight to the driver, which knows a
        # socket the server closed: that connection is dropped before the statement, and
        # the read needs no second attempt (one would be logged).
        assert await _terminate_connections_to(postgres_database_url) >= 1
        with caplog.at_level(logging.WARNING, logger="contacts_kit.http"):
            for _ in range(3):
                response = await running.client.get("/api/contacts", headers=headers)
                assert response.status_code == 200, response.text
        assert caplog.text.count("met a lost database connection") <= 1
        caplog.clear()

        # A write first: its INSERT is its first statement; it lands once, not twice.
        await running.client.get("/api/contacts", headers=headers)
        assert await _terminate_connections_to(postgres_database_url) >= 1
        with caplog.at_level(logging.WARNING, logger="contacts_kit.http"):
            created = await running.client.post("/api/contacts", json=CONTACT, headers=headers)
        assert created.status_code == 201, created.text
        assert caplog.text.count("met a lost database connection") == 1
        listed = (await running.client.get("/api/contacts", headers=headers)).json()
        assert [contact["email"] for contact in listed] == ["after@example.com"]
