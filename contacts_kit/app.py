"""`create_app()`: the standalone server, an app contacts-kit owns."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.__about__ import __version__
from contacts_kit.http import install_app_handlers
from contacts_kit.kit import ContactsKit
from contacts_kit.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    plugins: Iterable[object] = (),
    engine: AsyncEngine | None = None,
) -> FastAPI:
    """A FastAPI app serving every contacts-kit route under `settings.api_prefix` and the
    probes at the root. The app is the kit's own, so it also answers unknown paths and
    methods in the kit's JSON and sets up CORS when origins are configured. `plugins` and
    `engine` are passed to `ContactsKit`."""
    settings = settings or Settings()
    kit = ContactsKit(settings, plugins=plugins, engine=engine)
    app = FastAPI(
        title="contacts-kit",
        version=__version__,
        description="Accounts with JWT and per-user address books.",
        lifespan=kit.lifespan,
    )
    app.state.contacts_kit = kit
    kit.include_routers(app, settings.api_prefix)
    app.include_router(kit.health_router, tags=["health"])
    install_app_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=settings.cors_allow_methods,
            allow_headers=settings.cors_allow_headers,
            allow_credentials=settings.cors_allow_credentials,
            expose_headers=["ETag", "Location", "Retry-After"],
        )
    return app
