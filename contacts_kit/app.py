"""The `ContactsKit` facade and the `create_app` factory."""

import inspect
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.security import OAuth2PasswordBearer
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.__about__ import __version__
from contacts_kit.auth.bearer import SCHEME_NAME as BEARER_SCHEME
from contacts_kit.auth.bearer import CurrentUser
from contacts_kit.auth.passwords import PasswordHasher
from contacts_kit.auth.tokens import TokenCodec
from contacts_kit.backends.cache_redis import redis_client
from contacts_kit.backends.protocols import Cache, Mailer, MailMessage, Storage
from contacts_kit.backends.resilient import ResilientCache
from contacts_kit.backends.storage_local import LocalStorage
from contacts_kit.db.engine import make_engine, make_session_factory, transactional
from contacts_kit.db.reader import make_read_pool
from contacts_kit.db.session import transaction
from contacts_kit.errors import ConfigurationError, install_exception_handlers
from contacts_kit.mail import MailComposer, deliver
from contacts_kit.middleware import BodySizeLimitMiddleware
from contacts_kit.plugins import make_plugin_manager
from contacts_kit.ratelimit import RateLimits
from contacts_kit.routing import Routes
from contacts_kit.settings import Settings

logger = logging.getLogger("contacts_kit")

MIN_SECRET_BYTES = 32


class ContactsKit:
    """One contacts service: settings, plugins, database, backends and the routers to mount.

    A host app builds one per process, mounts the routers it wants, calls `install(app)` and
    runs `lifespan` inside its own.
    """

    def __init__(
        self,
        settings: Settings,
        plugins: Iterable[object] = (),
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.plugin_manager = make_plugin_manager(
            plugins, load_entry_points=settings.load_entry_points
        )
        # Through a lambda, so a clock swapped on the kit later is seen by the codec too.
        self.tokens = TokenCodec(_resolve_jwt_secret(settings), lambda: self.now())
        self.passwords = PasswordHasher(settings)
        self.engine = make_engine(settings)
        # Writes get transactions; reads of one statement run without BEGIN/COMMIT.
        self.session_factory = make_session_factory(transactional(self.engine))
        self.read_session_factory = make_session_factory(self.engine)
        self.read_pool = make_read_pool(self.engine, settings.database_pool_size)
        self.cache: Cache = ResilientCache(
            self._provide("provide_cache", Cache), retry_after=settings.cache_retry_after
        )
        self.mailer: Mailer = self._provide("provide_mailer", Mailer)
        self.storage: Storage = self._provide("provide_storage", Storage)
        self.mail = MailComposer(settings)
        self.redis = redis_client(settings) if settings.redis_url else None
        self.rate_limits = RateLimits(settings, self.redis)
        if "*" in settings.cors_origins and settings.cors_allow_credentials:
            raise ConfigurationError(
                "CORS: `*` origins together with credentials would let any site act as the "
                "user; list the origins instead"
            )
        token_url = f"{settings.api_prefix}/auth/login"
        # The bearer token itself, for the routes that read its claims.
        self.oauth2_scheme = OAuth2PasswordBearer(
            tokenUrl=token_url, scheme_name=BEARER_SCHEME, auto_error=False
        )
        self.current_user = CurrentUser(self, token_url)

    def _provide(self, hook_name: str, protocol: type[Any]) -> Any:
        backend = getattr(self.plugin_manager.hook, hook_name)(settings=self.settings)
        if backend is None:
            raise ConfigurationError(f"no plugin answered {hook_name}; register one")
        if not isinstance(backend, protocol):
            raise ConfigurationError(
                f"{hook_name} returned {type(backend).__name__}, "
                f"which does not implement {protocol.__name__}"
            )
        return backend

    async def session(self) -> AsyncIterator[AsyncSession]:
        """Dependency: the request's session; commits when the endpoint returns."""
        async for session in transaction(self.session_factory):
            yield session

    async def send_mail(self, message: MailMessage) -> bool:
        """Send through the configured mailer; failures are logged, never raised."""
        return await deliver(self.mailer, message)

    async def emit(self, hook_name: str, **kwargs: Any) -> None:
        """Call an event hook with keyword arguments; await the results that are awaitable."""
        for result in getattr(self.plugin_manager.hook, hook_name)(**kwargs):
            if inspect.isawaitable(result):
                await result

    def auth_router(self) -> APIRouter:
        """Signup, login, refresh and logout; mount it at `{API_PREFIX}/auth`."""
        from contacts_kit.auth.router import get_auth_router

        return get_auth_router(self)

    def users_router(self) -> APIRouter:
        """The current user's account; mount it at `{API_PREFIX}/users`."""
        from contacts_kit.auth.router import get_users_router

        return get_users_router(self)

    def contacts_router(self) -> APIRouter:
        """The current user's address book; mount it at `{API_PREFIX}/contacts`."""
        from contacts_kit.contact.router import get_contacts_router

        return get_contacts_router(self)

    def avatar_router(self) -> APIRouter:
        """`PATCH /me/avatar`; mount it at `{API_PREFIX}/users`."""
        from contacts_kit.avatar.router import get_avatar_router

        return get_avatar_router(self)

    def add_routes(self, app: FastAPI | APIRouter) -> None:
        """Declare every route of the kit on `app` itself: the API under
        `settings.api_prefix` (contacts first: they are the busy ones) and the probes at the
        root. Same paths, tags and OpenAPI as including each router, without the nested
        router FastAPI would match on every request (about 5% of a cached read); on a
        `FastAPI` app the contact reads are `routing.DirectRoute`s (about a fifth)."""
        from contacts_kit.auth.router import get_auth_router, get_users_router
        from contacts_kit.avatar.router import get_avatar_router
        from contacts_kit.contact.router import get_contacts_router
        from contacts_kit.health import get_health_router

        router = app.router if isinstance(app, FastAPI) else app
        prefix = self.settings.api_prefix
        contacts = Routes(
            router,
            prefix=f"{prefix}/contacts",
            tags=["contacts"],
            # On an app itself the busy reads can be `DirectRoute`s; on a router, which a host
            # may include with dependencies of its own, they stay FastAPI's.
            direct_reads=isinstance(app, FastAPI),
        )
        get_contacts_router(self, contacts)
        get_auth_router(self, Routes(router, prefix=f"{prefix}/auth", tags=["auth"]))
        get_users_router(self, Routes(router, prefix=f"{prefix}/users", tags=["users"]))
        get_avatar_router(self, Routes(router, prefix=f"{prefix}/users", tags=["users"]))
        get_health_router(self, Routes(router, tags=["health"]))

    def health_router(self) -> APIRouter:
        """`/healthz` and `/readyz`; mount it at the root of the app."""
        from contacts_kit.health import get_health_router

        return get_health_router(self)

    def _body_limit(self, path: str) -> int | None:
        prefix = self.settings.api_prefix
        if not path.startswith(prefix + "/"):
            return None  # the host app's own routes are not ours to limit
        if path.endswith("/me/avatar"):
            # Room for the multipart framing around the image.
            return self.settings.avatar_max_bytes + 16 * 1024
        return self.settings.max_body_bytes

    def install(self, app: FastAPI) -> None:
        """Add the error handlers, the body size limit, CORS when origins are configured, and
        serve local-disk files when that storage is in use."""
        install_exception_handlers(app, self.settings.api_prefix)
        app.state.contacts_kit = self
        app.add_middleware(BodySizeLimitMiddleware, limit_for=self._body_limit)
        settings = self.settings
        if settings.cors_origins:
            app.add_middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=settings.cors_allow_methods,
                allow_headers=settings.cors_allow_headers,
                allow_credentials=settings.cors_allow_credentials,
                expose_headers=["ETag", "Location", "Retry-After"],
            )
        if isinstance(self.storage, LocalStorage):
            self.settings.media_dir.mkdir(parents=True, exist_ok=True)
            app.mount(
                self.settings.media_url_path,
                StaticFiles(directory=self.settings.media_dir),
                name="contacts_kit_media",
            )

    @asynccontextmanager
    async def lifespan(self, app: FastAPI | None = None) -> AsyncIterator[None]:
        """Open nothing eagerly; on the way out close the cache and dispose of the engine."""
        try:
            yield
        finally:
            await self.cache.close()
            if self.redis is not None:
                await self.redis.aclose()
            await self.read_pool.close()
            await self.engine.dispose()


