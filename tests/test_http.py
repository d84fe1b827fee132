"""The kit's route class: its body limit and its error answers, on the standalone app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from contacts_kit.errors import ErrorCode
from contacts_kit.http import STATUS
from tests.conftest import RunningApp, auth_headers, make_settings

BIG = {
    "first_name": "A",
    "last_name": "B",
    "email": "a@example.com",
    "phone": "+12025550143",
    "birthday": "1990-01-01",
    "notes": "n" * 4000,
}


async def test_an_oversized_body_is_413_without_being_read(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, max_body_bytes=2048)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "body@example.com")
        response = await running.client.post("/api/contacts", json=BIG, headers=headers)
        assert response.status_code == 413
        assert response.json() == {
            "detail": "The body is larger than 2048 bytes.",
            "code": "BODY_TOO_LARGE",
        }
        read: list[int] = []

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"first_name": "'
            for _ in range(10):
                read.append(1024)
                yield b"x" * 1024
            yield b'"}'

        streamed = await running.client.post(
            "/api/contacts",
            content=chunks(),
            headers={**headers, "content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert streamed.json()["code"] == "BODY_TOO_LARGE"
        listed = await running.client.get("/api/contacts", headers=headers)
        assert listed.json() == []
        # A body within the limit is read as usual.
        small = BIG | {"notes": "short"}
        assert (
            await running.client.post("/api/contacts", json=small, headers=headers)
        ).status_code == 201


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


def test_every_error_code_has_a_status() -> None:
    assert set(STATUS) == set(ErrorCode)
    assert all(400 <= status < 600 for status in STATUS.values())
