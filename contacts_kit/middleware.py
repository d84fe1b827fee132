"""ASGI middleware that refuses request bodies over a size limit, before they are read."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimitMiddleware:
    """413 for a body larger than `limit_for(path)` bytes, judged by `Content-Length` when
    given and by counting the bytes as they stream in otherwise, so an oversized upload is
    never held whole in memory. Paths for which `limit_for` returns None are left alone."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int | None]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        framed_by_length = scope.get("http_version") in ("1.0", "1.1")
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await _send_413(send, limit)
                    return
            elif name == b"transfer-encoding":
                framed_by_length = False
        if framed_by_length and (declared is None or declared >= 0):
            # HTTP/1 without Transfer-Encoding: the server delivers exactly Content-Length
            # bytes, and no body at all without it (RFC 9112, 6.3), so there is nothing to
            # count. That is every GET, and every client that declares its length.
            await self.app(scope, receive, send)
            return

        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answer now, then tell the app the client is gone: its body parsing
                    # stops the way it does on any disconnect (closing temporary files).
                    refused = True
                    await _send_413(send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise


async def _send_413(send: Send, limit: int) -> None:
    body = json.dumps(
        {"detail": f"Request body larger than {limit} bytes.", "code": "FILE_TOO_LARGE"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
