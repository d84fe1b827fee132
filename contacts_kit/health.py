"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.backends.protocols import Cache
from contacts_kit.http import operation_id

logger = logging.getLogger("contacts_kit.health")

PROBE_TIMEOUT = 2.0


class Liveness(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether the service can serve: `ok` when the database and the cache both answer."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "down"]
    cache: Literal["ok", "down"]


def get_health_router(
    engine: AsyncEngine,
    cache: Cache,
    route_class: type[APIRoute] = APIRoute,
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
            503: {"model": Readiness, "description": "The database or the cache does not answer."}
        },
    )
    async def readyz() -> JSONResponse:
        """200 when the database and the cache answer, 503 otherwise; the body says which."""
        database, cached = await _database_ok(engine), await _cache_ok(cache, cache_timeout)
        body = Readiness(
            status="ok" if database and cached else "unavailable",
            database="ok" if database else "down",
            cache="ok" if cached else "down",
        )
        return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)

    return router


async def _database_ok(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as exc:
        logger.warning("readiness: database check failed: %s", type(exc).__name__)
        return False
    return True


async def _cache_ok(cache: Cache, limit: float) -> bool:
    try:
        async with asyncio.timeout(limit):
            return await cache.ping()
    except TimeoutError:
        return False
