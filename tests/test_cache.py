"""The current user cached in Redis (and in memory): fewer queries, never stale, never a 500."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from contacts_kit import ContactsKit, Settings
from contacts_kit.auth.tokens import TokenType
from contacts_kit.backends.breaker import CircuitBreaker
from contacts_kit.backends.cache_memory import MemoryCache
from contacts_kit.backends.cache_redis import RedisCache
from contacts_kit.backends.resilient import ResilientCache
from contacts_kit.users.cache import user_cache_key
from tests.conftest import RunningApp, auth_headers, make_settings, statements
from tests.server import free_port
from tests.users.images import png_bytes


def _user_selects(seen: list[str]) -> list[str]:
    return [statement for statement in seen if "FROM contacts_kit_users" in statement]


async def test_redis_is_the_cache_when_configured(redis_url: str, tmp_path: Path) -> None:
    kit = ContactsKit(make_settings("sqlite:///x.db", tmp_path, redis_url=redis_url))
    # The lifespan closes the cache, the Redis client and its connections, and the engine.
    async with kit.lifespan():
        assert isinstance(kit.cache, ResilientCache)
        assert isinstance(kit.cache.inner, RedisCache)
        assert await kit.cache.ping()
    default = ContactsKit(make_settings("sqlite:///x.db", tmp_path))
    assert isinstance(default.cache.inner, MemoryCache)  # type: ignore[attr-defined]
    await default.engine.dispose()


async def test_a_warm_cache_spares_the_user_select(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "cached@example.com")
        async with statements(running.kit) as seen:
            first = await running.client.get("/api/users/me", headers=headers)
            assert len(_user_selects(seen)) == 1
            second = await running.client.get("/api/users/me", headers=headers)
            third = await running.client.get("/api/contacts", headers=headers)
        assert first.json() == second.json()
        assert third.status_code == 200
        assert len(_user_selects(seen)) == 1  # the second and third requests did no user SELECT
        raw = await running.kit.cache.get(user_cache_key(first.json()["id"]))
        assert raw is not None
        cached = json.loads(raw)  # JSON, never pickle
        assert cached["user"]["email"] == "cached@example.com"
        assert cached["ended_sessions"] == []
        assert "hashed_password" not in raw


async def test_an_avatar_change_is_seen_at_once_by_another_worker(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as worker_a, RunningApp(settings) as worker_b:
        headers = await auth_headers(worker_a.client, "two-workers@example.com")
        before = await worker_b.client.get("/api/users/me", headers=headers)
        assert before.json()["avatar_url"] is None  # now cached, for worker B too
        upload = await worker_a.client.patch(
            "/api/users/me/avatar",
            files={"file": ("me.png", png_bytes(), "image/png")},
            headers=headers,
        )
        assert upload.status_code == 200
        after = await worker_b.client.get("/api/users/me", headers=headers)
        assert after.json()["avatar_url"] == upload.json()["avatar_url"] is not None


async def test_verification_invalidates_the_cached_user(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "verify-cache@example.com")
        me = (await running.client.get("/api/users/me", headers=headers)).json()
        assert me["is_verified"] is False
        service_token, _ = running.kit.tokens.encode(
            me["id"],
            TokenType.VERIFY_EMAIL,
            settings.verify_token_ttl,
            email=me["email"],
        )
        assert (
            await running.client.get("/api/auth/verify", params={"token": service_token})
        ).status_code == 200
        again = (await running.client.get("/api/users/me", headers=headers)).json()
        assert again["is_verified"] is True


async def test_requests_succeed_when_redis_is_unreachable(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with RunningApp(settings) as running:
        with caplog.at_level(logging.WARNING, logger="contacts_kit.breaker"):
            headers = await auth_headers(running.client, "no-redis@example.com")
            for _ in range(3):
                me = await running.client.get("/api/users/me", headers=headers)
                assert me.status_code == 200
            created = await running.client.post(
                "/api/contacts",
                json={
                    "first_name": "Still",
                    "last_name": "Works",
                    "email": "still@example.com",
                    "phone": "+12025550143",
                    "birthday": "1990-01-01",
                },
                headers=headers,
            )
            assert created.status_code == 201
        assert "failed on cache get" in caplog.text
        ready = await running.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["cache"] == "down"


async def test_the_resilient_cache_backs_off_after_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    now = [100.0]
    down = [True]

    class _Flaky(MemoryCache):
        async def get(self, key: str) -> str | None:
            calls.append(key)
            if down[0]:
                raise ConnectionError("down")
            return await super().get(key)

    breaker = CircuitBreaker("the store", retry_after=5, clock=lambda: now[0])
    cache = ResilientCache(_Flaky(10), breaker)
    with caplog.at_level(logging.WARNING, logger="contacts_kit.breaker"):
        assert await cache.get("a") is None
        assert await cache.get("b") is None  # skipped: the backend is left alone for a while
        assert calls == ["contacts_kit:a"]  # under the kit's key prefix
        now[0] += 6
        assert await cache.get("c") is None  # tried again, still down
        assert calls == ["contacts_kit:a", "contacts_kit:c"]
        now[0] += 6
        down[0] = False
        assert await cache.get("d") is None  # answered (a miss)
        assert await cache.get("e") is None
    # One warning for the outage, one for the recovery: not one per request.
    assert [record.message.split(" (")[0] for record in caplog.records] == [
        "the store failed on cache get",
        "the store answers again",
    ]


async def test_many_gets_in_one_call_or_one_get_each_and_a_failure_is_all_misses() -> None:
    class _Plain:  # a plugin's cache without `get_many`
        def __init__(self) -> None:
            self.values = {"contacts_kit:a": "1"}  # under the kit's key prefix
            self.down = False

        async def get(self, key: str) -> str | None:
            if self.down:
                raise ConnectionError("down")
            return self.values.get(key)

    plain = _Plain()
    memory = MemoryCache(10)
    await memory.set("contacts_kit:a", "1", ttl=10)
    for inner in (plain, memory):
        cache = ResilientCache(inner, CircuitBreaker("the store", retry_after=5))
        assert await cache.get_many(["a", "b"]) == ["1", None]
    plain.down = True
    breaker = CircuitBreaker("the store", retry_after=5)
    cache = ResilientCache(plain, breaker)
    assert await cache.get_many(["a", "b"]) == [None, None]
    assert breaker.open


async def test_the_memory_cache_expires_and_stays_bounded() -> None:
    now = [0.0]
    cache = MemoryCache(max_entries=2, clock=lambda: now[0])
    await cache.set("a", "1", ttl=10)
    await cache.set("b", "2", ttl=10)
    assert await cache.get("a") == "1"  # a is now the most recently used
    await cache.set("c", "3", ttl=10)
    assert len(cache) == 2
    assert await cache.get("b") is None
    now[0] += 11
    assert await cache.get("a") is None


def test_a_cluster_url_makes_a_cluster_client(tmp_path: Path) -> None:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    from contacts_kit.backends.redis_client import redis_client

    base = {"database_url": f"sqlite:///{tmp_path}/c.db", "jwt_secret": "x" * 40}
    cluster = redis_client(
        Settings(_env_file=None, redis_url="redis+cluster://10.0.0.7:7001", **base)
    )
    assert isinstance(cluster, RedisCluster)
    single = redis_client(Settings(_env_file=None, redis_url="redis://10.0.0.7:6379/2", **base))
    assert isinstance(single, Redis)
