"""Running `contacts-kit serve` as a user would, in a subprocess, and databases for it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
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
    command = [sys.executable, "-m", "contacts_kit", "serve", *args]
    with serving_command(cwd, command, env=env, ready="/healthz") as (base, _):
        yield base


@contextmanager
def serving_command(
    cwd: Path, command: list[str], *, env: dict[str, str], ready: str
) -> Iterator[tuple[str, Path]]:
    """Run a server command (`--port` is added) until the block ends; yield its base URL once
    `ready` answers 200, and the file its output goes to."""
    port = free_port()
    log = cwd / f"server-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}{ready}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(log: Path, pattern: str, timeout: float = 10) -> str:
    """The first group of `pattern` once it appears in the log file."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(pattern, log.read_text())
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            pytest.fail(f"{pattern!r} never appeared in the log:\n{log.read_text()}")
        time.sleep(0.1)


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


class HungListener:
    """A TCP port that accepts connections and never answers, counting them: a database or a
    Redis that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(connection)  # read nothing, answer nothing

    def __enter__(self) -> HungListener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in self._held:
            connection.close()
        self.sock.close()


@contextmanager
def redis_server(tmp: Path) -> Iterator[tuple[int, Callable[[], None], Callable[[], None]]]:
    """A Redis server of the test's own (Debian's `redis-server`), with `stop` and `start`
    that shut it down and bring it back on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    state: dict[str, subprocess.Popen[bytes] | None] = {"process": None}

    def start() -> None:
        state["process"] = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop() -> None:
        process = state["process"]
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
            state["process"] = None

    start()
    try:
        yield port, stop, start
    finally:
        stop()


class ThreadedServer:
    """An ASGI app served by uvicorn on a thread of the test process (the local stand-ins of
    services that cannot run here: Cloudinary, identity providers)."""

    def __init__(self, app: Any, port: int, name: str) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.name = name

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
