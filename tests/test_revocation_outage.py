"""A session ended while Redis is down stays ended once Redis answers again, on every process:
a pausable proxy in front of the real Redis refuses or hangs (as an outage looks to the
client), two apps on one database and one Redis play two workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from contacts_kit.db.stale_keys import StaleKey
from contacts_kit.users.cache import user_cache_key
from tests.conftest import PASSWORD, Harness, RunningApp, login, make_settings, signup
from tests.proxy import PausableProxy

OUTAGES = ["refuse", "hang"]


@asynccontextmanager
async def two_workers(
    database_url: str, redis_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[PausableProxy, Harness, Harness]]:
    """Two apps sharing the database and, through the proxy, Redis."""
    redis = make_url(redis_url)
    with PausableProxy(redis.port or 6379) as proxy:
        settings = make_settings(
            database_url,
            tmp_path,
            redis_url=proxy.url("redis", f"/{redis.database or 0}"),
            redis_timeout=0.3,
            cache_retry_after=0,  # each request tries Redis again: the stale entry is there
            cache_check_interval=0.2,
            **overrides,
        )
        async with RunningApp(settings) as first, RunningApp(settings, clean=False) as second:
            yield proxy, first, second


def _outage(proxy: PausableProxy, kind: str) -> Callable[[], None]:
    return proxy.refuse if kind == "refuse" else proxy.hang


async def _stale_keys(harness: Harness) -> int:
    async with harness.kit.engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(StaleKey))
    return int(count or 0)


async def _me(worker: Harness, token: str) -> httpx.Response:
    return await worker.client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})


async def _cached_on_both(workers: tuple[Harness, ...], token: str) -> None:
    for worker in workers:
        assert (await _me(worker, token)).status_code == 200


async def _still_in_redis(redis_url: str, user_id: str) -> bool:
    client = Redis.from_url(redis_url)
    try:
        return bool(await client.exists(f"contacts_kit:{user_cache_key(user_id)}"))
    finally:
        await client.aclose()


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_logout_while_redis_is_down_is_never_undone_by_its_return(
    database_url: str, redis_url: str, tmp_path: Path, outage: str
) -> None:
    async with two_workers(database_url, redis_url, tmp_path) as (proxy, first, second):
        account = await signup(first.client, "outage@example.com")
        tokens = await login(first.client, "outage@example.com")
        await _cached_on_both((first, second), tokens["access_token"])

        _outage(proxy, outage)()
        logout = await first.client.post(
            "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        assert logout.status_code == 204, logout.text
        assert await _stale_keys(first) == 1
        proxy.resume()
        if outage == "refuse":  # the delete never reached Redis: the old entry is back
            assert await _still_in_redis(redis_url, account["id"])

        for worker in (second, first):
            refused = await _me(worker, tokens["access_token"])
            assert refused.status_code == 401, refused.text
        # A later reading deletes the entry from Redis, then from the table.
        for _ in range(50):
            if await _stale_keys(first) == 0:
                break
            await _me(second, tokens["access_token"])
        assert await _stale_keys(first) == 0
        assert (await _me(second, tokens["access_token"])).status_code == 401


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_password_change_while_redis_is_down_ends_the_other_sessions_everywhere(
    database_url: str, redis_url: str, tmp_path: Path, outage: str
) -> None:
    async with two_workers(database_url, redis_url, tmp_path) as (proxy, first, second):
        await signup(first.client, "change@example.com")
        this = await login(first.client, "change@example.com")
        other = await login(second.client, "change@example.com")
        await _cached_on_both((first, second), other["access_token"])

        _outage(proxy, outage)()
        changed = await first.client.post(
            "/api/auth/password-change",
            json={"current_password": PASSWORD, "new_password": "another-long-password-1"},
            headers={"Authorization": f"Bearer {this['access_token']}"},
        )
        assert changed.status_code == 204, changed.text
        proxy.resume()

        for worker in (second, first):
            assert (await _me(worker, other["access_token"])).status_code == 401
            assert (await _me(worker, this["access_token"])).status_code == 200


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_deleted_account_is_gone_on_every_worker_after_the_outage(
    database_url: str, redis_url: str, tmp_path: Path, outage: str
) -> None:
    async with two_workers(database_url, redis_url, tmp_path) as (proxy, first, second):
        await signup(first.client, "leaving@example.com")
        tokens = await login(first.client, "leaving@example.com")
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        await _cached_on_both((first, second), tokens["access_token"])

        _outage(proxy, outage)()
        deleted = await first.client.request(
            "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=headers
        )
        assert deleted.status_code == 204, deleted.text
        proxy.resume()

        for worker in (second, first):
            assert (await _me(worker, tokens["access_token"])).status_code == 401
            write = await worker.client.post(
                "/api/contacts", json={"first_name": "Ghost"}, headers=headers
            )
            assert write.status_code == 401, write.text


@pytest.mark.parametrize("outage", OUTAGES)
async def test_a_write_while_redis_is_down_is_in_every_workers_next_read(
    database_url: str, redis_url: str, tmp_path: Path, outage: str
) -> None:
    async with two_workers(database_url, redis_url, tmp_path) as (proxy, first, second):
        await signup(first.client, "kept@example.com")
        tokens = await login(first.client, "kept@example.com")
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        for worker in (first, second):  # a generation, then an answer kept under it
            for _ in range(2):
                listed = await worker.client.get("/api/contacts", headers=headers)
                assert listed.json() == []

        _outage(proxy, outage)()
        created = await first.client.post(
            "/api/contacts",
            json={"first_name": "Written", "email": "written@example.com"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        proxy.resume()

        for worker in (second, first):
            listed = await worker.client.get("/api/contacts", headers=headers)
            assert [item["first_name"] for item in listed.json()] == ["Written"]
