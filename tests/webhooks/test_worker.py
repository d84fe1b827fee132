"""`contacts-kit worker` as an operator runs it: a separate process sending the messages the
server's writes left in the outbox. Killed (SIGKILL) in the middle of the deliveries and
started again, it delivers every message, none lost, the one in flight at most twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import JWT_SECRET, RunningApp, auth_headers, make_settings
from tests.server import clean_env
from tests.webhooks.receiver import Receiver, receiver

MESSAGES = 20


def _worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = clean_env(
        CONTACTS_KIT_DATABASE_URL=database_url,
        CONTACTS_KIT_JWT_SECRET=JWT_SECRET,
        CONTACTS_KIT_WEBHOOK_ALLOW_PRIVATE_URLS="true",
        CONTACTS_KIT_WEBHOOK_TIMEOUT="0.5",
        CONTACTS_KIT_LOAD_ENTRY_POINTS="false",
    )
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "contacts_kit", "worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _wait(hook: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len({r.headers["webhook-id"] for r in hook.received}) < count:
        assert time.monotonic() < deadline, f"{len(hook.received)} of {count} arrived"
        time.sleep(0.05)


async def test_a_killed_worker_loses_nothing(postgres_database_url: str, tmp_path: Path) -> None:
    # PostgreSQL, as production runs workers (the other webhook tests cover both dialects).
    database_url = postgres_database_url
    settings = make_settings(database_url, tmp_path, webhook_allow_private_urls=True)
    log = tmp_path / "worker.log"
    with receiver() as hook:
        hook.delay = 0.1
        async with RunningApp(settings) as app:
            client = app.client
            alice = await auth_headers(client, "alice@example.com")
            body = {"url": hook.url, "events": ["contact.created"]}
            endpoint = (await client.post("/api/webhooks", json=body, headers=alice)).json()
            operations = [
                {"op": "create", "data": {"first_name": f"P{i}", "email": f"p{i}@x.org"}}
                for i in range(MESSAGES)
            ]
            batch = await client.post(
                "/api/contacts/batch", json={"operations": operations}, headers=alice
            )
            assert batch.status_code == 200
            first = _worker(database_url, log)
            try:
                _wait(hook, 4, timeout=30)
            finally:
                first.send_signal(signal.SIGKILL)
                first.wait(10)
            assert len({r.headers["webhook-id"] for r in hook.received}) < MESSAGES
            second = _worker(database_url, log)
            try:
                _wait(hook, MESSAGES, timeout=60)
            finally:
                second.send_signal(signal.SIGTERM)
                assert second.wait(20) == 0, log.read_text()
            ids = [r.headers["webhook-id"] for r in hook.received]
            assert len(set(ids)) == MESSAGES
            assert len(ids) - MESSAGES <= 1  # the one in flight when it died, sent again
            deliveries = await client.get(
                f"/api/webhooks/{endpoint['id']}/deliveries",
                params={"limit": 100},
                headers=alice,
            )
            states = [d["state"] for d in deliveries.json()["items"]]
            assert states == ["delivered"] * MESSAGES
