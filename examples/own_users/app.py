"""A FastAPI application that already has users: its own `users` table (integer ids), its own
login (a signed session cookie), and contacts-kit's contacts, tags and birthday calendar on
those users. contacts-kit brings no account, no login and no security scheme of its own here.

Create contacts-kit's tables with `contacts-kit migrate` (same `CONTACTS_KIT_DATABASE_URL`);
the app creates its own `users` table when it starts. Saved as `own_users.py`, run it with
`uvicorn --factory own_users:build_app` (from a clone of contacts-kit:
`uvicorn --factory examples.own_users.app:build_app`).
"""

# No `from __future__ import annotations` here: FastAPI must see the dependency alias defined
# inside build_app() as a real object, not as a string.
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Cookie, FastAPI, Form, HTTPException, Response, status
from pwdlib import PasswordHash
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contacts_kit import ContactsKit, Settings
from contacts_kit.settings import normalize_database_url

COOKIE = "host_session"


class Base(DeclarativeBase):
    """The host's own tables."""


class User(Base):
    """The host's users: integer ids, the host's own password hashes."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))


class SessionCookies:
    """The host's login: `user id.signature` in a cookie, signed with the host's key."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _signature(self, user_id: int) -> str:
        return hmac.new(self.key, str(user_id).encode(), hashlib.sha256).hexdigest()

    def issue(self, user_id: int) -> str:
        """The cookie value of a signed-in user."""
        return f"{user_id}.{self._signature(user_id)}"

    def user_id(self, value: str | None) -> int | None:
        """The user a cookie signs in, if it is genuine."""
        user, _, signature = (value or "").partition(".")
        if not user.isdigit() or not hmac.compare_digest(signature, self._signature(int(user))):
            return None
        return int(user)


def build_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    cookie_key: bytes | None = None,
) -> FastAPI:
    """The host application; `settings` default to the environment and `.env`, `engine` to
    one of `settings.database_url` shared by the host and the kit (one pool)."""
    settings = settings or Settings()
    engine = engine or create_async_engine(normalize_database_url(settings.database_url))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    cookies = SessionCookies(cookie_key or secrets.token_bytes(32))
    passwords = PasswordHash.recommended()

    async def current_user_id(host_session: Annotated[str | None, Cookie()] = None) -> int:
        """The host's own current-user dependency: the id of the signed-in user, or 401."""
        user_id = cookies.user_id(host_session)
        if user_id is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Sign in first.")
        return user_id

    # The contacts module runs on the host's users: their id is the owner of an address
    # book. No account of the kit's, no JWT secret, no avatar storage.
    kit = ContactsKit(settings, owner=current_user_id, engine=engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with kit.lifespan(app):
            yield
        await engine.dispose()

    app = FastAPI(title="Host app with its own users", lifespan=lifespan)
    app.include_router(kit.get_contacts_router(), prefix="/api/contacts", tags=["contacts"])
    app.include_router(kit.get_tags_router(), prefix="/api/tags", tags=["tags"])
    app.include_router(kit.get_calendar_router(), prefix="/api", tags=["calendar"])
    app.include_router(kit.get_webhooks_router(), prefix="/api/webhooks", tags=["webhooks"])

    @app.post("/register", status_code=status.HTTP_201_CREATED)
    async def register(
        email: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> dict[str, int]:
        """The host's own signup."""
        async with sessions.begin() as session:
            user = User(email=email.lower(), password_hash=passwords.hash(password))
            session.add(user)
            await session.flush()
            return {"id": user.id}

    @app.post("/login", status_code=status.HTTP_204_NO_CONTENT)
    async def login(
        email: Annotated[str, Form()], password: Annotated[str, Form()], response: Response
    ) -> None:
        """The host's own login: a signed session cookie."""
        async with sessions() as session:
            user = await session.scalar(select(User).where(User.email == email.lower()))
        if user is None or not passwords.verify(password, user.password_hash):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong email or password.")
        response.set_cookie(COOKIE, cookies.issue(user.id), httponly=True, samesite="lax")

    app.state.contacts_kit = kit
    return app
