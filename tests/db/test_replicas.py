"""Read replicas against a real streaming replica (the lab of `scripts/scale-lab up`): reads
go to the replica, a user's reads after their own writes do not miss them even when the
replica stops replaying, a lagging replica is skipped, and a stopped replica fails no request.
Statements are counted per node with SQLAlchemy's engine events."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contacts_kit.db.replicas import Replicas
from contacts_kit.settings import normalize_database_url
from tests.conftest import Harness, RunningApp, auth_headers, make_settings
from tests.contact.test_router import URL, contact_body
from tests.services import lab

pytestmark = pytest.mark.scale


@pytest.fixture(scope="module")
def replica_server() -> str:
    return lab("CONTACTS_KIT_TEST_REPLICA_URL")


def replica_ctl(action: str) -> None:
    command = [*shlex.split(os.environ["CONTACTS_KIT_TEST_REPLICA_CTL"]), action]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def replica_url(replica_server: str, postgres_database_url: str) -> str:
    """The test database, on the replica."""
    database = make_url(postgres_database_url).database
    url = make_url(normalize_database_url(replica_server)).set(database=database)
    return url.render_as_string(hide_password=False)


class Counter:
    """Statements run through each engine: SQLAlchemy's (its `before_cursor_execute` event)
    and the reads that go straight to the asyncpg connection (asyncpg's query logger, added
    as the pool hands a connection out), the replica checks' query of the primary aside.
    asyncpg calls its loggers soon after a statement: read the counts with `settled`."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._logged: set[int] = set()

    def watch(self, name: str, engine: AsyncEngine) -> None:
        self.counts[name] = 0

        def seen(statement: str) -> None:
            # The replica checks' own statement is not a read.
            if "pg_current_wal_lsn" not in statement:
                self.counts[name] += 1

        def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen(statement)

        def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            driver = record.driver_connection
            if id(driver) not in self._logged:
                self._logged.add(id(driver))
                driver.add_query_logger(lambda query: seen(query.query))

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        event.listen(engine.sync_engine, "checkout", checkout)

    async def settled(self) -> dict[str, int]:
        """The counts, once the loggers of the statements run so far have been called."""
        await asyncio.sleep(0)
        return dict(self.counts)


