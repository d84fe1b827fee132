"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.backends.protocols import Cache

logger = logging.getLogger("contacts_kit.health")

PROBE_TIMEOUT = 2.0


def get_health_router(
    engine: AsyncEngine, cache: Cache, route_class: type[APIRoute] = APIRoute
) -> APIRouter:
    """`GET /healthz` (the process answers) and `GET /readyz` (database and cache answer)."""
    router = APIRouter(route_class=route_class)

    @router.get("/healthz", name="health:live")
    async def healthz() -> dict[str, str]:
        """200 while the process is up."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        name="health:ready",
        responses={503: {"description": "The database or the cache does not answer."}},
    )
    async def readyz() -> JSONResponse:
        """200 when the database and the cache answer, 503 otherwise."""
        checks = {"database": await _database_ok(engine), "cache": await _cache_ok(cache)}
        ok = all(checks.values())
        body = {"status": "ok" if ok else "unavailable"} | {
            name: "ok" if passed else "down" for name, passed in checks.items()
        }
        return JSONResponse(body, status_code=200 if ok else 503)

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


async def _cache_ok(cache: Cache) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            return await cache.ping()
    except TimeoutError:
        return False
