"""Two app instances of two workers each (`contacts-kit serve --workers 2`, as operators run
it) sharing PostgreSQL and Redis: a rate limit holds exactly across them, a logout on one ends
the session on the other at once, and an avatar saved through one is served by the other.

Each test runs twice: on two instances it starts over the suite's PostgreSQL and Redis, and
(marker `scale`) on the two instances of the scale lab, which go through PgBouncer to the
primary and its streaming replica and use the Redis Cluster."""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import JWT_SECRET, PASSWORD
from tests.server import clean_env, serving_command
from tests.services import lab
from tests.users.images import png_bytes

CREATES_PER_MINUTE = 6


@pytest.fixture(params=["started here", pytest.param("scale lab", marks=pytest.mark.scale)])
def instances(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "scale lab":
        one, two = lab("CONTACTS_KIT_TEST_LAB_APPS").split()
        yield one, two
        return
    yield from _started_here(
        request.getfixturevalue("postgres_database_url"),
        request.getfixturevalue("redis_url"),
        tmp_path,
    )


def _started_here(
    postgres_database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    database = make_url(postgres_database_url).render_as_string(hide_password=False)
    env = clean_env(
        CONTACTS_KIT_DATABASE_URL=database,
        CONTACTS_KIT_REDIS_URL=redis_url,
        CONTACTS_KIT_JWT_SECRET=JWT_SECRET,
        CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL="false",
        CONTACTS_KIT_RATE_LIMIT_CONTACT_CREATE=f"{CREATES_PER_MINUTE}/minute",
        CONTACTS_KIT_RATE_LIMIT_AUTH="100/minute",
        CONTACTS_KIT_PASSWORD_HASH_TIME_COST="1",
        CONTACTS_KIT_PASSWORD_HASH_MEMORY_COST="64",
        CONTACTS_KIT_PASSWORD_HASH_PARALLELISM="1",
        # Both instances run here: one media directory, which they share.
        CONTACTS_KIT_MEDIA_DIR=str(tmp_path / "media"),
        CONTACTS_KIT_MEDIA_DIR_SHARED="true",
    )
    command = [sys.executable, "-m", "contacts_kit", "serve", "--workers", "2"]
    with ExitStack() as stack:
        bases = [
            stack.enter_context(serving_command(tmp_path, command, env=env, ready="/readyz"))[0]
            for _ in range(2)
        ]
        yield bases[0], bases[1]


async def _login(client: httpx.AsyncClient, base: str, email: str) -> dict[str, str]:
    # The lab's database outlives a run: an address of its own each time.
    account = {"email": email.replace("@", f"-{uuid.uuid4().hex[:8]}@"), "password": PASSWORD}
    assert (await client.post(f"{base}/api/auth/signup", json=account)).status_code == 201
    response = await client.post(f"{base}/api/auth/login", json=account)
    assert response.status_code == 200
    return dict(response.json())


async def test_a_rate_limit_holds_exactly_across_instances(instances: tuple[str, str]) -> None:
    async with httpx.AsyncClient() as client:
        tokens = await _login(client, instances[0], "limits@example.com")
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        bases = itertools.cycle(instances)
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{next(bases)}/api/contacts",
                    json={"first_name": f"C{n}", "email": f"c{n}@example.com"},
                    headers=headers,
                )
                for n in range(3 * CREATES_PER_MINUTE)
            )
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(201) == CREATES_PER_MINUTE
    assert statuses.count(429) == 2 * CREATES_PER_MINUTE


async def test_a_logout_on_one_instance_ends_the_session_on_the_other(
    instances: tuple[str, str],
) -> None:
    one, two = instances
    async with httpx.AsyncClient() as client:
        tokens = await _login(client, one, "logout@example.com")
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        # Both instances (and their workers) have the user cached.
        for _ in range(4):
            assert (await client.get(f"{one}/api/users/me", headers=headers)).status_code == 200
            assert (await client.get(f"{two}/api/users/me", headers=headers)).status_code == 200
        out = await client.post(
            f"{two}/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        assert out.status_code == 204
        for _ in range(4):
            assert (await client.get(f"{one}/api/users/me", headers=headers)).status_code == 401
        refresh = await client.post(
            f"{one}/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401


async def test_an_avatar_saved_through_one_instance_is_served_by_the_other(
    instances: tuple[str, str],
) -> None:
    one, two = instances
    async with httpx.AsyncClient() as client:
        tokens = await _login(client, one, "avatar@example.com")
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        uploaded = await client.patch(
            f"{one}/api/users/me/avatar",
            files={"file": ("me.png", png_bytes(), "image/png")},
            headers=headers,
        )
        assert uploaded.status_code == 200, uploaded.text
        path = httpx.URL(uploaded.json()["avatar_url"]).path
        served = await client.get(f"{two}{path}")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("image/")