@asynccontextmanager
async def replicated_app(
    postgres_database_url: str, replica_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[tuple[Harness, Counter]]:
    settings = make_settings(
        postgres_database_url,
        tmp_path,
        database_replica_urls=[replica_url],
        replica_max_lag=1,
        replica_check_interval=0.1,
        **overrides,
    )
    async with RunningApp(settings) as app:
        counter = Counter()
        counter.watch("primary", app.kit.engine)
        counter.watch("replica", app.kit.replicas.nodes[0].engine)
        await until(lambda: app.kit.replicas.nodes[0].state == "ok")
        yield app, counter


async def until(condition: Any) -> None:
    """Poll `condition` (a replica state the checks change) for up to 20 seconds."""
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


def forget_writes(replicas: Replicas) -> float:
    """Seconds until a write mark made now expires."""
    return float(replicas.window)


async def test_reads_go_to_the_replica_and_readiness_shows_it(
    postgres_database_url: str, replica_url: str, tmp_path: Path
) -> None:
    async with replicated_app(postgres_database_url, replica_url, tmp_path) as (app, counter):
        client = app.client
        headers = await auth_headers(client, "reader@example.com")
        created = await client.post(URL, json=contact_body(first_name="Ann"), headers=headers)
        assert created.status_code == 201
        # Right after the write: the writer's reads stay on the primary.
        before = await counter.settled()
        assert (await client.get(URL, headers=headers)).json()[0]["first_name"] == "Ann"
        assert (await counter.settled())["replica"] == before["replica"]
        # Once the window has passed, the replica serves them.
        await asyncio.sleep(forget_writes(app.kit.replicas))
        before = await counter.settled()
        for _ in range(5):
            listed = await client.get(URL, headers=headers)
            assert [c["first_name"] for c in listed.json()] == ["Ann"]
        assert (await counter.settled())["replica"] - before["replica"] == 5
        assert (await counter.settled())["primary"] == before["primary"]
        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "ok"
        (node,) = ready["replicas"]
        assert node["state"] == "ok"
        assert node["name"].startswith("127.0.0.1:")
        assert node["lag"] <= 1


async def test_read_your_writes_holds_while_the_replica_stops_replaying(
    postgres_database_url: str, replica_url: str, tmp_path: Path
) -> None:
    pause = create_async_engine(replica_url, isolation_level="AUTOCOMMIT")
    async with replicated_app(postgres_database_url, replica_url, tmp_path) as (app, counter):
        client = app.client
        headers = await auth_headers(client, "writer@example.com")
        await asyncio.sleep(forget_writes(app.kit.replicas))
        async with pause.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_pause()"))
        try:
            before = await counter.settled()
            for number in range(100):
                created = await client.post(
                    URL,
                    json=contact_body(first_name=f"N{number}", email=f"n{number}@example.com"),
                    headers=headers,
                )
                assert created.status_code == 201, created.text
                read = await client.get(f"{URL}/{created.json()['id']}", headers=headers)
                assert read.status_code == 200, (number, read.text)
            assert (await counter.settled())["replica"] == before["replica"]
            # The replica replays nothing: once behind by more than the max lag, it is
            # skipped for everyone, and readiness says so.
            await until(lambda: app.kit.replicas.nodes[0].state == "lagging")
            other = await auth_headers(client, "other@example.com")
            await asyncio.sleep(forget_writes(app.kit.replicas))
            before = await counter.settled()
            listed = await client.get(URL, params={"limit": 100}, headers=headers)
            assert len(listed.json()) == 100
            assert (await client.get(URL, headers=other)).status_code == 200
            assert (await counter.settled())["replica"] == before["replica"]
            ready = (await client.get("/readyz")).json()
            assert ready["status"] == "ok"
            assert ready["replicas"][0]["state"] == "lagging"
        finally:
            async with pause.connect() as connection:
                await connection.execute(text("SELECT pg_wal_replay_resume()"))
            await pause.dispose()
        await until(lambda: app.kit.replicas.nodes[0].state == "ok")


@pytest.fixture
def restart_replica() -> Iterator[None]:
    yield
    replica_ctl("start")


async def test_a_stopped_replica_fails_no_request(
    postgres_database_url: str, replica_url: str, tmp_path: Path, restart_replica: None
) -> None:
    async with replicated_app(postgres_database_url, replica_url, tmp_path) as (app, counter):
        client = app.client
        headers = await auth_headers(client, "steady@example.com")
        await client.post(URL, json=contact_body(first_name="Kept"), headers=headers)
        await asyncio.sleep(forget_writes(app.kit.replicas))
        # Warm the replica's pool: several connections to it, then stop it under load.
        await asyncio.gather(*(client.get(URL, headers=headers) for _ in range(8)))
        assert (await counter.settled())["replica"] >= 8
        stopping = asyncio.create_task(asyncio.to_thread(replica_ctl, "stop"))
        statuses: list[int] = []
        while not stopping.done() or len(statuses) < 200:
            batch = await asyncio.gather(*(client.get(URL, headers=headers) for _ in range(4)))
            statuses += [response.status_code for response in batch]
        await stopping
        assert set(statuses) == {200}, statuses
        await until(lambda: app.kit.replicas.nodes[0].state == "down")
        ready = (await client.get("/readyz")).json()
        assert ready["status"] == "ok"
        assert ready["replicas"][0]["state"] == "down"
        # Back again: it serves reads once more.
        replica_ctl("start")
        await until(lambda: app.kit.replicas.nodes[0].state == "ok")
        before = await counter.settled()
        assert (await client.get(URL, headers=headers)).status_code == 200
        assert (await counter.settled())["replica"] == before["replica"] + 1


async def test_replicas_behind_pgbouncer_in_transaction_mode(
    postgres_database_url: str, replica_url: str, tmp_path: Path
) -> None:
    """The lab's PgBouncers in front of both nodes: no prepared-statement error either way."""
    database = make_url(postgres_database_url).database
    through = {
        name: make_url(normalize_database_url(os.environ[variable]))
        .set(database=database)
        .render_as_string(hide_password=False)
        for name, variable in (
            ("primary", "CONTACTS_KIT_TEST_PGBOUNCER_URL"),
            ("replica", "CONTACTS_KIT_TEST_PGBOUNCER_REPLICA_URL"),
        )
    }
    settings = make_settings(
        through["primary"],
        tmp_path,
        database_replica_urls=[through["replica"]],
        database_pgbouncer=True,
        replica_max_lag=1,
        replica_check_interval=0.1,
    )
    async with RunningApp(settings) as app:
        counter = Counter()
        counter.watch("replica", app.kit.replicas.nodes[0].engine)
        await until(lambda: app.kit.replicas.nodes[0].state == "ok")
        users = [await auth_headers(app.client, f"b{n}@example.com") for n in range(8)]
        for n, headers in enumerate(users):
            body = contact_body(first_name=f"B{n}", email=f"b{n}@example.com")
            assert (await app.client.post(URL, json=body, headers=headers)).status_code == 201
        await asyncio.sleep(forget_writes(app.kit.replicas))
        for _ in range(4):
            answers = await asyncio.gather(
                *(app.client.get(URL, headers=headers) for headers in users)
            )
            assert [len(answer.json()) for answer in answers] == [1] * len(users)
        assert (await counter.settled())["replica"] >= 32
