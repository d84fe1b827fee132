"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from contacts_kit.routing import Routes

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit

logger = logging.getLogger("contacts_kit.health")

PROBE_TIMEOUT = 2.0


def get_health_router(kit: ContactsKit, routes: Routes | None = None) -> APIRouter:
    """`GET /healthz` (the process answers) and `GET /readyz` (database and cache answer)."""
    router = routes or Routes()

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
        checks = {"database": await _database_ok(kit), "cache": await _cache_ok(kit)}
        ok = all(checks.values())
        body = {"status": "ok" if ok else "unavailable"} | {
            name: "ok" if passed else "down" for name, passed in checks.items()
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    return router.router


async def _database_ok(kit: ContactsKit) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            async with kit.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            # The reads have a pool of their own on PostgreSQL: it must answer too.
            await kit.read_pool.ping()
    except Exception as exc:
        logger.warning("readiness: database check failed: %s", type(exc).__name__)
        return False
    return True


async def _cache_ok(kit: ContactsKit) -> bool:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            return await kit.cache.ping()
    except TimeoutError:
        return False
