"""An existing FastAPI application that embeds contacts-kit under its own prefix.

Run it from the repository root with `uvicorn --factory examples.host_app.app:build_app`.
"""

# No `from __future__ import annotations` here: FastAPI must see the dependency aliases
# defined inside build_app() as real objects, not as strings.
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI

from contacts_kit import ContactsKit, Settings
from contacts_kit.auth.schemas import AuthenticatedUser

PREFIX = "/v1/contacts-service"


def build_app(settings: Settings | None = None) -> FastAPI:
    """The host application; `settings` default to the environment and `.env`."""
    # The prefix the routers are mounted at is also where emailed links must point.
    kit = ContactsKit(settings or Settings(api_prefix=PREFIX))
    prefix = kit.settings.api_prefix

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The host's own start-up and shutdown wrap the kit's.
        app.state.greeting = "hello from the host app"
        async with kit.lifespan(app):
            yield
        app.state.greeting = None

    app = FastAPI(title="Host app", lifespan=lifespan)
    kit.install(app)
    app.include_router(kit.auth_router(), prefix=f"{prefix}/auth", tags=["auth"])
    app.include_router(kit.users_router(), prefix=f"{prefix}/users", tags=["users"])
    app.include_router(kit.avatar_router(), prefix=f"{prefix}/users", tags=["users"])
    app.include_router(kit.contacts_router(), prefix=f"{prefix}/contacts", tags=["contacts"])
    app.include_router(kit.health_router(), prefix=prefix, tags=["health"])

    CurrentUser = Annotated[AuthenticatedUser, Depends(kit.current_user)]

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        """A route of the host's own."""
        return {"message": app.state.greeting}

    @app.get("/v1/whoami")
    async def whoami(user: CurrentUser) -> dict[str, str]:
        """A host route protected by contacts-kit's authentication."""
        return {"email": user.email}

    return app
