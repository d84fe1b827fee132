"""Shared fixtures: real databases migrated once per session, an app per test, helpers."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit import ContactsKit, Settings, create_app
from contacts_kit.db.base import Base
from contacts_kit.migrate import upgrade
from contacts_kit.settings import normalize_database_url
from tests import services
from tests.browser import browser  # noqa: F401  (a fixture for every test)

JWT_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str | None]:
    with services.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_database_url(postgres_server_url: str | None) -> Iterator[str]:
    """A database of our own on the PostgreSQL server, migrated once, dropped at the end."""
    if postgres_server_url is None:
        services.unavailable("PostgreSQL")
    server = make_url(normalize_database_url(postgres_server_url))
    name = f"contacts_kit_test_{uuid.uuid4().hex[:12]}"

    async def _admin(statement: str) -> None:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        services.unavailable(f"PostgreSQL at {server.host}:{server.port} ({exc})")
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str | None]:
    with services.redis_server() as url:
        yield None if url is None else _database_of_this_worker(url)


def _database_of_this_worker(url: str) -> str:
    """The Redis URL with a database of this test process's own: under pytest-xdist each
    worker empties only its database (`gw0` keeps the one given, `gw1` the one below...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    parsed = make_url(url)
    base = int(parsed.database or 0)
    return parsed.set(database=str((base - int(worker.removeprefix("gw"))) % 16)).render_as_string(
        hide_password=False
    )


@pytest.fixture
async def redis_url(redis_server_url: str | None) -> AsyncIterator[str]:
    """A Redis database emptied before and after the test."""
    if redis_server_url is None:
        services.unavailable("Redis")
    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = Redis.from_url(redis_server_url, socket_connect_timeout=2)
    try:
        await client.flushdb()
    except (OSError, RedisConnectionError) as exc:
        await client.aclose()
        services.unavailable(f"Redis at {redis_server_url} ({exc})")
    yield redis_server_url
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file, migrated once."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'contacts.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each API test runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_database_url" if request.param == "sqlite" else "postgres_database_url"
    url: str = request.getfixturevalue(fixture)
    return url


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for tests: cheap argon2, a fixed secret, no `.env`, no installed plugins."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": JWT_SECRET,
        "password_hash_time_cost": 1,
        "password_hash_memory_cost": 64,
        "password_hash_parallelism": 1,
        "load_entry_points": False,
        "media_dir": tmp_path / "media",
        "public_url": "http://testserver",
        # Most tests log in right after signup; the verification flow has its own tests.
        "require_verified_email": False,
        # Tests sign up and log in far faster than a person; the limits have their own tests.
        "rate_limit_enabled": False,
        # The webhook tests run their dispatcher themselves; no test has background jobs.
        "jobs_in_process": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


async def empty_tables(kit: ContactsKit) -> None:
    """Delete every row the test wrote, children first."""
    async with kit.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())


@dataclass
class Harness:
    """An app with its lifespan running and an HTTP client talking to it over ASGI."""

    app: Any
    kit: ContactsKit
    client: httpx.AsyncClient


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    async with RunningApp(settings) as running:
        yield running


class RunningApp:
    """Start `create_app(settings, plugins=...)` with its lifespan and an ASGI client; on the
    way out, even after a failure, delete every row the test wrote (unless `clean=False`, for
    an app whose database is unreachable on purpose)."""

    def __init__(
        self,
        settings: Settings,
        plugins: tuple[object, ...] = (),
        client_address: tuple[str, int] = ("127.0.0.1", 123),
        *,
        clean: bool = True,
    ) -> None:
        self.clean = clean
        self.app = create_app(settings, plugins=plugins)
        self.kit: ContactsKit = self.app.state.contacts_kit
        self._lifespan = self.app.router.lifespan_context(self.app)
        self._client_address = client_address

    async def __aenter__(self) -> Harness:
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app, client=self._client_address)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return Harness(self.app, self.kit, self.client)

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self.clean:
                await empty_tables(self.kit)
        finally:
            await self.client.aclose()
            await self._lifespan.__aexit__(None, None, None)


@pytest.fixture
def client(harness: Harness) -> httpx.AsyncClient:
    return harness.client


async def signup(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Any:
    response = await client.post("/api/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Any:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


async def auth_headers(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Sign up `email` and return the headers that authenticate as it."""
    await signup(client, email)
    tokens = await login(client, email)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@asynccontextmanager
async def statements(kit: ContactsKit) -> AsyncIterator[list[str]]:
    """Every statement sent to the database while the block runs: those SQLAlchemy executes
    (its `before_cursor_execute` event) and the reads that go straight to the asyncpg
    connection of a pooled one (asyncpg's query logger, added as the pool hands it out;
    asyncpg calls it soon after the statement, so the block's end lets the loop run once)."""
    seen: list[str] = []
    logged: list[Any] = []

    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    def _log(query: Any) -> None:
        seen.append(query.query)

    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = record.driver_connection
        if hasattr(driver, "add_query_logger") and driver not in logged:
            driver.add_query_logger(_log)
            logged.append(driver)

    event.listen(kit.engine.sync_engine, "before_cursor_execute", _record)
    event.listen(kit.engine.sync_engine, "checkout", _checkout)
    try:
        yield seen
        await asyncio.sleep(0)
    finally:
        event.remove(kit.engine.sync_engine, "before_cursor_execute", _record)
        event.remove(kit.engine.sync_engine, "checkout", _checkout)
        for driver in logged:
            driver.remove_query_logger(_log)
