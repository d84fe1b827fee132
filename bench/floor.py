"""The floor: the same read scenarios on bare Starlette + asyncpg, with the same SQL, the
same JWT verification and the same Redis read of the cached user. No ORM session, no
FastAPI, no Pydantic models, no dependency injection: what the work costs at the least.

The SQL is the project's own: the contact repository's query builders pick the statement and
its parameters (as they do for the project), the statement is compiled once to asyncpg's `$n`
form, and each request runs it straight on an asyncpg pool of the project's pool size, with a
first-come-first-served gate in front (no retry on a lost connection).

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
from typing import Any, NamedTuple

import asyncpg
from pydantic_core import to_json
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contacts_kit.auth.errors import InvalidToken
from contacts_kit.auth.tokens import TokenCodec, TokenType
from contacts_kit.backends.redis_client import redis_client
from contacts_kit.contact.birthdays import birthday_window, next_birthday
from contacts_kit.contact.repository import (
    ContactFilters,
    Query,
    birthdays_query,
    by_id_query,
    search_query,
)
from contacts_kit.db.engine import postgres_connect_args
from contacts_kit.settings import Settings
from contacts_kit.users.cache import user_cache_key

_DIALECT = PGDialect_asyncpg()


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]


class _Reader:
    """The least a reader can be: each statement compiled once, then run as is on the pool."""

    def __init__(self, size: int) -> None:
        self.pool: Any = None
        # Reads wait their turn in order (asyncpg's own queue lets a newcomer take a released
        # connection from a read that waited longer).
        self.gate = asyncio.Semaphore(size)
        self.compiled: dict[Any, _Compiled] = {}

    def _args(self, statement: Any, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        compiled = self.compiled.get(statement)
        if compiled is None:
            result = statement.compile(dialect=_DIALECT)
            # Literals of the statement (a `CASE ... THEN 1`) are parameters too.
            fixed = {
                name: bind.effective_value
                for name, bind in result.binds.items()
                if not bind.required
            }
            compiled = _Compiled(result.string, tuple(result.positiontup or ()), fixed)
            self.compiled[statement] = compiled
        values = {**compiled.fixed, **params}
        return compiled.sql, [values[name] for name in compiled.names]

    async def fetch(self, query: Query) -> Any:
        sql, args = self._args(*query)
        async with self.gate:
            return await self.pool.fetch(sql, *args)

    async def fetchrow(self, query: Query) -> Any:
        sql, args = self._args(*query)
        async with self.gate:
            return await self.pool.fetchrow(sql, *args)


_NEXT_CHANGE = (
    "INSERT INTO contacts_kit_change_logs (owner_id, seq, horizon) VALUES ($1, 1, 0) "
    "ON CONFLICT (owner_id) DO UPDATE SET seq = contacts_kit_change_logs.seq + 1 RETURNING seq"
)
_UPDATE_NOTES = (
    "UPDATE contacts_kit_contacts SET notes = $1, version = version + 1, updated_at = now(), "
    "change_seq = $2 WHERE id = $3 AND owner_id = $4 AND deleted_at IS NULL RETURNING id, "
    "first_name, nullif(last_name, '') AS last_name, email, phone, emails, phones, addresses, "
    "urls, nickname, organization, job_title, birthday, anniversary, notes, favorite, tags, "
    "photo_url, version, created_at, updated_at"
)


def _json(content: Any, status_code: int = 200) -> Response:
    # pydantic-core's serializer: the fastest JSON at hand (dates and datetimes included),
    # with no model and no validation.
    return Response(to_json(content), status_code=status_code, media_type="application/json")


def _visible(row: Any) -> dict[str, Any]:
    """A row as the API shows it: every column but the version and the card's own lines."""
    fields = dict(row)
    del fields["version"]
    fields.pop("extra", None)
    return fields


async def _keep_session(connection: asyncpg.Connection) -> None:
    """As the project's read pool: no reset query when a connection goes back to the pool."""


def build() -> Starlette:
    """The floor app, configured from the environment like the project."""
    settings = Settings()
    codec = TokenCodec(settings.jwt_secret.get_secret_value().encode(), lambda: datetime.now(UTC))  # type: ignore[union-attr]
    state: dict[str, Any] = {}
    # The project's connection budget: its pool and the overflow it may open in a burst.
    reader = _Reader(settings.database_pool_size + settings.database_max_overflow)

    async def user_id(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        try:
            claims = codec.decode(header.removeprefix("Bearer "), TokenType.ACCESS)
        except InvalidToken:
            return None
        cached = await state["redis"].get(f"{settings.key_prefix}:{user_cache_key(claims.sub)}")
        if cached is None or json.loads(cached)["user"]["token_version"] != claims.extra.get("ver"):
            return None  # the project would read the database here; the bench keeps it warm
        return uuid.UUID(claims.sub).hex

    async def contacts(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return _json({"detail": "unauthorized"}, 401)
        filters = ContactFilters(q=request.query_params.get("q"))
        rows = await reader.fetch(search_query(owner, filters, 20, 0))
        return _json([_visible(r) for r in rows])

    async def birthdays(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return _json({"detail": "unauthorized"}, 401)
        today = datetime.now(UTC).date()
        window = birthday_window(today, int(request.query_params.get("days", "7")))
        rows = await reader.fetch(birthdays_query(owner, window, 100, 0))
        return _json(
            [_visible(r) | {"next_birthday": next_birthday(r["birthday"], today)} for r in rows]
        )

    async def one(request: Request) -> Response:
        owner = await user_id(request)
        if owner is None:
            return _json({"detail": "unauthorized"}, 401)
        row = await reader.fetchrow(by_id_query(owner, int(request.path_params["contact_id"])))
        if row is None:
            return _json({"detail": "not found"}, 404)
        return _json(_visible(row))

    async def patch(request: Request) -> Response:
        # The least the same write costs: the owner's change number and the update, in one
        # transaction (the project also locks the row first and checks the body's fields).
        owner = await user_id(request)
        if owner is None:
            return _json({"detail": "unauthorized"}, 401)
        notes = json.loads(await request.body()).get("notes")
        async with reader.gate, reader.pool.acquire() as connection, connection.transaction():
            seq = await connection.fetchval(_NEXT_CHANGE, owner)
            row = await connection.fetchrow(
                _UPDATE_NOTES, notes, seq, int(request.path_params["contact_id"]), owner
            )
        if row is None:
            return _json({"detail": "not found"}, 404)
        return _json(_visible(row))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
        reader.pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=settings.database_pool_size + settings.database_max_overflow,
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
            Route("/api/contacts/{contact_id:int}", patch, methods=["PATCH"]),
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
