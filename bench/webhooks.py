"""Webhooks under writes: one user creates contacts one after the other, first with no
webhook endpoint, then with one that a local receiver (an HTTP server on 127.0.0.1)
answers; a `contacts-kit worker` process sends the messages, as in production
(`jobs_in_process` off on the server). Prints the writes per second of each run, how many
messages arrived, and the delivery lag: from a creation's answer to its message's
arrival.

    python -m bench.webhooks                # 1,000 writes each run, PostgreSQL
    python -m bench.webhooks --writes 200

The app runs in-process (ASGI, no HTTP server) on its own PostgreSQL database, as
`bench.instructions` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from bench.seed import create_database
from contacts_kit import create_app
from contacts_kit.db.base import Base
from contacts_kit.migrate import upgrade_engine
from contacts_kit.settings import Settings, normalize_database_url

DATABASE = "postgresql://postgres@127.0.0.1:5432/contacts_kit_bench_webhooks"
SECRET = "bench-webhooks-" + "s" * 40


class _Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()
        self.expected = 0
        self.done = threading.Event()


def _receiver(arrivals: _Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            email = json.loads(body)["data"]["email"]
            with arrivals.lock:
                arrivals.at.setdefault(email, time.monotonic())
                if email.startswith("hooked") and len(arrivals.at) >= arrivals.expected:
                    arrivals.done.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def _empty(database_url: str) -> None:
    await create_database(database_url)
    engine = create_async_engine(normalize_database_url(database_url))
    await upgrade_engine(engine)
    async with engine.begin() as connection:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        await connection.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
    await engine.dispose()


async def _writes(
    client: httpx.AsyncClient, headers: dict[str, str], run: str, count: int
) -> tuple[float, dict[str, float]]:
    answered: dict[str, float] = {}
    started = time.monotonic()
    for index in range(count):
        email = f"{run}{index}@example.com"
        created = await client.post(
            "/api/contacts", json={"first_name": f"P{index}", "email": email}, headers=headers
        )
        assert created.status_code == 201, created.text
        answered[email] = time.monotonic()
    return count / (time.monotonic() - started), answered


async def main_async(writes: int) -> dict[str, Any]:
    await _empty(DATABASE)
    settings = Settings(
        _env_file=None,
        database_url=DATABASE,
        jwt_secret=SECRET,
        webhook_allow_private_urls=True,
        jobs_in_process=False,
        rate_limit_enabled=False,
        require_verified_email=False,
        load_entry_points=False,
        password_hash_time_cost=1,
        password_hash_memory_cost=64,
        password_hash_parallelism=1,
    )
    arrivals = _Arrivals()
    receiver = _receiver(arrivals)
    worker = _worker()
    try:
        return await _run(settings, arrivals, receiver, writes)
    finally:
        worker.terminate()
        worker.wait(20)
        receiver.shutdown()


def _worker() -> subprocess.Popen[bytes]:
    """`contacts-kit worker` on the bench's database, sending what the writes leave."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_KIT_")}
    env |= {
        "CONTACTS_KIT_DATABASE_URL": DATABASE,
        "CONTACTS_KIT_JWT_SECRET": SECRET,
        "CONTACTS_KIT_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "CONTACTS_KIT_LOAD_ENTRY_POINTS": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "contacts_kit", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _run(
    settings: Settings, arrivals: _Arrivals, receiver: ThreadingHTTPServer, writes: int
) -> dict[str, Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            account = {"email": "bench@example.com", "password": "bench password 1"}
            await client.post("/api/auth/signup", json=account)
            token = (await client.post("/api/auth/login", json=account)).json()["access_token"]
            headers = {"authorization": f"Bearer {token}"}
            await _writes(client, headers, "warm", 50)
            bare, _ = await _writes(client, headers, "bare", writes)
            url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
            body = {"url": url, "events": ["contact.created"]}
            assert (await client.post("/api/webhooks", json=body, headers=headers)).is_success
            arrivals.expected = writes
            hooked, answered = await _writes(client, headers, "hooked", writes)
            await asyncio.to_thread(arrivals.done.wait, 120)
    lags = sorted(arrivals.at[email] - answered[email] for email in arrivals.at)
    return {
        "writes": writes,
        "bare_per_second": bare,
        "hooked_per_second": hooked,
        "delivered": len(arrivals.at),
        "lag_p50": statistics.median(lags) if lags else None,
        "lag_p95": lags[int(len(lags) * 0.95) - 1] if lags else None,
        "lag_max": lags[-1] if lags else None,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=1000)
    args = parser.parse_args(argv)
    found = asyncio.run(main_async(args.writes))
    print(f"{found['writes']:,} creations, one user, in-process (ASGI), PostgreSQL; a worker sends")
    print(f"  no endpoint:  {found['bare_per_second']:,.0f} writes/s")
    ratio = found["hooked_per_second"] / found["bare_per_second"]
    print(f"  one endpoint: {found['hooked_per_second']:,.0f} writes/s ({ratio:.0%} of that)")
    print(f"  delivered: {found['delivered']:,} of {found['writes']:,}")
    if found["lag_p50"] is not None:
        print(
            f"  lag from the answer to the arrival: p50 {found['lag_p50'] * 1000:,.0f} ms, "
            f"p95 {found['lag_p95'] * 1000:,.0f} ms, max {found['lag_max'] * 1000:,.0f} ms"
        )
    return 0 if found["delivered"] == found["writes"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
