"""The accounts module's dependencies: the current user of a bearer token, the services of
signing up and in, of the account and its avatar, and their rate limits.

Each is an ordinary dependency a host can override (`app.dependency_overrides[dep] = ...`).
Every dependency that needs the current user depends on `current_user` itself, so overriding
it reaches them all: the services and the per-user rate limits included. The contacts module
knows none of this: the composition root hands it `current_user`, and the user's id as the
owner of the address book.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the closures below
# at run time, and they name local aliases.
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contacts_kit.auth.current_user import SCHEME_NAME, CurrentUser
from contacts_kit.auth.linking import IdentityService
from contacts_kit.auth.providers import Providers
from contacts_kit.auth.service import Authenticator, AuthService, Client
from contacts_kit.auth.tokens import TokenCodec
from contacts_kit.auth.totp import SecretBox
from contacts_kit.backends.protocols import Storage
from contacts_kit.deps import Plumbing
from contacts_kit.mail import MailComposer
from contacts_kit.ratelimit import RateLimit, RateLimits, client_ip, per_ip
from contacts_kit.users.cache import UserCache
from contacts_kit.users.events import AccountEvents
from contacts_kit.users.passwords import PasswordHasher
from contacts_kit.users.schemas import AuthenticatedUser
from contacts_kit.users.service import OwnedData, UserService


def user_identity(user_id: uuid.UUID) -> str:
    """The identity a per-user limit counts against."""
    return f"user:{user_id}"


@dataclass(frozen=True)
class AccountParts:
    """What the kit built for its accounts, handed to the dependencies of each request."""

    read_sessions: async_sessionmaker[AsyncSession]
    tokens: TokenCodec
    providers: Providers
    secret_box: SecretBox
    passwords: PasswordHasher
    user_cache: UserCache
    mail: MailComposer
    storage: Storage
    limits: RateLimits
    events: AccountEvents
    clock: Callable[[], datetime]
    token_url: str
    erase_owned: OwnedData
    """Deletes what other modules keep of an account that goes (its address book)."""
    read_along: Callable[[uuid.UUID], list[str]] | None = None
    """Cache keys of another module to read with the current user (`read_with`)."""


class AccountDependencies:
    """The dependencies of the accounts routers of one kit: signing up and in, sessions,
    two-factor authentication, provider sign-in, the account and its avatar."""

    def __init__(self, plumbing: Plumbing, parts: AccountParts) -> None:
        self.plumbing = plumbing
        self.parts = parts
        self.settings = settings = plumbing.settings
        self.events = parts.events
        self.route_class = plumbing.route_class
        self.current_user = CurrentUser(
            Authenticator(
                parts.tokens,
                parts.user_cache,
                parts.read_sessions,
                settings.access_token_ttl,
                parts.clock,
                parts.read_along,
            ),
            parts.token_url,
        )
        # The raw bearer token, for the routes that read its claims (the same scheme).
        self.bearer_token = OAuth2PasswordBearer(
            tokenUrl=parts.token_url, scheme_name=SCHEME_NAME, auto_error=False
        )
        self.limit_password = self.per_user(parts.limits.password)
        self.limit_avatar = self.per_user(parts.limits.avatar)
        self.limit_mfa = self.per_user(parts.limits.mfa)

        SessionDep = Annotated[AsyncSession, Depends(plumbing.session, scope="function")]

        async def auth_service(session: SessionDep) -> AuthService:
            """Signing up and in, in the request's transaction."""
            return AuthService(
                session,
                settings=settings,
                passwords=parts.passwords,
                tokens=parts.tokens,
                secret_box=parts.secret_box,
                user_cache=parts.user_cache,
                mail=parts.mail,
                clock=parts.clock,
            )

        async def identity_service(
            session: SessionDep, auth: Annotated[AuthService, Depends(auth_service)]
        ) -> IdentityService:
            """Provider sign-ins and linked identities, in the request's transaction."""
            return IdentityService(
                session,
                auth=auth,
                providers=parts.providers,
                tokens=parts.tokens,
                settings=settings,
                clock=parts.clock,
            )

        async def user_service(session: SessionDep) -> UserService:
            """The current user's account, in the request's transaction."""
            return UserService(
                session,
                passwords=parts.passwords,
                storage=parts.storage,
                user_cache=parts.user_cache,
                avatar_max_bytes=settings.avatar_max_bytes,
                erase_owned=parts.erase_owned,
            )

        self.auth_service = auth_service
        self.identity_service = identity_service
        self.user_service = user_service

    def per_user(self, limit: RateLimit) -> Callable[..., Awaitable[AuthenticatedUser]]:
        """A dependency counting the request against the current user (whoever
        `current_user`, or its override, says that is), and giving that user to whatever
        depends on it."""

        async def limit_per_user(
            request: Request, user: Annotated[AuthenticatedUser, Depends(self.current_user)]
        ) -> AuthenticatedUser:
            await limit.hit(request, user_identity(user.id))
            return user

        return limit_per_user

    async def count_second_factor(self, request: Request, user_id: uuid.UUID) -> None:
        """Count a second-factor attempt of a login against its user (who has no access
        token yet)."""
        await self.parts.limits.mfa.hit(request, user_identity(user_id))

    async def client(self, request: Request) -> Client:
        """Who the request comes from, as a session records it: the `User-Agent` and the
        client address (through the trusted proxies)."""
        address = client_ip(request, self.settings.trusted_proxies)
        return Client.of(request.headers.get("user-agent"), address)

    def limit_auth(self, route: str) -> Callable[..., Any]:
        """The per-client-address limit of one account route."""
        return per_ip(self.parts.limits.auth, route, self.settings.trusted_proxies)
