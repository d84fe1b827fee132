"""Sessions you can see and end: `GET /users/me/sessions`, `DELETE /users/me/sessions/{id}` and
`POST /auth/logout-all`, on both databases and embedded in a host app under its own prefix."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from contacts_kit.auth.service import Client, coarse_address
from tests.conftest import PASSWORD, RunningApp, make_settings, signup
from tests.test_embedding import API, embedded_user

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def _login(
    client: httpx.AsyncClient, email: str, user_agent: str, prefix: str = "/api"
) -> dict[str, str]:
    response = await client.post(
        f"{prefix}/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


def _bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def _sessions(
    client: httpx.AsyncClient, pair: dict[str, str], prefix: str = "/api"
) -> list[dict[str, Any]]:
    response = await client.get(f"{prefix}/users/me/sessions", headers=_bearer(pair))
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


async def test_each_login_is_a_session_listed_with_its_client(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(
        make_settings(database_url, tmp_path), client_address=("198.51.100.77", 5)
    ) as running:
        client = running.client
        await signup(client, "two@example.com")
        phone = await _login(client, "two@example.com", PHONE)
        laptop = await _login(client, "two@example.com", LAPTOP)

        listed = await _sessions(client, phone)
        assert [s["user_agent"] for s in listed] == [LAPTOP, PHONE]  # most recent first
        assert [s["current"] for s in listed] == [False, True]
        assert {s["client_address"] for s in listed} == {"198.51.100.0/24"}
        assert len({s["id"] for s in listed}) == 2
        for session in listed:
            assert session["created_at"] == session["last_used_at"]
        # The laptop's own view marks the laptop's session.
        assert [s["current"] for s in await _sessions(client, laptop)] == [True, False]

        # A refresh keeps the session (same id, same start) and records when and from what.
        phone_id, phone_started = listed[1]["id"], listed[1]["created_at"]
        refreshed = await client.post(
            "/api/auth/refresh",
            json={"refresh_token": phone["refresh_token"]},
            headers={"User-Agent": PHONE + " (updated)"},
        )
        assert refreshed.status_code == 200
        after = await _sessions(client, refreshed.json())
        assert [s["id"] for s in after] == [phone_id, listed[0]["id"]]
        assert after[0]["created_at"] == phone_started
        assert after[0]["user_agent"] == PHONE + " (updated)"
        assert after[0]["current"] is True
        started = datetime.fromisoformat(after[0]["created_at"])
        assert datetime.fromisoformat(after[0]["last_used_at"]) >= started

        # Another user sees only their own.
        await signup(client, "other@example.com")
        other = await _login(client, "other@example.com", LAPTOP)
        assert [s["current"] for s in await _sessions(client, other)] == [True]


async def test_ending_a_session_kills_its_refresh_and_access_tokens_at_once(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client = running.client
        await signup(client, "lost-phone@example.com")
        phone = await _login(client, "lost-phone@example.com", PHONE)
        laptop = await _login(client, "lost-phone@example.com", LAPTOP)
        # Both access tokens are warm in the user cache before the session ends.
        for pair in (phone, laptop):
            assert (await client.get("/api/contacts", headers=_bearer(pair))).status_code == 200
        [phone_session] = [s for s in await _sessions(client, laptop) if s["user_agent"] == PHONE]

        ended = await client.delete(
            f"/api/users/me/sessions/{phone_session['id']}", headers=_bearer(laptop)
        )
        assert ended.status_code == 204
        dead = await client.get("/api/contacts", headers=_bearer(phone))
        assert dead.status_code == 401
        assert dead.json()["code"] == "INVALID_TOKEN"
        refused = await client.post(
            "/api/auth/refresh", json={"refresh_token": phone["refresh_token"]}
        )
        assert refused.status_code == 401
        assert (await client.get("/api/contacts", headers=_bearer(laptop))).status_code == 200
        assert [s["user_agent"] for s in await _sessions(client, laptop)] == [LAPTOP]

        again = await client.delete(
            f"/api/users/me/sessions/{phone_session['id']}", headers=_bearer(laptop)
        )
        assert again.status_code == 404
        assert again.json()["code"] == "SESSION_NOT_FOUND"
        unknown = await client.delete(
            f"/api/users/me/sessions/{uuid.uuid4()}", headers=_bearer(laptop)
        )
        assert unknown.status_code == 404
        malformed = await client.delete("/api/users/me/sessions/nope", headers=_bearer(laptop))
        assert malformed.status_code == 422
        assert malformed.json()["detail"][0]["loc"] == ["path", "session_id"]
        anonymous = await client.get("/api/users/me/sessions")
        assert anonymous.status_code == 401


async def test_no_one_ends_another_users_session(database_url: str, tmp_path: Path) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client = running.client
        await signup(client, "victim@example.com")
        await signup(client, "intruder@example.com")
        victim = await _login(client, "victim@example.com", PHONE)
        intruder = await _login(client, "intruder@example.com", LAPTOP)
        [target] = await _sessions(client, victim)

        refused = await client.delete(
            f"/api/users/me/sessions/{target['id']}", headers=_bearer(intruder)
        )
        assert refused.status_code == 404
        assert (await client.get("/api/users/me", headers=_bearer(victim))).status_code == 200
        assert [s["id"] for s in await _sessions(client, victim)] == [target["id"]]


async def test_logout_all_ends_every_session_the_callers_included(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client = running.client
        await signup(client, "everywhere@example.com")
        pairs = [await _login(client, "everywhere@example.com", agent) for agent in (PHONE, LAPTOP)]
        for pair in pairs:
            assert (await client.get("/api/users/me", headers=_bearer(pair))).status_code == 200

        out = await client.post("/api/auth/logout-all", headers=_bearer(pairs[0]))
        assert out.status_code == 204
        for pair in pairs:
            assert (await client.get("/api/users/me", headers=_bearer(pair))).status_code == 401
            refresh = {"refresh_token": pair["refresh_token"]}
            assert (await client.post("/api/auth/refresh", json=refresh)).status_code == 401
        assert (await client.post("/api/auth/logout-all")).status_code == 401

        # Logging in again starts afresh: one session.
        back = await _login(client, "everywhere@example.com", LAPTOP)
        assert [s["user_agent"] for s in await _sessions(client, back)] == [LAPTOP]


async def test_sessions_embedded_under_the_hosts_prefix(database_url: str, tmp_path: Path) -> None:
    async with embedded_user(database_url, tmp_path, "embedded-sessions@example.com") as (
        client,
        headers,
    ):
        other = await _login(client, "embedded-sessions@example.com", PHONE, prefix=API)
        listed = await client.get(f"{API}/users/me/sessions", headers=headers)
        assert listed.status_code == 200
        assert [s["current"] for s in listed.json()] == [False, True]
        [phone_session] = [s for s in listed.json() if s["user_agent"] == PHONE]
        ended = await client.delete(
            f"{API}/users/me/sessions/{phone_session['id']}", headers=headers
        )
        assert ended.status_code == 204
        assert (await client.get(f"{API}/users/me", headers=_bearer(other))).status_code == 401
        assert (await client.post(f"{API}/auth/logout-all", headers=headers)).status_code == 204
        assert (await client.get(f"{API}/users/me", headers=headers)).status_code == 401


async def test_the_address_shown_is_the_forwarded_clients_behind_a_trusted_proxy(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, trusted_proxies=["10.0.0.0/8"])
    async with RunningApp(settings, client_address=("10.1.2.3", 9)) as running:
        client = running.client
        await signup(client, "proxied@example.com")
        response = await client.post(
            "/api/auth/login",
            json={"email": "proxied@example.com", "password": PASSWORD},
            headers={"X-Forwarded-For": "2001:db8:abcd:12::7, 10.9.9.9"},
        )
        [session] = await _sessions(client, response.json())
        assert session["client_address"] == "2001:db8:abcd::/48"
        assert session["user_agent"] == f"python-httpx/{httpx.__version__}"


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("203.0.113.200", "203.0.113.0/24"),
        ("::ffff:192.0.2.9", "192.0.2.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"),
        ("testclient", None),
        ("unknown", None),
    ],
)
def test_a_session_shows_only_the_clients_network(address: str, shown: str | None) -> None:
    assert coarse_address(address) == shown


def test_a_long_user_agent_is_cut_to_its_column() -> None:
    assert Client.of("x" * 1000, "192.0.2.1") == Client("x" * 255, "192.0.2.0/24")
    assert Client.of("", "192.0.2.1") == Client(None, "192.0.2.0/24")
