"""The `contacts-kit` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.cli import build_parser
from contacts_kit.migrate import VERSION_TABLE
from contacts_kit.settings import normalize_database_url
from tests.conftest import PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_KIT_")}
    env.update(extra)
    return env


@contextmanager
def serving(cwd: Path, *args: str, env: dict[str, str]) -> Iterator[str]:
    """Run `contacts-kit serve` until the block ends; yield its base URL once it answers."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "contacts_kit", "serve", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"server did not start:\n{output}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def test_serve_on_the_embedded_default_just_works(tmp_path: Path) -> None:
    env = _env(CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL="false")
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
        env=_env(CONTACTS_KIT_ENVIRONMENT="production"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0  # migrating needs no secret
    result = subprocess.run(
        [sys.executable, "-c", "from contacts_kit.cli import app_factory; app_factory()"],
        cwd=tmp_path,
        env=_env(CONTACTS_KIT_ENVIRONMENT="production"),
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
        from tests.services import unavailable

        unavailable("PostgreSQL")
    server = make_url(normalize_database_url(postgres_server_url))
    name = f"contacts_kit_cli_{uuid.uuid4().hex[:10]}"

    async def _admin(statement: str) -> list[str]:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(statement))
                return [str(row[0]) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        result = subprocess.run(
            [sys.executable, "-m", "contacts_kit", "migrate"],
            env=_env(CONTACTS_KIT_DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "migrated to head" in result.stdout

        async def _versions() -> list[str]:
            engine = create_async_engine(url)
            try:
                async with engine.connect() as connection:
                    rows = await connection.execute(
                        text(f"SELECT version_num FROM {VERSION_TABLE}")
                    )
                    return [row[0] for row in rows]
            finally:
                await engine.dispose()

        assert len(asyncio.run(_versions())) == 1
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_serve_options_are_parsed() -> None:
    args = build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "3"]
    )
    assert (args.host, args.port, args.workers) == ("0.0.0.0", 9000, 3)
