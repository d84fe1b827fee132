"""The request body size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from tests.conftest import RunningApp, auth_headers, make_settings


async def test_an_oversized_json_body_is_413_without_being_read(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, max_body_bytes=2048)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "body@example.com")
        big = {
            "first_name": "A",
            "last_name": "B",
            "email": "a@example.com",
            "phone": "+12025550143",
            "birthday": "1990-01-01",
            "notes": "n" * 4000,
        }
        response = await running.client.post("/api/contacts", json=big, headers=headers)
        assert response.status_code == 413
        assert response.json()["code"] == "FILE_TOO_LARGE"

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"first_name": "'
            for _ in range(10):
                yield b"x" * 1024
            yield b'"}'

        streamed = await running.client.post(
            "/api/contacts",
            content=chunks(),
            headers={**headers, "content-type": "application/json"},
        )
        assert streamed.status_code == 413
        listed = await running.client.get("/api/contacts", headers=headers)
        assert listed.json() == []


async def test_the_limit_leaves_the_host_apps_routes_alone(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_database_url, tmp_path, max_body_bytes=1024)
    running = RunningApp(settings)

    @running.app.post("/host/echo")
    async def echo(payload: dict[str, str]) -> dict[str, int]:
        return {"size": len(payload["text"])}

    async with running as harness:
        response = await harness.client.post("/host/echo", json={"text": "y" * 5000})
        assert response.status_code == 200
        assert response.json() == {"size": 5000}
