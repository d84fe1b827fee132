"""With the user cached, an authenticated read costs exactly one SQL statement."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunningApp, auth_headers, make_settings, statements


@pytest.mark.parametrize(
    "path",
    [
        "/api/contacts",
        "/api/contacts?q=ada",
        "/api/contacts?last_name=love&email=example",
        "/api/contacts/birthdays?days=30",
        "/api/contacts/{id}",
        "/api/users/me",
    ],
)
async def test_a_warm_authenticated_read_is_one_statement(
    database_url: str, redis_url: str, tmp_path: Path, path: str
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "counted@example.com")
        created = await running.client.post(
            "/api/contacts",
            json={
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "phone": "+12025550143",
                "birthday": "1990-01-01",
            },
            headers=headers,
        )
        url = path.replace("{id}", str(created.json()["id"]))
        assert (await running.client.get(url, headers=headers)).status_code == 200  # warm-up
        async with statements(running.kit) as seen:
            response = await running.client.get(url, headers=headers)
        assert response.status_code == 200
        expected = 0 if path == "/api/users/me" else 1
        assert len(seen) == expected, seen


async def test_a_search_shape_is_one_statement_text_whatever_its_values(
    postgres_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    # Statements are built once per shape with every value bound: other search words send the
    # same SQL text, which SQLAlchemy compiles once and asyncpg prepares once per connection.
    settings = make_settings(postgres_database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "shapes@example.com")
        await running.client.get("/api/contacts", headers=headers)  # the user, now cached
        async with statements(running.kit) as seen:
            for word in ("ada", "bob", "x%y", "turing"):
                response = await running.client.get(f"/api/contacts?q={word}", headers=headers)
                assert response.status_code == 200
        assert len(seen) == 4
        assert len(set(seen)) == 1
        async with statements(running.kit) as more:
            await running.client.get("/api/contacts?q=ada&email=example", headers=headers)
        assert more[0] not in seen


async def test_a_batch_costs_an_insert_and_a_savepoint_per_create(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "batch@example.com")
        operations = [
            {"op": "create", "data": {"first_name": "B", "email": f"b{i}@example.com"}}
            for i in range(20)
        ]
        await running.client.get("/api/users/me", headers=headers)  # the user in the cache
        async with statements(running.kit) as seen:
            answer = await running.client.post(
                "/api/contacts/batch", json={"operations": operations}, headers=headers
            )
        assert answer.status_code == 200
        inserts = [
            s for s in seen if s.lstrip().upper().startswith("INSERT INTO CONTACTS_KIT_CONTACTS")
        ]
        savepoints = [s for s in seen if s.lstrip().upper().startswith("SAVEPOINT")]
        assert len(inserts) == 20
        assert len(savepoints) == 20
        claims = [s for s in seen if "INTO CONTACTS_KIT_CONTACT_EMAILS" in s.upper()]
        assert len(claims) == 20
        # Per operation: SAVEPOINT, INSERT, the INSERT claiming its emails, RELEASE; once:
        # the change counter, BEGIN, COMMIT, and the read of which events webhooks take.
        assert len(seen) <= 4 * 20 + 4, seen
