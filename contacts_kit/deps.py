"""The FastAPI dependencies of the kit's routes, built from the collaborators the kit made.

Each is an ordinary dependency a host can override (`app.dependency_overrides[dep] = ...`).
Every dependency that needs the current user depends on `current_user` itself, so overriding
it reaches them all: the services and the per-user rate limits included.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the closures below
# at run time, and they name local aliases.
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Request
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contacts_kit.auth.current_user import SCHEME_NAME, CurrentUser
from contacts_kit.auth.linking import IdentityService
from contacts_kit.auth.providers import Providers
from contacts_kit.auth.service import Authenticator, AuthService, Client
from contacts_kit.auth.tokens import TokenCodec
from contacts_kit.auth.totp import SecretBox
from contacts_kit.backends.protocols import Storage
from contacts_kit.contact.errors import CalendarNotFound
from contacts_kit.contact.pages import OwnerPages, PageCache
from contacts_kit.contact.repository import ContactRepository, changed_owners
from contacts_kit.contact.service import ContactService, calendar_reader
from contacts_kit.db.replicas import Replicas
from contacts_kit.db.session import after_commit, transaction
from contacts_kit.events import Events
from contacts_kit.http import failed_attempt, kit_route_class
from contacts_kit.mail import MailComposer
from contacts_kit.ratelimit import RateLimits, client_ip, per_ip, per_user, user_key
from contacts_kit.settings import Settings
from contacts_kit.users.cache import UserCache
from contacts_kit.users.passwords import PasswordHasher
from contacts_kit.users.schemas import AuthenticatedUser
from contacts_kit.users.service import UserService

MULTIPART_OVERHEAD = 16 * 1024
"""Bytes of multipart framing allowed around an uploaded file."""


@dataclass(frozen=True)
class Collaborators:
    """What the kit built, handed to the dependencies that build each request's services."""

    settings: Settings
    engine: AsyncEngine
    replicas: Replicas
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    tokens: TokenCodec
    providers: Providers
    secret_box: SecretBox
    passwords: PasswordHasher
    user_cache: UserCache
    pages: PageCache | None
    mail: MailComposer
    storage: Storage
    limits: RateLimits
    events: Events
    clock: Callable[[], datetime]
    token_url: str
    host_route_class: type[APIRoute]


