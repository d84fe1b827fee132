"""Liveness and readiness probes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit import Settings
from contacts_kit.migrate import VERSION_TABLE, revisions, upgrade_engine
from contacts_kit.settings import normalize_database_url
from tests import services
from tests.conftest import RunningApp, make_settings
from tests.server import free_port


async def test_healthz_and_readyz_answer_200(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "cache": "ok"}


async def test_readyz_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    settings: Settings = make_settings(url, tmp_path)
    async with RunningApp(settings, clean=False) as running:
        assert (await running.client.get("/healthz")).status_code == 200
        ready = await running.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "down"


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server_url: str | None
) -> AsyncIterator[str]:
    """A database nobody has migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    if postgres_server_url is None:
        services.unavailable("PostgreSQL")
    server = make_url(normalize_database_url(postgres_server_url))
    name = f"contacts_kit_empty_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def test_an_unmigrated_database_is_named_as_such_not_as_an_outage(
    empty_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(empty_database_url, tmp_path)
    async with RunningApp(settings, clean=False) as running:
        ready = await running.client.get("/readyz")
        signup = await running.client.post(
            "/api/auth/signup", json={"email": "new@example.com", "password": "long-enough-pw"}
        )
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "not_migrated", "cache": "ok"}
    assert signup.status_code == 503
    assert signup.json()["code"] == "DATABASE_NOT_MIGRATED"
    assert "contacts-kit migrate" in signup.json()["detail"]
    assert "Retry-After" not in signup.headers  # waiting does not help; migrating does
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("run `contacts-kit migrate`" in line for line in logged), logged


async def test_a_database_behind_the_migrations_is_not_ready_until_upgraded(
    empty_database_url: str, tmp_path: Path
) -> None:
    head, known = revisions()
    older = next(iter(sorted(known - {head})))
    engine = create_async_engine(normalize_database_url(empty_database_url))
    try:
        await upgrade_engine(engine, older)
        settings = make_settings(empty_database_url, tmp_path)
        async with RunningApp(settings, clean=False) as running:
            behind = await running.client.get("/readyz")
            await upgrade_engine(engine, "head")
            upgraded = await running.client.get("/readyz")
            # A rolling deploy migrates first: a revision newer than this code is ready.
            async with engine.begin() as connection:
                await connection.execute(
                    text(f"UPDATE {VERSION_TABLE} SET version_num = '9999_from_the_next_release'")
                )
            ahead = await running.client.get("/readyz")
    finally:
        await engine.dispose()
    assert behind.json()["database"] == "not_migrated"
    assert behind.status_code == 503
    assert upgraded.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert ahead.json() == {"status": "ok", "database": "ok", "cache": "ok"}