def _resolve_jwt_secret(settings: Settings) -> bytes:
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value().encode()
        if len(secret) >= MIN_SECRET_BYTES:
            return secret
        if settings.environment == "production":
            raise ConfigurationError(
                f"CONTACTS_KIT_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes in production"
            )
        logger.warning("CONTACTS_KIT_JWT_SECRET is shorter than %d bytes", MIN_SECRET_BYTES)
        return secret
    if settings.environment == "production":
        raise ConfigurationError("CONTACTS_KIT_JWT_SECRET is required in production")
    return _development_secret(settings.jwt_secret_file)


def _development_secret(path: Path) -> bytes:
    """A secret created once in `path` and read back by every later process and worker."""
    if not path.exists():
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        try:
            # link() fails if another worker won the race; then everyone reads the winner's.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    logger.warning(
        "\n%s\nNo CONTACTS_KIT_JWT_SECRET set: using the development secret kept in %s.\n"
        "Set CONTACTS_KIT_JWT_SECRET (32+ random bytes) before going to production.\n%s",
        "!" * 78,
        path.resolve(),
        "!" * 78,
    )
    return path.read_text().strip().encode()


def create_app(settings: Settings | None = None, *, plugins: Iterable[object] = ()) -> FastAPI:
    """A FastAPI app serving every contacts-kit router under `settings.api_prefix`."""
    settings = settings or Settings()
    kit = ContactsKit(settings, plugins=plugins)
    app = FastAPI(
        title="contacts-kit",
        version=__version__,
        description="Accounts with JWT and per-user address books.",
        lifespan=kit.lifespan,
    )
    # Routes before `install`: FastAPI tries the routes in order, and the busy ones should
    # not wait behind the local media mount.
    kit.add_routes(app)
    kit.install(app)
    return app
