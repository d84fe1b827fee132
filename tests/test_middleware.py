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


async def test_a_body_without_content_length_is_counted_over_http2() -> None:
    # HTTP/1 frames a body by Content-Length or chunked encoding, so the middleware trusts a
    # declared length there; over HTTP/2 a body may come with neither, and is counted.
    from starlette.types import Message, Receive, Scope, Send

    from contacts_kit.middleware import BodySizeLimitMiddleware

    read: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            read.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read"})

    chunks: list[Message] = [
        {"type": "http.request", "body": b"x" * 600, "more_body": True} for _ in range(3)
    ] + [{"type": "http.request", "body": b"", "more_body": False}]

    async def send_all(http_version: str, headers: list[tuple[bytes, bytes]]) -> list[Message]:
        pending = list(chunks)
        sent: list[Message] = []

        async def receive() -> Message:
            return pending.pop(0) if pending else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        middleware = BodySizeLimitMiddleware(app, limit_for=lambda path: 1024)
        scope = {"type": "http", "http_version": http_version, "path": "/x", "headers": headers}
        await middleware(scope, receive, send)
        return sent

    over_http2 = await send_all("2", [])
    assert over_http2[0]["status"] == 413
    assert sum(read) <= 1800  # stopped at the chunk that crossed the limit
    chunked = await send_all("1.1", [(b"transfer-encoding", b"chunked")])
    assert chunked[0]["status"] == 413
    read.clear()
    declared = await send_all("1.1", [(b"content-length", b"5000")])
    assert declared[0]["status"] == 413
    assert read == []  # refused on the declared length, before a byte was read
