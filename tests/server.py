"""Running `contacts-kit serve` as a user would, in a subprocess, and databases for it."""

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

from contacts_kit.settings import normalize_database_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_KIT_")}
    env.update(extra)
    return env


@contextmanager
def serving(cwd: Path, *args: str, env: dict[str, str]) -> Iterator[str]:
    """Run `contacts-kit serve` until the block ends; yield its base URL once it answers."""
    port = free_port()
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


async def admin_sql(server_url: str, statement: str) -> None:
    """Run one statement on the server's maintenance database, outside any transaction."""
    url = make_url(normalize_database_url(server_url)).set(database="postgres")
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def temporary_database(server_url: str, prefix: str, *, create: bool = True) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; yields its URL. With
    `create=False` only the name is new: the code under test is to create it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if create:
        asyncio.run(admin_sql(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalize_database_url(server_url)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
