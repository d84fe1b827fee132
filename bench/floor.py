"""The floor: the same read scenarios on bare Starlette + asyncpg, with the same SQL, the
same JWT verification and the same Redis read of the cached user. No ORM session, no
FastAPI, no Pydantic models, no dependency injection: what the work costs at the least.

The SQL is the project's own: the contact repository picks the statement and its parameters
(as it does for the project), the statement is compiled once to asyncpg's `$n` form, and
each request runs it straight on an asyncpg pool configured like the project's read pool,
first-come-first-served gate included (without its retry on a lost connection).

Run: `python -m bench.floor` with the CONTACTS_KIT_* variables of the project's server.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic_core import to_json
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contacts_kit.auth.service import user_cache_key
from contacts_kit.auth.tokens import TokenCodec, TokenType
from contacts_kit.backends.cache_redis import redis_client
from contacts_kit.contact.birthdays import birthday_window, next_birthday
from contacts_kit.contact.repository import ContactFilters, ContactRepository
from contacts_kit.db.engine import postgres_connect_args
from contacts_kit.db.reader import CompiledRead, compile_read
from contacts_kit.errors import InvalidToken
from contacts_kit.settings import Settings

_DIALECT = PGDialect_asyncpg()


class _Reader:
    """The least a reader can be: each statement compiled once, then run as is on the pool."""

    def __init__(self, size: int) -> None:
        self.pool: Any = None
        # As the project's read pool: reads wait their turn in order (asyncpg's own queue lets
        # a newcomer take a released connection from a read that waited longer).
        self.gate = asyncio.Semaphore(size)
        self.compiled: dict[Any, CompiledRead] = {}

    def _args(self, statement: Any, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        if statement not in self.compiled:
            self.compiled[statement] = compile_read(statement, _DIALECT)
        compiled = self.compiled[statement]
        return compiled.sql, compiled.args(params)

    async def fetch(self, statement: Any, params: Mapping[str, Any]) -> Any:
        sql, args = self._args(statement, params)
        async with self.gate:
            return await self.pool.fetch(sql, *args)

    async def fetchrow(self, statement: Any, params: Mapping[str, Any]) -> Any:
        sql, args = self._args(statement, params)
        async with self.gate:
            return await self.pool.fetchrow(sql, *args)


def _json(content: Any, status_code: int = 200) -> Response:
    # pydantic-core's serializer: the fastest JSON at hand (dates and datetimes included),
    # with no model and no validation.
    return Response(to_json(content), status_code=status_code, media_type="application/json")


async def _keep_session(connection: asyncpg.Connection) -> None:
    """As the project's read pool: no reset query when a connection goes back to the pool."""


def build() -> Starlette:
    """The floor app, configured from the environment like the project."""
    settings = Settings()
    codec = TokenCodec(settings.jwt_secret.get_secret_value().encode(), lambda: datetime.now(UTC))  # type: ignore[union-attr]
    state: dict[str, Any] = {}
    reader = _Reader(settings.database_pool_size)

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
            return _json({"detail": "unauthorized"}, 401)
        filters = ContactFilters(q=request.query_params.get("q"))
        rows = await ContactRepository(reader, owner).search(filters, 20, 0)
        return _json([dict(r) for r in rows])

    async def birthdays(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return _json({"detail": "unauthorized"}, 401)
        today = datetime.now(UTC).date()
        window = birthday_window(today, int(request.query_params.get("days", "7")))
        rows = await ContactRepository(reader, owner).upcoming_birthdays(window, 100, 0)
        return _json(
            [dict(r) | {"next_birthday": next_birthday(r["birthday"], today)} for r in rows]
        )

    async def one(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return _json({"detail": "unauthorized"}, 401)
        row = await ContactRepository(reader, owner).get(int(request.path_params["contact_id"]))
        if row is None:
            return _json({"detail": "not found"}, 404)
        return _json(dict(row))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        reader.pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=settings.database_pool_size,
            reset=_keep_session,
            **postgres_connect_args(),  # plan_cache_mode, as the project
        )
        # The project's own client: the same timeouts, decoding and parser (hiredis).
        state["redis"] = redis_client(settings)
        yield
        await reader.pool.close()
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