class KitDependencies:
    """The dependencies of one kit. Router factories take this object; nothing here knows
    the kit itself."""

    def __init__(self, parts: Collaborators) -> None:
        self.parts = parts
        self.settings = parts.settings
        self.events = parts.events
        self.route_class = self.route_class_for(parts.settings.max_body_bytes)
        """The class of the kit's routes: the host's, the kit's error answers, the body limit."""
        self.current_user = CurrentUser(
            Authenticator(
                parts.tokens,
                parts.user_cache,
                parts.read_sessions,
                parts.settings.access_token_ttl,
                parts.clock,
            ),
            parts.token_url,
        )
        # The raw bearer token, for the routes that read its claims (the same scheme).
        self.bearer_token = OAuth2PasswordBearer(
            tokenUrl=parts.token_url, scheme_name=SCHEME_NAME, auto_error=False
        )
        self.limit_contacts = limit_contacts = per_user(parts.limits.contacts, self.current_user)
        self.limit_contact_create = per_user(parts.limits.contact_create, self.current_user)
        self.limit_password = per_user(parts.limits.password, self.current_user)
        self.limit_avatar = per_user(parts.limits.avatar, self.current_user)
        self.limit_mfa = per_user(parts.limits.mfa, self.current_user)
        self.limit_import = per_user(parts.limits.imports, self.current_user)
        timezone = ZoneInfo(parts.settings.timezone)

        SessionDep = Annotated[AsyncSession, Depends(self.session, scope="function")]
        UserDep = Annotated[AuthenticatedUser, Depends(self.current_user)]

        def contacts_of(
            source: AsyncSession | AsyncEngine, owner_id: uuid.UUID, pages: OwnerPages | None = None
        ) -> ContactService:
            return ContactService(
                ContactRepository(source, owner_id),
                phone_region=parts.settings.phone_default_region,
                timezone=timezone,
                clock=parts.clock,
                pages=pages,
            )

        async def contact_reads(request: Request, user: UserDep) -> ContactService:
            """The current user's address book for reads, the request counted against the
            user's contact requests limit: one pooled connection per statement, no
            transaction; on a replica when one may serve this user. Answers kept under the
            user's cache generation are served without SQL."""
            # `limit_contacts` called here rather than depended on: one dependency less to
            # solve on the busiest routes, and still counted for whoever `current_user` (or
            # its override) says the user is.
            await limit_contacts(request, user)
            pages = OwnerPages(parts.pages, user.id, user.cache_generation)
            return contacts_of(await parts.replicas.reader(user.id), user.id, pages)

        async def contact_writes(session: SessionDep, user: UserDep) -> ContactService:
            """The current user's address book in the request's transaction. Once a change
            to it commits, the user's generation ends, and with it the read answers kept
            under it (`contacts_kit.contact.pages`)."""
            await parts.replicas.note_write(user.id)

            async def forget_if_changed() -> None:
                for owner in changed_owners(session):
                    await parts.user_cache.forget_generation(owner)

            after_commit(session, forget_if_changed)
            return contacts_of(session, user.id)

        async def calendar_reads(
            token: Annotated[str, Path(min_length=1, max_length=100)],
        ) -> ContactService:
            """The address book whose birthday feed `token` opens; `CalendarNotFound`."""
            owner = await calendar_reader(parts.engine, token)
            if owner is None:
                raise CalendarNotFound()
            return contacts_of(await parts.replicas.reader(), owner)

        async def auth_service(session: SessionDep) -> AuthService:
            """Signing up and in, in the request's transaction."""
            return AuthService(
                session,
                settings=parts.settings,
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
                settings=parts.settings,
                clock=parts.clock,
            )

        async def user_service(session: SessionDep) -> UserService:
            """The current user's account, in the request's transaction."""
            return UserService(
                session,
                passwords=parts.passwords,
                storage=parts.storage,
                user_cache=parts.user_cache,
                avatar_max_bytes=parts.settings.avatar_max_bytes,
            )

        self.contact_reads = contact_reads
        self.contact_writes = contact_writes
        self.calendar_reads = calendar_reads
        self.limit_calendar = per_ip(
            parts.limits.calendar, "calendar", parts.settings.trusted_proxies
        )
        self.auth_service = auth_service
        self.identity_service = identity_service
        self.user_service = user_service

    async def count_operations(
        self, request: Request, user: AuthenticatedUser, creates: int, others: int
    ) -> None:
        """Count a batch against the user's limits as that many single requests: `creates`
        contact creations, `others` other contact requests."""
        limits = self.parts.limits
        await limits.contact_create.hit(request, user_key(user.id), creates)
        await limits.contacts.hit(request, user_key(user.id), others)

    async def count_second_factor(self, request: Request, user_id: uuid.UUID) -> None:
        """Count a second-factor attempt of a login against its user (who has no access
        token yet)."""
        await self.parts.limits.mfa.hit(request, user_key(user_id))

    async def session(self, request: Request) -> AsyncIterator[AsyncSession]:
        """The request's transaction: commits when the endpoint returns, rolls back when it
        raises or its error is answered."""
        async for session in transaction(self.parts.sessions, failed_attempt(request)):
            yield session

    async def client(self, request: Request) -> Client:
        """Who the request comes from, as a session records it: the `User-Agent` and the
        client address (through the trusted proxies)."""
        address = client_ip(request, self.parts.settings.trusted_proxies)
        return Client.of(request.headers.get("user-agent"), address)

    def route_class_for(self, body_limit: int) -> type[APIRoute]:
        """The class of a kit route that accepts bodies of up to `body_limit` bytes."""
        return kit_route_class(self.parts.host_route_class, body_limit)

    def upload_route_class(self, file_limit: int) -> type[APIRoute]:
        """The class of a kit route taking a file of up to `file_limit` bytes, with room for
        the multipart framing around it."""
        return self.route_class_for(file_limit + MULTIPART_OVERHEAD)

    def limit_auth(self, route: str) -> Callable[..., Any]:
        """The per-client-address limit of one account route."""
        return per_ip(self.parts.limits.auth, route, self.parts.settings.trusted_proxies)
