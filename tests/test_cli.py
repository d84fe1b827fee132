"""The `contacts-kit` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.cli import build_parser
from contacts_kit.migrate import VERSION_TABLE
from contacts_kit.settings import normalize_database_url
from tests.conftest import PASSWORD
from tests.server import clean_env, serving, serving_command, temporary_database, wait_for
from tests.services import unavailable


def test_serve_on_the_embedded_default_just_works(tmp_path: Path, redis_url: str) -> None:
    # Two workers share a cache (Redis): each worker's own would not see the other's logouts.
    env = clean_env(CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL="false", CONTACTS_KIT_REDIS_URL=redis_url)
    with serving(tmp_path, "--workers", "2", env=env) as base:
        assert httpx.get(f"{base}/docs").status_code == 200
        account = {"email": "cli@example.com", "password": PASSWORD}
        assert httpx.post(f"{base}/api/auth/signup", json=account).status_code == 201
        tokens = httpx.post(f"{base}/api/auth/login", json=account).json()
        # Several requests, so that both workers verify tokens signed by either.
        for _ in range(6):
            me = httpx.get(
                f"{base}/api/users/me",
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            assert me.status_code == 200
    assert (tmp_path / "contacts_kit.db").is_file()
    assert (tmp_path / ".contacts-kit-secret").is_file()
    # A restart keeps the development secret: the old token still works.
    with serving(tmp_path, env=env) as base:
        me = httpx.get(
            f"{base}/api/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200


def test_serve_in_production_without_a_secret_exits_with_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contacts_kit", "migrate"],
        cwd=tmp_path,
        env=clean_env(CONTACTS_KIT_ENVIRONMENT="production"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0  # migrating needs no secret
    result = subprocess.run(
        [sys.executable, "-c", "from contacts_kit.cli import app_factory; app_factory()"],
        cwd=tmp_path,
        env=clean_env(CONTACTS_KIT_ENVIRONMENT="production"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "CONTACTS_KIT_JWT_SECRET is required in production" in result.stderr


def test_migrate_creates_the_schema_on_a_new_postgres_database(
    postgres_server_url: str | None,
) -> None:
    if postgres_server_url is None:
        unavailable("PostgreSQL")
    with temporary_database(postgres_server_url, "contacts_kit_cli") as url:
        result = subprocess.run(
            [sys.executable, "-m", "contacts_kit", "migrate"],
            env=clean_env(CONTACTS_KIT_DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "migrated to head" in result.stdout

        async def _versions() -> list[str]:
            engine = create_async_engine(normalize_database_url(url))
            try:
                async with engine.connect() as connection:
                    rows = await connection.execute(
                        text(f"SELECT version_num FROM {VERSION_TABLE}")
                    )
                    return [row[0] for row in rows]
            finally:
                await engine.dispose()

        assert len(asyncio.run(_versions())) == 1


def test_serve_with_two_workers_logs_the_mailed_link_at_its_own_address(
    tmp_path: Path, redis_url: str
) -> None:
    # Logging is configured in every worker, not only the parent: the console mailer's link
    # shows, and it names the address served (no public URL is set).
    env = clean_env(CONTACTS_KIT_REDIS_URL=redis_url)
    command = [sys.executable, "-m", "contacts_kit", "serve", "--workers", "2"]
    with serving_command(tmp_path, command, env=env, ready="/healthz") as (base, log):
        account = {"email": "workers@example.com", "password": PASSWORD}
        assert httpx.post(f"{base}/api/auth/signup", json=account).status_code == 201
        link = wait_for(log, r"(http://\S+/api/auth/verify\?token=\S+)")
    assert link.startswith(f"{base}/api/auth/verify?token=")


def test_serve_options_are_parsed() -> None:
    args = build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "3"]
    )
    assert (args.host, args.port, args.workers) == ("0.0.0.0", 9000, 3)


def test_the_served_app_is_built_with_its_start_up_heap_frozen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What serve builds lives as long as the worker; the collector must not walk it again.
    from contacts_kit.cli import app_factory

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONTACTS_KIT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/f.db")
    gc.unfreeze()
    try:
        app_factory()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_access_log_keeps_no_secret_of_a_link(tmp_path: Path) -> None:
    # Verification and reset tokens, provider codes and the calendar feed's secret travel in
    # addresses; the server's access log writes `***` in their place (issue 29).
    command = [sys.executable, "-m", "contacts_kit", "serve"]
    with serving_command(tmp_path, command, env=clean_env(), ready="/healthz") as (base, log):
        httpx.get(f"{base}/api/auth/verify", params={"token": "verify-secret-1"})
        httpx.get(f"{base}/api/auth/password-reset/confirm", params={"token": "reset-secret-2"})
        httpx.get(f"{base}/api/calendar/feed-secret-3/birthdays.ics")
        httpx.get(f"{base}/api/contacts", params={"q": "visible-query"})
        wait_for(log, r"(/api/contacts\?q=visible-query)")
    text = log.read_text()
    assert "/api/auth/verify?token=*** " in text
    assert "/api/calendar/***/birthdays.ics" in text
    assert not [
        secret
        for secret in ("verify-secret-1", "reset-secret-2", "feed-secret-3")
        if secret in text
    ]


def test_serve_says_in_one_line_that_it_migrated_then_that_it_runs(tmp_path: Path) -> None:
    with serving_command(
        tmp_path, [sys.executable, "-m", "contacts_kit", "serve"], env=clean_env(), ready="/docs"
    ) as (_, log):
        wait_for(log, r"(Uvicorn running)")
        before = log.read_text().split("Uvicorn running")[0]
    assert "alembic" not in before
    assert before.count("is at the latest schema") == 1
    assert "sqlite+aiosqlite:///./contacts_kit.db is at the latest schema" in before
