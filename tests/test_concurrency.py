"""Many clients at once against a real server with two worker processes, on PostgreSQL and
Redis: no 5xx, nothing lost, nothing duplicated, no silent lost update, no double refresh."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.migrate import upgrade
from contacts_kit.settings import normalize_database_url
from tests.conftest import JWT_SECRET, PASSWORD
from tests.server import clean_env, serving, temporary_database

CLIENTS = 20
REQUESTS_PER_CLIENT = 50
USERS = 4


@pytest.fixture(scope="module")
def server(
    postgres_server_url: str | None,
    redis_server_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    """`contacts-kit serve --workers 2` on a new PostgreSQL database; yields (base URL, db URL)."""
    if postgres_server_url is None or redis_server_url is None:
        from tests.services import unavailable

        unavailable("PostgreSQL and Redis")
    with temporary_database(postgres_server_url, "contacts_kit_load") as database_url:
        upgrade(database_url)
        env = clean_env(
            CONTACTS_KIT_DATABASE_URL=database_url,
            CONTACTS_KIT_REDIS_URL=redis_server_url,
            CONTACTS_KIT_JWT_SECRET=JWT_SECRET,
            CONTACTS_KIT_RATE_LIMIT_ENABLED="false",
            CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL="false",
            CONTACTS_KIT_PASSWORD_HASH_TIME_COST="1",
            CONTACTS_KIT_PASSWORD_HASH_MEMORY_COST="1024",
            CONTACTS_KIT_PASSWORD_HASH_PARALLELISM="1",
            CONTACTS_KIT_DATABASE_POOL_SIZE="5",
        )
        cwd = tmp_path_factory.mktemp("server")
        with serving(cwd, "--workers", "2", "--log-level", "warning", env=env) as base:
            yield base, database_url


@dataclass
class Ledger:
    """What the clients were told: created and deleted ids, per owner, and every status."""

    created: dict[str, set[int]] = field(default_factory=dict)
    deleted: dict[str, set[int]] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)


async def _account(client: httpx.AsyncClient, email: str) -> tuple[str, dict[str, str]]:
    body = {"email": email, "password": PASSWORD}
    signup = await client.post("/api/auth/signup", json=body)
    assert signup.status_code == 201, signup.text
    tokens = (await client.post("/api/auth/login", json=body)).json()
    return signup.json()["id"], {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
async def client(server: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=CLIENTS * 2)
    async with httpx.AsyncClient(base_url=server[0], timeout=30, limits=limits) as http:
        yield http


async def test_many_clients_lose_and_duplicate_nothing(
    server: tuple[str, str], client: httpx.AsyncClient
) -> None:
    run = uuid.uuid4().hex[:8]
    users = [await _account(client, f"load-{run}-{n}@example.com") for n in range(USERS)]
    ledger = Ledger()

    async def one_client(number: int) -> None:
        owner, headers = users[number % USERS]
        mine: list[int] = []
        rng = random.Random(number)
        for step in range(REQUESTS_PER_CLIENT):
            roll = rng.random()
            if roll < 0.5 or not mine:
                response = await client.post(
                    "/api/contacts",
                    json={
                        "first_name": f"C{number}",
                        "last_name": f"S{step}",
                        "email": f"c{number}-s{step}-{run}@example.com",
                        "phone": "+12025550143",
                        "birthday": "1990-01-01",
                    },
                    headers=headers,
                )
                if response.status_code == 201:
                    mine.append(response.json()["id"])
                    ledger.created.setdefault(owner, set()).add(response.json()["id"])
            elif roll < 0.8:
                response = await client.patch(
                    f"/api/contacts/{rng.choice(mine)}",
                    json={"notes": f"step {step}"},
                    headers=headers,
                )
            else:
                victim = mine.pop(rng.randrange(len(mine)))
                response = await client.delete(f"/api/contacts/{victim}", headers=headers)
                if response.status_code == 204:
                    ledger.deleted.setdefault(owner, set()).add(victim)
            ledger.statuses.append(response.status_code)

    await asyncio.gather(*(one_client(number) for number in range(CLIENTS)))

    assert len(ledger.statuses) == CLIENTS * REQUESTS_PER_CLIENT
    assert [s for s in ledger.statuses if s >= 500] == []
    assert set(ledger.statuses) <= {200, 201, 204}
    engine = create_async_engine(normalize_database_url(server[1]))
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT owner_id, id, deleted_at FROM contacts_kit_contacts")
                )
            ).all()
    finally:
        await engine.dispose()
    stored: dict[str, list[int]] = {}
    trashed: dict[str, set[int]] = {}
    for owner_id, contact_id, deleted_at in rows:
        if deleted_at is None:
            stored.setdefault(str(uuid.UUID(owner_id)), []).append(contact_id)
        else:
            trashed.setdefault(str(uuid.UUID(owner_id)), set()).add(contact_id)
    for owner, _ in users:
        expected = ledger.created.get(owner, set()) - ledger.deleted.get(owner, set())
        kept = stored.get(owner, [])
        assert len(kept) == len(set(kept))  # nothing duplicated
        assert set(kept) == expected  # nothing lost, nothing resurrected
        # Every delete went to the trash, and nothing else did.
        assert trashed.get(owner, set()) == ledger.deleted.get(owner, set())


async def test_concurrent_patches_with_if_match_never_lose_an_update(
    client: httpx.AsyncClient,
) -> None:
    _, headers = await _account(client, f"etag-{uuid.uuid4().hex[:8]}@example.com")
    created = await client.post(
        "/api/contacts",
        json={
            "first_name": "Shared",
            "last_name": "Card",
            "email": "shared@example.com",
            "phone": "+12025550143",
            "birthday": "1990-01-01",
        },
        headers=headers,
    )
    url = f"/api/contacts/{created.json()['id']}"
    tag = (await client.get(url, headers=headers)).headers["etag"]
    responses = await asyncio.gather(
        *(
            client.patch(url, json={"notes": f"writer {n}"}, headers={**headers, "If-Match": tag})
            for n in range(10)
        )
    )
    codes = sorted(response.status_code for response in responses)
    assert codes == [200] + [412] * 9
    winner = next(r for r in responses if r.status_code == 200).json()["notes"]
    final = await client.get(url, headers=headers)
    assert final.json()["notes"] == winner
    assert final.headers["etag"] != tag


async def test_one_refresh_token_presented_twice_at_once_wins_once(server: tuple[str, str]) -> None:
    # Two separate connection pools, so the two requests are likely served by two workers.
    async with (
        httpx.AsyncClient(base_url=server[0], timeout=30) as first,
        httpx.AsyncClient(base_url=server[0], timeout=30) as second,
    ):
        _, _ = await _account(first, email := f"twice-{uuid.uuid4().hex[:8]}@example.com")
        for _ in range(5):
            tokens = (
                await first.post("/api/auth/login", json={"email": email, "password": PASSWORD})
            ).json()
            body = {"refresh_token": tokens["refresh_token"]}
            one, two = await asyncio.gather(
                first.post("/api/auth/refresh", json=body),
                second.post("/api/auth/refresh", json=body),
            )
            assert sorted([one.status_code, two.status_code]) == [200, 401]
