"""`create_app` is the kit's routers on an app the kit owns: the same API a host gets by
including `kit.router` and `kit.health_router`, plus the app-wide parts a host keeps for
itself (handlers for unknown paths, CORS)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from contacts_kit import ContactsKit, create_app
from contacts_kit.users.schemas import AuthenticatedUser
from tests.conftest import make_settings


def test_create_app_documents_the_same_api_as_an_including_host(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_database_url, tmp_path)
    standalone = create_app(settings)
    kit = ContactsKit(settings)
    host = FastAPI(title="contacts-kit", version=standalone.version)
    host.include_router(kit.router)
    host.include_router(kit.health_router, tags=["health"])
    # Paths, methods, operation ids, tags, parameters, bodies, responses and security.
    assert standalone.openapi()["paths"] == host.openapi()["paths"]
    assert standalone.openapi()["components"] == host.openapi()["components"]


async def test_dependency_overrides_reach_the_routes(
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
        listed = await client.get(f"{settings.api_prefix}/contacts")
        own = await client.get(f"{settings.api_prefix}/users/me")
    assert listed.status_code == 200  # no token sent: the override answered
    assert listed.json() == []
    assert own.json()["email"] == "override@example.com"
