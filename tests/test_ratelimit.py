"""Rate limits: per user for contacts, per client IP for account routes, shared over Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from starlette.requests import Request

from contacts_kit.backends.buckets import KeyedBucketFactory
from contacts_kit.ratelimit import client_ip, to_rates
from contacts_kit.settings import Settings
from tests.conftest import PASSWORD, RunningApp, auth_headers, make_settings
from tests.server import free_port


def _contact(index: int) -> dict[str, Any]:
    return {
        "first_name": "Rate",
        "last_name": f"Limited{index}",
        "email": f"r{index}@example.com",
        "phone": "+12025550143",
        "birthday": "1990-01-01",
    }


async def _create(client: httpx.AsyncClient, headers: dict[str, str], index: int) -> httpx.Response:
    return await client.post("/api/contacts", json=_contact(index), headers=headers)


def _limited(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "rate_limit_enabled": True,
        "rate_limit_contact_create": "3/minute",
        "rate_limit_contacts": "5/minute",
        "rate_limit_auth": "100/minute",
    }
    values.update(overrides)
    return make_settings(database_url, tmp_path, **values)


async def test_one_user_at_the_limit_does_not_throttle_another(
    database_url: str, tmp_path: Path
) -> None:
    await _one_user_does_not_throttle_another(_limited(database_url, tmp_path))


async def test_one_user_at_the_limit_does_not_throttle_another_on_redis(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    await _one_user_does_not_throttle_another(_limited(database_url, tmp_path, redis_url=redis_url))


async def _one_user_does_not_throttle_another(settings: Settings) -> None:
    async with RunningApp(settings) as running:
        client = running.client
        alice = await auth_headers(client, "alice@example.com")
        bob = await auth_headers(client, "bob@example.com")
        for index in range(3):
            assert (await _create(client, alice, index)).status_code == 201
        refused = await _create(client, alice, 3)
        assert refused.status_code == 429
        assert refused.json()["code"] == "RATE_LIMITED"
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert (await _create(client, bob, 0)).status_code == 201
        # Creation has its own budget: Alice can still read her book.
        listed = await client.get("/api/contacts", headers=alice)
        assert listed.status_code == 200
        assert len(listed.json()) == 3


async def test_other_contact_routes_have_their_own_per_user_limit(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(_limited(database_url, tmp_path)) as running:
        client = running.client
        alice = await auth_headers(client, "alice@example.com")
        codes = [(await client.get("/api/contacts", headers=alice)).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        bob = await auth_headers(client, "bob@example.com")
        assert (await client.get("/api/contacts", headers=bob)).status_code == 200


async def test_two_workers_sharing_redis_share_the_count(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = _limited(database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as worker_a, RunningApp(settings) as worker_b:
        alice = await auth_headers(worker_a.client, "alice@example.com")
        assert (await _create(worker_a.client, alice, 0)).status_code == 201
        assert (await _create(worker_b.client, alice, 1)).status_code == 201
        assert (await _create(worker_a.client, alice, 2)).status_code == 201
        refused = await _create(worker_b.client, alice, 3)
        assert refused.status_code == 429
        assert "retry-after" in refused.headers


async def test_login_is_limited_per_client_ip(database_url: str, tmp_path: Path) -> None:
    settings = _limited(database_url, tmp_path, rate_limit_auth="3/minute")
    async with (
        RunningApp(settings, client_address=("203.0.113.7", 5000)) as attacker,
        RunningApp(settings, client_address=("198.51.100.9", 5000)) as someone_else,
    ):
        # Two app instances without Redis do not share counts: sign up through one only.
        await someone_else.client.post(
            "/api/auth/signup", json={"email": "victim@example.com", "password": PASSWORD}
        )
        guesses = [
            (
                await attacker.client.post(
                    "/api/auth/login",
                    json={"email": "victim@example.com", "password": f"guess-{n}"},
                )
            ).status_code
            for n in range(4)
        ]
        assert guesses == [401, 401, 401, 429]
        fine = await someone_else.client.post(
            "/api/auth/login", json={"email": "victim@example.com", "password": PASSWORD}
        )
        assert fine.status_code == 200


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    database_url: str, tmp_path: Path
) -> None:
    settings = _limited(
        database_url, tmp_path, rate_limit_auth="1/minute", trusted_proxies=["10.0.0.0/8"]
    )
    async with RunningApp(settings, client_address=("10.1.2.3", 443)) as behind_proxy:
        body = {"email": "nobody@example.com"}
        first = await behind_proxy.client.post(
            "/api/auth/password-reset", json=body, headers={"X-Forwarded-For": "192.0.2.1"}
        )
        other_client = await behind_proxy.client.post(
            "/api/auth/password-reset", json=body, headers={"X-Forwarded-For": "192.0.2.2"}
        )
        same_client = await behind_proxy.client.post(
            "/api/auth/password-reset", json=body, headers={"X-Forwarded-For": "192.0.2.1"}
        )
        assert (first.status_code, other_client.status_code, same_client.status_code) == (
            202,
            202,
            429,
        )
    async with RunningApp(settings, client_address=("192.0.2.50", 443)) as direct:
        # Not a trusted proxy: its X-Forwarded-For is ignored, rotating it does not help.
        codes = [
            (
                await direct.client.post(
                    "/api/auth/password-reset",
                    json=body,
                    headers={"X-Forwarded-For": f"192.0.2.{n}"},
                )
            ).status_code
            for n in range(2)
        ]
        assert codes == [202, 429]


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1), "headers": headers})


def test_client_ip_trusts_forwarded_for_only_from_trusted_proxies() -> None:
    proxies = ["10.0.0.0/8", "127.0.0.1"]
    assert client_ip(_request("192.0.2.1", "1.2.3.4"), proxies) == "192.0.2.1"
    assert client_ip(_request("10.0.0.5", "1.2.3.4"), proxies) == "1.2.3.4"
    # A client may prepend anything; the right-most untrusted hop is the one the proxy saw.
    assert client_ip(_request("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9"), proxies) == "1.2.3.4"
    assert client_ip(_request("10.0.0.5"), proxies) == "10.0.0.5"
    assert client_ip(_request("10.0.0.5", "1.2.3.4"), []) == "10.0.0.5"


async def test_disabled_rate_limiting_never_answers_429(database_url: str, tmp_path: Path) -> None:
    settings = _limited(database_url, tmp_path, rate_limit_enabled=False)
    async with RunningApp(settings) as running:
        alice = await auth_headers(running.client, "alice@example.com")
        codes = {(await _create(running.client, alice, index)).status_code for index in range(6)}
        assert codes == {201}


@pytest.mark.parametrize(("fail_open", "expected"), [(True, 201), (False, 503)])
async def test_an_unreachable_redis_fails_open_or_closed_as_configured(
    database_url: str, tmp_path: Path, fail_open: bool, expected: int
) -> None:
    settings = _limited(
        database_url,
        tmp_path,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        rate_limit_fail_open=fail_open,
    )
    async with RunningApp(settings) as running:
        response = await running.client.post(
            "/api/auth/signup", json={"email": "alice@example.com", "password": PASSWORD}
        )
        assert response.status_code == expected
        if not fail_open:
            assert response.json()["code"] == "RATE_LIMIT_UNAVAILABLE"


async def test_the_memory_store_keeps_a_bounded_number_of_keys() -> None:
    factory = KeyedBucketFactory(to_rates("5/minute"), redis=None, max_keys=3)
    for index in range(10):
        await factory.get(factory.wrap_item(f"user-{index}"))
    assert len(factory) == 3
    assert factory.bucket("user-9") is not None
    assert factory.bucket("user-0") is None


@pytest.mark.parametrize("text", ["10", "ten/minute", "10/fortnight", "0/minute", "10/minute;"])
def test_unreadable_rates_are_refused_at_start_up(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        make_settings("sqlite:///x.db", tmp_path, rate_limit_contact_create=text)


def test_readable_rates_parse() -> None:
    rates = to_rates("10/minute;100 per hour;5/30 seconds")
    assert [(rate.limit, rate.interval) for rate in rates] == [
        (10, 60_000),
        (100, 3_600_000),
        (5, 30_000),
    ]


async def test_the_memory_store_forgets_idle_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("contacts_kit.backends.buckets.time.monotonic", lambda: now[0])
    factory = KeyedBucketFactory(to_rates("5/minute"), redis=None, max_keys=100)
    await factory.get(factory.wrap_item("idle-user"))
    now[0] += 61  # longer than the longest window: the key holds nothing worth keeping
    await factory.get(factory.wrap_item("active-user"))
    assert factory.bucket("idle-user") is None
    assert factory.bucket("active-user") is not None
    assert len(factory) == 1


async def _guess(client: httpx.AsyncClient, headers: dict[str, str], route: str) -> int:
    if route == "change":
        response = await client.post(
            "/api/auth/password-change",
            json={"current_password": "not the password", "new_password": "whatever long"},
            headers=headers,
        )
    else:
        response = await client.request(
            "DELETE", "/api/users/me", json={"password": "not the password"}, headers=headers
        )
    return response.status_code


@pytest.mark.parametrize("route", ["change", "delete"])
async def test_password_guesses_with_a_stolen_token_are_limited_per_user(
    database_url: str, tmp_path: Path, route: str
) -> None:
    settings = _limited(database_url, tmp_path, rate_limit_password="3/minute")
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "victim@example.com")
        statuses = [await _guess(running.client, headers, route) for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        # From another address the same user is still refused: the count is the user's.
        transport = httpx.ASGITransport(app=running.app, client=("10.9.9.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            assert await _guess(other, headers, route) == 429


@pytest.mark.parametrize("route", ["change", "delete"])
async def test_password_guesses_are_limited_per_client_ip_too(
    database_url: str, tmp_path: Path, route: str
) -> None:
    settings = _limited(
        database_url, tmp_path, rate_limit_password="100/minute", rate_limit_auth="4/minute"
    )
    async with RunningApp(settings) as running:
        # Signing up and logging in spend the address's budget on their own routes only.
        victims = [await auth_headers(running.client, f"v{n}@example.com") for n in range(3)]
        statuses = [await _guess(running.client, victims[n % 3], route) for n in range(6)]
        assert statuses == [401, 401, 401, 401, 429, 429]


async def test_avatar_uploads_are_limited_per_user(database_url: str, tmp_path: Path) -> None:
    from tests.users.images import png_bytes

    settings = _limited(database_url, tmp_path, rate_limit_avatar="2/hour")
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "selfie@example.com")
        statuses = [
            (
                await running.client.patch(
                    "/api/users/me/avatar",
                    files={"file": ("me.png", png_bytes(), "image/png")},
                    headers=headers,
                )
            ).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
