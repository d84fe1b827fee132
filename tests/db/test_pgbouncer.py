"""Behind a real PgBouncer (Debian's `pgbouncer`) in transaction pooling mode, where asyncpg's
prepared statements classically fail ("prepared statement ... does not exist"): with
`CONTACTS_KIT_DATABASE_PGBOUNCER=true`, 64 concurrent clients read and write without one."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from contacts_kit.settings import normalize_database_url
from tests.conftest import RunningApp, auth_headers, make_settings
from tests.server import free_port
from tests.services import lab, unavailable

CLIENTS = 64


def _pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )


@contextmanager
def pgbouncer(database_url: str) -> Iterator[tuple[str, Path]]:
    """A PgBouncer in transaction mode in front of `database_url`'s database: its URL and
    its folder (configuration and log)."""
    binary = _pgbouncer_binary()
    if binary is None:
        unavailable("PgBouncer (the Debian package pgbouncer)")
        raise AssertionError("unreachable")
    url = make_url(database_url)
    port = free_port()
    # PgBouncer refuses to run as root: it runs as postgres (below), which must reach this.
    folder = Path(tempfile.mkdtemp(prefix="contacts-kit-pgbouncer-"))
    folder.chmod(0o777)
    (folder / "users.txt").write_text(f'"{url.username}" ""\n')
    config = folder / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"{url.database} = host={url.host} port={url.port} dbname={url.database}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 8\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    for path in folder.iterdir():
        path.chmod(0o666)
    command = [binary, str(config)]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    output = process.communicate()[0].decode(errors="replace")
                    raise AssertionError(f"PgBouncer did not start: {output[-2000:]}") from None
                time.sleep(0.1)
        yield url.set(port=port).render_as_string(hide_password=False), folder
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


async def _client_work(client: httpx.AsyncClient, headers: dict[str, str], index: int) -> list[int]:
    statuses = []
    created = await client.post(
        "/api/contacts",
        json={"first_name": f"C{index}", "email": f"c{index}@example.com"},
        headers=headers,
    )
    statuses.append(created.status_code)
    contact_id = created.json().get("id")
    for _ in range(3):
        statuses.append((await client.get("/api/contacts", headers=headers)).status_code)
        statuses.append(
            (await client.get(f"/api/contacts/{contact_id}", headers=headers)).status_code
        )
        patched = await client.patch(
            f"/api/contacts/{contact_id}", json={"notes": f"n{index}"}, headers=headers
        )
        statuses.append(patched.status_code)
    statuses.append((await client.get("/api/contacts/birthdays", headers=headers)).status_code)
    return statuses


async def _load(settings: Any, email: str) -> None:
    """`CLIENTS` clients of one user at once, each creating, reading and patching: every
    answer a success, every contact there."""
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, email)
        results = await asyncio.gather(
            *(_client_work(running.client, headers, i) for i in range(CLIENTS))
        )
        statuses = [status for result in results for status in result]
        assert set(statuses) <= {200, 201}, sorted(set(statuses))
        assert len(statuses) == CLIENTS * 11
        listed = await running.client.get("/api/contacts", params={"limit": 100}, headers=headers)
        assert len(listed.json()) == CLIENTS


async def test_64_clients_behind_pgbouncer_in_transaction_mode(
    postgres_database_url: str, tmp_path: Path, caplog: Any
) -> None:
    with pgbouncer(postgres_database_url) as (bounced, folder):
        settings = make_settings(
            bounced,
            tmp_path,
            database_pgbouncer=True,
            database_pool_size=20,
            database_max_overflow=50,
        )
        await _load(settings, "bounced@example.com")
        log = (folder / "pgbouncer.log").read_text()
    assert "prepared statement" not in caplog.text
    assert "does not exist" not in log
    # The traffic went through PgBouncer: its log shows the logins to the database.
    assert f"login attempt: db={make_url(postgres_database_url).database}" in log


@pytest.mark.scale
async def test_64_clients_through_the_labs_pgbouncers_with_a_replica(
    postgres_database_url: str, tmp_path: Path, caplog: Any
) -> None:
    """The same load through the scale lab's PgBouncers, the primary's for writes and the
    replica's for reads: no prepared-statement error on either."""
    database = make_url(postgres_database_url).database
    primary, replica = (
        make_url(normalize_database_url(lab(variable)))
        .set(database=database)
        .render_as_string(hide_password=False)
        for variable in (
            "CONTACTS_KIT_TEST_PGBOUNCER_URL",
            "CONTACTS_KIT_TEST_PGBOUNCER_REPLICA_URL",
        )
    )
    settings = make_settings(
        primary,
        tmp_path,
        database_pgbouncer=True,
        database_replica_urls=[replica],
        database_pool_size=20,
        database_max_overflow=50,
    )
    await _load(settings, "lab-bounced@example.com")
    assert "prepared statement" not in caplog.text
