"""An existing FastAPI application that embeds contacts-kit under its own prefix.

Saved as `host_app.py`, after `contacts-kit migrate`, run it with
`uvicorn --factory host_app:build_app` (from a clone of contacts-kit:
`uvicorn --factory examples.host_app.app:build_app`).
"""

# No `from __future__ import annotations` here: FastAPI must see the dependency alias defined
# inside build_app() as a real object, not as a string.
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI

from contacts_kit import ContactsKit, Settings
from contacts_kit.users.schemas import AuthenticatedUser

PREFIX = "/v1/contacts-service"


def build_app(settings: Settings | None = None) -> FastAPI:
    """The host application; `settings` default to the environment and `.env`."""
    # The console mailer logs verification and reset links at INFO: show them.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    kit = ContactsKit(settings or Settings(api_prefix=PREFIX))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The host's own start-up and shutdown wrap the kit's.
        app.state.greeting = "hello from the host app"
        async with kit.lifespan(app):
            yield
        app.state.greeting = None

    app = FastAPI(title="Host app", lifespan=lifespan)
    app.include_router(kit.router)  # every API route, avatars included, under the prefix
    app.include_router(kit.health_router, prefix=PREFIX, tags=["health"])

    CurrentUser = Annotated[AuthenticatedUser, Depends(kit.current_user)]

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        """A route of the host's own."""
        return {"message": app.state.greeting}

    @app.get("/v1/whoami")
    async def whoami(user: CurrentUser) -> dict[str, str]:
        """A host route protected by contacts-kit's authentication."""
        return {"email": user.email}

    app.state.contacts_kit = kit
    return app
