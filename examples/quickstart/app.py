"""Your FastAPI app with contacts-kit's routes under /api: the quickstart's `app.py`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI

from contacts_kit import ContactsKit, Settings
from contacts_kit.users.schemas import AuthenticatedUser

# Until you configure SMTP, contacts-kit writes each email to the log at INFO: keep it visible.
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

kit = ContactsKit(Settings())  # read from CONTACTS_KIT_* variables and .env


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with kit.lifespan(app):  # closes the kit's pool, cache and Redis client on shutdown
        yield


app = FastAPI(title="My app", lifespan=lifespan)
app.include_router(kit.router)  # /api/auth, /api/users (avatars too), /api/contacts
app.include_router(kit.health_router)  # /healthz and /readyz

CurrentUser = Annotated[AuthenticatedUser, Depends(kit.current_user)]


@app.get("/hello")
async def hello(user: CurrentUser) -> dict[str, str]:
    """A route of your own that needs a contacts-kit login."""
    return {"message": f"Hello, {user.email}"}
