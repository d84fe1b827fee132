"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy import Select, column, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.backends.protocols import Cache
from contacts_kit.db.engine import missing_schema
from contacts_kit.db.replicas import Replicas
from contacts_kit.http import operation_id
from contacts_kit.migrate import VERSION_TABLE, revisions

logger = logging.getLogger("contacts_kit.health")

PROBE_TIMEOUT = 2.0
VERSION_QUERY: Select[tuple[Any]] = select(column("version_num")).select_from(table(VERSION_TABLE))


class Liveness(BaseModel):
    """The process answers."""

    __qualname__ = "ContactsKitLiveness"  # its OpenAPI name: never a host's

    status: Literal["ok"]


DatabaseState = Literal["ok", "down", "not_migrated"]


class ReplicaStatus(BaseModel):
    """A read replica as the last check found it. One that is down or lagging serves no
    reads (the primary does); it does not make the service unready."""

    __qualname__ = "ContactsKitReplicaStatus"  # its OpenAPI name: never a host's

    name: str = Field(description="Host, port and database.")
    state: Literal["unknown", "ok", "lagging", "down"]
    lag: float | None = Field(description="Seconds since it was last seen caught up.")
    reason: str | None = None


class Readiness(BaseModel):
    """Whether the service can serve: `ok` when the database answers with the tables of this
    version (`not_migrated`: run `contacts-kit migrate`) and the cache answers."""

    __qualname__ = "ContactsKitReadiness"  # its OpenAPI name: never a host's

    status: Literal["ok", "unavailable"]
    database: DatabaseState
    cache: Literal["ok", "down"]
    replicas: list[ReplicaStatus] = Field(
        default_factory=list, description="Each read replica, when there are any."
    )


def get_health_router(
    engine: AsyncEngine,
    cache: Cache,
    route_class: type[APIRoute] = APIRoute,
    replicas: Replicas | None = None,
    *,
    cache_timeout: float = PROBE_TIMEOUT,
) -> APIRouter:
    """`GET /healthz` (the process answers) and `GET /readyz` (database and cache answer).

    `cache_timeout` bounds the cache check; set it above the cache client's own timeouts, so
    the client gives up on its own terms rather than being cancelled mid-connect."""
    router = APIRouter(route_class=route_class, generate_unique_id_function=operation_id)

    @router.get("/healthz", name="health:live", summary="Liveness", response_model=Liveness)
    async def healthz() -> Liveness:
        """200 while the process is up."""
        return Liveness(status="ok")

    @router.get(
        "/readyz",
        name="health:ready",
        summary="Readiness",
        response_model=Readiness,
        responses={
            503: {
                "model": Readiness,
                "description": "The database or the cache does not answer, or the database is "
                "not migrated.",
            }
        },
    )
    async def readyz() -> JSONResponse:
        """200 when the database (migrated) and the cache answer, 503 otherwise; the body says
        which."""
        database = await _database_state(engine)
        cached = await _cache_ok(cache, cache_timeout)
        body = Readiness(
            status="ok" if database == "ok" and cached else "unavailable",
            database=database,
            cache="ok" if cached else "down",
            replicas=[
                ReplicaStatus(name=n.name, state=n.state, lag=n.lag, reason=n.reason)
                for n in (replicas.nodes if replicas is not None else [])
            ],
        )
        # Without replicas the body stays as it always was.
        shown = body.model_dump(exclude=None if body.replicas else {"replicas"})
        return JSONResponse(shown, status_code=200 if body.status == "ok" else 503)

    return router


async def _database_state(engine: AsyncEngine) -> DatabaseState:
    """`ok`, `down`, or `not_migrated` when the database is behind this version's migrations
    (a revision newer than this code knows is fine: a rolling deploy migrates first)."""
    head, known = revisions()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with engine.connect() as connection:
                found = await connection.execute(VERSION_QUERY)
                current = set(found.scalars())
    except Exception as exc:
        if missing_schema(exc):
            logger.error("readiness: no contacts-kit tables; run `contacts-kit migrate`")
            return "not_migrated"
        logger.warning("readiness: database check failed: %s", type(exc).__name__)
        return "down"
    if not current or (current <= known and head not in current):
        logger.error(
            "readiness: the database is at %s, this version needs %s; run `contacts-kit migrate`",
            ", ".join(sorted(current)) or "no revision",
            head,
        )
        return "not_migrated"
    return "ok"


async def _cache_ok(cache: Cache, limit: float) -> bool:
    try:
        async with asyncio.timeout(limit):
            return await cache.ping()
    except TimeoutError:
        return False
