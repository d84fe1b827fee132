"""Liveness and readiness probes."""

from __future__ import annotations

from pathlib import Path

import httpx

from contacts_kit import Settings
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
