"""`create_app` declares the kit's routes on the app itself: what a host app gets by including
each router, without FastAPI's nested router on every request."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from contacts_kit import ContactsKit, create_app
from contacts_kit.auth.schemas import AuthenticatedUser
from tests.conftest import make_settings


def _included(kit: ContactsKit) -> FastAPI:
    """The kit's routers, included the way a host app does (README, examples/host_app)."""
    app = FastAPI()
    prefix = kit.settings.api_prefix
    app.include_router(kit.contacts_router(), prefix=f"{prefix}/contacts", tags=["contacts"])
    app.include_router(kit.auth_router(), prefix=f"{prefix}/auth", tags=["auth"])
    app.include_router(kit.users_router(), prefix=f"{prefix}/users", tags=["users"])
    app.include_router(kit.avatar_router(), prefix=f"{prefix}/users", tags=["users"])
    app.include_router(kit.health_router(), tags=["health"])
    return app


def test_create_app_documents_the_same_api_as_the_included_routers(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_database_url, tmp_path)
    flat = create_app(settings)
    included = _included(ContactsKit(settings))
    # Paths, methods, operation ids, tags, parameters, bodies, responses and security.
    assert flat.openapi()["paths"] == included.openapi()["paths"]
    assert flat.openapi()["components"] == included.openapi()["components"]
    # Flat: every route under the API prefix is a route of the app itself.
    api = [
        route
        for route in flat.routes
        if str(getattr(route, "path", "")).startswith(settings.api_prefix)
        or not hasattr(route, "path")
    ]
    assert api
    assert all(isinstance(route, APIRoute) for route in api)


async def test_dependency_overrides_reach_the_flat_routes(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_database_url, tmp_path)
    app = create_app(settings)
    kit: ContactsKit = app.state.contacts_kit
    me = AuthenticatedUser.model_validate(
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "email": "override@example.com",
            "is_verified": True,
            "token_version": 0,
            "avatar_url": None,
            "created_at": "2026-01-01T00:00:00Z",
        }
    )
    app.dependency_overrides[kit.current_user] = lambda: me
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        response = await client.get(f"{settings.api_prefix}/contacts")
    assert response.status_code == 200  # no token sent: the override answered
    assert response.json() == []
