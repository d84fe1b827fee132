"""The floor: the same read scenarios on bare Starlette + asyncpg, with the same SQL, the
same JWT verification and the same Redis read of the cached user. No ORM, no FastAPI, no
Pydantic, no dependency injection: what the work costs at the least.

Run: `python -m bench.floor` with the CONTACTS_KIT_* variables of the project's server.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contacts_kit.auth.service import user_cache_key
from contacts_kit.auth.tokens import TokenCodec, TokenType
from contacts_kit.contact.birthdays import birthday_window, next_birthday
from contacts_kit.errors import InvalidToken
from contacts_kit.settings import Settings

COLUMNS = "id, first_name, last_name, email, phone, birthday, notes, created_at, updated_at"
SEARCH = (
    f"SELECT {COLUMNS} FROM contacts_kit_contacts WHERE owner_id = $1 "
    "AND search_text ILIKE $2 ESCAPE '\\' ORDER BY last_name || '', first_name, id "
    "LIMIT $3 OFFSET $4"
)
LIST = (
    f"SELECT {COLUMNS} FROM contacts_kit_contacts WHERE owner_id = $1 "
    "ORDER BY last_name, first_name, id LIMIT $2 OFFSET $3"
)
GET = f"SELECT {COLUMNS} FROM contacts_kit_contacts WHERE id = $1 AND owner_id = $2"


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    for key, value in row.items():
        if isinstance(value, datetime | date):
            row[key] = value.isoformat()
    return row


def build() -> Starlette:
    """The floor app, configured from the environment like the project."""
    settings = Settings()
    codec = TokenCodec(settings.jwt_secret.get_secret_value().encode(), lambda: datetime.now(UTC))  # type: ignore[union-attr]
    state: dict[str, Any] = {}

    async def user_id(request: Request) -> uuid.UUID | None:
        header = request.headers.get("authorization", "")
        try:
            claims = codec.decode(header.removeprefix("Bearer "), TokenType.ACCESS)
        except InvalidToken:
            return None
        cached = await state["redis"].get(user_cache_key(claims.sub))
        if cached is None or json.loads(cached)["token_version"] != claims.extra.get("ver"):
            return None  # the project would read the database here; the bench keeps it warm
        return uuid.UUID(claims.sub)

    async def contacts(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        q = request.query_params.get("q")
        async with state["pool"].acquire() as connection:
            if q:
                escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                rows = await connection.fetch(SEARCH, owner, f"%{escaped}%", 20, 0)
            else:
                rows = await connection.fetch(LIST, owner, 20, 0)
        return JSONResponse([_row(r) for r in rows])

    async def birthdays(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        today = datetime.now(UTC).date()
        window = birthday_window(today, int(request.query_params.get("days", "7")))
        ranges = (
            " OR ".join(f"birthday_key BETWEEN {low} AND {high}" for low, high in window.ranges)
            or "true"
        )
        sql = (
            f"SELECT {COLUMNS} FROM contacts_kit_contacts WHERE owner_id = $1 AND ({ranges}) "
            f"ORDER BY CASE WHEN birthday_key < {window.start_key} THEN 1 ELSE 0 END, "
            "birthday_key, last_name, first_name, id LIMIT 100"
        )
        async with state["pool"].acquire() as connection:
            rows = await connection.fetch(sql, owner)
        return JSONResponse(
            [
                _row(r) | {"next_birthday": next_birthday(r["birthday"], today).isoformat()}
                for r in rows
            ]
        )

    async def one(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return JSONResponse({"detail": "unauthorized"}, status_code=401)
        async with state["pool"].acquire() as connection:
            row = await connection.fetchrow(GET, int(request.path_params["contact_id"]), owner)
        if row is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return JSONResponse(_row(row))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        state["pool"] = await asyncpg.create_pool(
            dsn,
            min_size=2,
            max_size=10,
            server_settings={"plan_cache_mode": "force_custom_plan"},  # as the project
        )
        state["redis"] = Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
        yield
        await state["pool"].close()
        await state["redis"].aclose()

    return Starlette(
        routes=[
            Route("/api/contacts", contacts),
            Route("/api/contacts/birthdays", birthdays),
            Route("/api/contacts/{contact_id:int}", one),
        ],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        "bench.floor:build",
        factory=True,
        host="127.0.0.1",
        port=int(os.environ.get("FLOOR_PORT", "8100")),
        workers=int(os.environ.get("FLOOR_WORKERS", "1")),
        log_level="warning",
    )
