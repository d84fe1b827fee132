"""Outages answered in JSON: a database that refuses, hangs or times out, a Redis that hangs or
stops. Real listeners and real servers, not mocks."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.settings import normalize_database_url
from tests.conftest import PASSWORD, RunningApp, auth_headers, make_settings
from tests.server import HungListener, free_port, redis_server

# A guard against a request that hangs for good, not a measure of speed: every request below
# is answered within its timeouts, about a second.
HANG_GUARD = 30


def _one_line_each(caplog: pytest.LogCaptureFixture, requests: int) -> None:
    lines = [record for record in caplog.records if "database unavailable" in record.message]
    assert len(lines) == requests
    assert all(record.exc_info is None for record in lines)  # no traceback


async def _assert_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert int(response.headers["retry-after"]) >= 1


async def test_a_database_that_refuses_is_a_json_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    settings = make_settings(url, tmp_path)
    account = {"email": "down@example.com", "password": PASSWORD}
    with caplog.at_level(logging.WARNING, logger="contacts_kit.http"):
        async with RunningApp(settings, clean=False) as running:
            signup = await running.client.post("/api/auth/signup", json=account)
            login = await running.client.post("/api/auth/login", json=account)
    await _assert_503(signup)
    await _assert_503(login)
    _one_line_each(caplog, 2)


async def test_a_database_that_hangs_is_a_json_503_after_the_connect_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with HungListener() as hung:
        settings = make_settings(
            f"postgresql://postgres@127.0.0.1:{hung.port}/hung",
            tmp_path,
            database_connect_timeout="0.5",
        )
        account = {"email": "hung@example.com", "password": PASSWORD}
        with caplog.at_level(logging.WARNING, logger="contacts_kit.http"):
            async with RunningApp(settings, clean=False) as running:
                login = await asyncio.wait_for(
                    running.client.post("/api/auth/login", json=account), HANG_GUARD
                )
        assert hung.accepted >= 1  # it did reach the listener, which never answered
    await _assert_503(login)
    _one_line_each(caplog, 1)


async def test_a_statement_that_runs_too_long_is_a_503_and_its_connection_is_replaced(
    postgres_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(postgres_database_url, tmp_path, database_statement_timeout="1")
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "blocked@example.com")
        assert (await running.client.get("/api/contacts", headers=headers)).status_code == 200
        locker = create_async_engine(normalize_database_url(postgres_database_url))
        try:
            async with locker.connect() as connection:
                transaction = await connection.begin()
                await connection.execute(
                    text("LOCK TABLE contacts_kit_contacts IN ACCESS EXCLUSIVE MODE")
                )
                blocked = await asyncio.wait_for(
                    running.client.get("/api/contacts", headers=headers), HANG_GUARD
                )
                await transaction.rollback()
        finally:
            await locker.dispose()
        await _assert_503(blocked)
        for _ in range(3):  # the timed-out connection did not go back to the pool
            assert (await running.client.get("/api/contacts", headers=headers)).status_code == 200


async def test_a_hung_redis_is_skipped_after_its_first_timeout(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with HungListener() as hung:
        settings = make_settings(
            database_url,
            tmp_path,
            redis_url=f"redis://127.0.0.1:{hung.port}/0",
            redis_timeout=0.5,
            cache_retry_after=600,
            rate_limit_enabled=True,
            rate_limit_auth="1000/minute",
        )
        with caplog.at_level(logging.WARNING, logger="contacts_kit.breaker"):
            async with RunningApp(settings) as running:
                headers = await auth_headers(running.client, "slowredis@example.com")
                attempts = hung.accepted
                for _ in range(10):
                    response = await asyncio.wait_for(
                        running.client.get("/api/contacts", headers=headers), HANG_GUARD
                    )
                    assert response.status_code == 200
        # The cache and the rate limits share one breaker: after the first timeout neither
        # goes back to the hung Redis, so no request waits for it again.
        # The first timeout costs one connection and one retry, never redis-py's default three
        # retries with backoff.
        assert 1 <= attempts <= 2
        assert hung.accepted == attempts
    warnings = [record.message for record in caplog.records]
    assert len(warnings) == 1, warnings
    assert "skipped for 600 s" in warnings[0]


async def test_a_stopped_redis_is_one_warning_and_its_return_another(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with redis_server(tmp_path) as (port, stop, start):
        settings = make_settings(
            database_url,
            tmp_path,
            redis_url=f"redis://127.0.0.1:{port}/0",
            cache_retry_after=0,
            rate_limit_enabled=True,
            rate_limit_contacts="1000/minute",
            rate_limit_auth="1000/minute",
        )
        with caplog.at_level(logging.WARNING, logger="contacts_kit.breaker"):
            async with RunningApp(settings) as running:
                headers = await auth_headers(running.client, "stopped@example.com")
                assert (
                    await running.client.get("/api/contacts", headers=headers)
                ).status_code == 200
                stop()
                for _ in range(5):  # served from the database, rate limits failing open
                    response = await running.client.get("/api/contacts", headers=headers)
                    assert response.status_code == 200
                start()
                for _ in range(3):
                    response = await running.client.get("/api/contacts", headers=headers)
                    assert response.status_code == 200
    messages = [record.message for record in caplog.records]
    assert len(messages) == 2, messages
    assert "failed on" in messages[0]
    assert messages[1] == "the cache and rate-limit store answers again"
