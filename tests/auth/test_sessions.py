"""An access token dies with its session: after logout, after a replayed refresh token, after
a password change; at once, in every worker sharing Redis, with no SQL on a warm read."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import PASSWORD, RunningApp, make_settings, signup, statements
from tests.server import serving, temporary_database


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


async def test_logout_ends_the_sessions_access_tokens_at_once(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client = running.client
        await signup(client, "leave@example.com")
        session, other = (
            await _login(client, "leave@example.com"),
            await _login(client, "leave@example.com"),
        )
        assert (await client.get("/api/users/me", headers=_bearer(session))).status_code == 200
        out = await client.post(
            "/api/auth/logout", json={"refresh_token": session["refresh_token"]}
        )
        assert out.status_code == 204
        dead = await client.get("/api/users/me", headers=_bearer(session))
        assert dead.status_code == 401
        assert dead.json()["code"] == "INVALID_TOKEN"
        assert (await client.get("/api/contacts", headers=_bearer(session))).status_code == 401
        # Another session of the same user lives on, and a warm read of it needs no SQL.
        assert (await client.get("/api/users/me", headers=_bearer(other))).status_code == 200
        async with statements(running.kit) as seen:
            assert (await client.get("/api/users/me", headers=_bearer(other))).status_code == 200
        assert seen == []


async def test_a_replayed_refresh_token_ends_the_sessions_access_tokens(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client = running.client
        await signup(client, "replay@example.com")
        first = await _login(client, "replay@example.com")
        rotated = (
            await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
        ).json()
        assert (await client.get("/api/users/me", headers=_bearer(rotated))).status_code == 200
        replay = await client.post(
            "/api/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert replay.status_code == 401
        for pair in (first, rotated):
            assert (await client.get("/api/users/me", headers=_bearer(pair))).status_code == 401


async def test_a_password_change_ends_the_other_sessions_access_tokens(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client = running.client
        await signup(client, "change@example.com")
        here, elsewhere = (
            await _login(client, "change@example.com"),
            await _login(client, "change@example.com"),
        )
        assert (await client.get("/api/users/me", headers=_bearer(elsewhere))).status_code == 200
        changed = await client.post(
            "/api/auth/password-change",
            json={"current_password": PASSWORD, "new_password": "a brand new one"},
            headers=_bearer(here),
        )
        assert changed.status_code == 204
        assert (await client.get("/api/users/me", headers=_bearer(here))).status_code == 200
        assert (await client.get("/api/users/me", headers=_bearer(elsewhere))).status_code == 401


def test_logout_on_one_worker_ends_the_session_on_the_other(
    postgres_server_url: str | None, redis_server_url: str | None, tmp_path: Path
) -> None:
    # Two workers sharing PostgreSQL and Redis: requests land on either.
    assert postgres_server_url is not None
    assert redis_server_url is not None
    with temporary_database(postgres_server_url, "contacts_kit_sessions") as url:
        env = make_env(url, redis_server_url)
        with serving(tmp_path, "--workers", "2", "--migrate", env=env) as base:
            account = {"email": "workers@example.com", "password": PASSWORD}
            assert httpx.post(f"{base}/api/auth/signup", json=account).status_code == 201
            pair = httpx.post(f"{base}/api/auth/login", json=account).json()
            for _ in range(8):  # both workers now hold the user in the shared cache
                assert httpx.get(f"{base}/api/users/me", headers=_bearer(pair)).status_code == 200
            out = httpx.post(
                f"{base}/api/auth/logout", json={"refresh_token": pair["refresh_token"]}
            )
            assert out.status_code == 204
            answers = {
                httpx.get(f"{base}/api/users/me", headers=_bearer(pair)).status_code
                for _ in range(8)
            }
            assert answers == {401}


def make_env(database_url: str, redis_url: str) -> dict[str, str]:
    from tests.server import clean_env

    return clean_env(
        CONTACTS_KIT_DATABASE_URL=database_url,
        CONTACTS_KIT_REDIS_URL=redis_url,
        CONTACTS_KIT_JWT_SECRET="sessions-test-" + "s" * 40,
        CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL="false",
        CONTACTS_KIT_PASSWORD_HASH_MEMORY_COST="64",
        CONTACTS_KIT_PASSWORD_HASH_TIME_COST="1",
        CONTACTS_KIT_PASSWORD_HASH_PARALLELISM="1",
    )
