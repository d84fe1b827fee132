"""`ContactsKit`: the composition root. It builds every collaborator once, from settings and
plugins, and hands each router the dependencies it uses; nothing imports it back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.auth.oauth_router import get_identities_router, get_oauth_router
from contacts_kit.auth.providers import Providers
from contacts_kit.auth.router import get_auth_router
from contacts_kit.auth.tokens import TokenCodec
from contacts_kit.auth.totp import SecretBox
from contacts_kit.backends.breaker import CircuitBreaker
from contacts_kit.backends.cache_memory import MemoryCache
from contacts_kit.backends.protocols import Cache, Mailer, RateLimitStore, Storage
from contacts_kit.backends.redis_client import redis_client
from contacts_kit.backends.resilient import ResilientCache
from contacts_kit.backends.storage_local import LocalStorage
from contacts_kit.contact.pages import PageCache
from contacts_kit.contact.router import (
    add_contacts_routes,
    get_calendar_router,
    get_tags_router,
)
from contacts_kit.db.engine import (
    make_engine,
    make_session_factory,
    transactional,
    watch_statements,
)
from contacts_kit.db.replicas import Replicas
from contacts_kit.deps import Collaborators, KitDependencies
from contacts_kit.errors import ConfigurationError
from contacts_kit.events import Events, HookContext
from contacts_kit.health import PROBE_TIMEOUT, get_health_router
from contacts_kit.http import operation_id
from contacts_kit.mail import MailComposer
from contacts_kit.plugins import make_plugin_manager
from contacts_kit.ratelimit import RateLimits
from contacts_kit.settings import Settings
from contacts_kit.users.cache import UserCache
from contacts_kit.users.passwords import PasswordHasher
from contacts_kit.users.router import MEDIA_ROUTE, get_users_router

logger = logging.getLogger("contacts_kit")

MIN_SECRET_BYTES = 32

B = TypeVar("B")


class ContactsKit:
    """One contacts service: settings, plugins, database, backends and the routers to mount.

    A host app builds one per process, includes `kit.router` (every API route, under
    `settings.api_prefix`) and, if it wants the probes, `kit.health_router`, and runs
    `kit.lifespan` inside its own lifespan. The kit adds nothing else to the host's app: no
    exception handler, no middleware, no CORS.

    Args:
        settings: the configuration; nothing is read from the environment here.
        plugins: plugin objects or modules, registered after the built-ins and the installed
            ones (so their providers win).
        clock: the current time, timezone-aware (tests freeze it).
        route_class: the host's own `APIRoute` subclass, if it has one; every kit route is of
            a class that runs the host's wrapper outside the kit's error answers.
        engine: an async engine of the host's to share (one pool for the host and the kit);
            by default the kit makes its own from `settings.database_url` and disposes of it
            when its lifespan ends. A shared engine is the host's to dispose of.
    """

    def __init__(
        self,
        settings: Settings,
        plugins: Iterable[object] = (),
        *,
        clock: Callable[[], datetime] | None = None,
        route_class: type[APIRoute] = APIRoute,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        if "*" in settings.cors_origins and settings.cors_allow_credentials:
            raise ConfigurationError(
                "CORS: `*` origins together with credentials would let any site act as the "
                "user; list the origins instead"
            )
        self.plugin_manager = make_plugin_manager(
            plugins, load_entry_points=settings.load_entry_points
        )
        hook = self.plugin_manager.hook
        # One Redis client, shared by the cache and the rate limits, and one breaker for it.
        self.redis = redis_client(settings)
        self.breaker = CircuitBreaker("the cache and rate-limit store", settings.cache_retry_after)
        cache = _checked(
            "provide_cache", Cache, hook.provide_cache(settings=settings, redis=self.redis)
        )
        # The in-memory cache is each process's own; Redis and plugins' caches are shared.
        self._cache_shared = not isinstance(cache, MemoryCache)
        resilient = ResilientCache(cache, self.breaker)
        self.cache: Cache = resilient
        self.mailer: Mailer = _checked(
            "provide_mailer", Mailer, hook.provide_mailer(settings=settings)
        )
        self.storage: Storage = _checked(
            "provide_storage", Storage, hook.provide_storage(settings=settings)
        )
        rate_limit_store: RateLimitStore = _checked(
            "provide_rate_limit_store",
            RateLimitStore,
            hook.provide_rate_limit_store(settings=settings, redis=self.redis),
        )
        self._owns_engine = engine is None
        self.engine = watch_statements(engine) if engine is not None else make_engine(settings)
        if settings.database_replica_urls and self.engine.dialect.name != "postgresql":
            raise ConfigurationError(
                "CONTACTS_KIT_DATABASE_REPLICA_URLS needs a PostgreSQL CONTACTS_KIT_DATABASE_URL"
            )
        self.replicas = Replicas(settings, self.engine, self.cache)
        """The read replicas and their states (none unless `database_replica_urls`)."""
        secret = _resolve_jwt_secret(settings)
        _check_storage(settings, self.storage)
        if settings.oauth_providers and not settings.oauth_redirect_allowlist:
            raise ConfigurationError(
                "CONTACTS_KIT_OAUTH_PROVIDERS is set but CONTACTS_KIT_OAUTH_REDIRECT_ALLOWLIST "
                "is empty: list the front-end pages a provider sign-in may return to"
            )
        self.tokens = TokenCodec(secret, lambda: self.now())
        self.passwords = PasswordHasher(settings)
        self.events = Events(
            self.plugin_manager, HookContext(settings, self.cache, self.mailer, self.storage)
        )
        pages = self._page_cache(settings)
        self.deps = KitDependencies(
            Collaborators(
                settings=settings,
                engine=self.engine,
                replicas=self.replicas,
                sessions=make_session_factory(transactional(self.engine)),
                read_sessions=make_session_factory(self.engine),
                tokens=self.tokens,
                providers=Providers(settings, self.cache),
                secret_box=SecretBox(secret),
                passwords=self.passwords,
                user_cache=UserCache(
                    resilient, settings.user_cache_ttl, generations=pages is not None
                ),
                pages=pages,
                mail=MailComposer(settings),
                storage=self.storage,
                limits=RateLimits(settings, rate_limit_store, self.breaker),
                events=self.events,
                # Through a lambda, so a clock swapped on the kit later is seen too.
                clock=lambda: self.now(),
                token_url=f"{settings.api_prefix}/auth/token",
                host_route_class=route_class,
            )
        )
        self.current_user = self.deps.current_user
        """The current-user dependency: use it on your own routes, override it in tests."""
        self.router = self._api_router()
        """Every API route, under `settings.api_prefix`."""
        self.health_router = get_health_router(
            self.engine,
            self.cache,
            self.deps.route_class,
            self.replicas,
            # The Redis client gives up after two attempts of `redis_timeout` each.
            cache_timeout=max(PROBE_TIMEOUT, 2 * settings.redis_timeout + 1),
        )
        """`/healthz` and `/readyz`, without a prefix: mount them where your probes look."""

    def _page_cache(self, settings: Settings) -> PageCache | None:
        """The read answers this process keeps, when it may: the user cache must be one that
        every process shares (Redis, or a plugin's), or a write in one process would leave
        another serving what it kept (the in-memory cache is each process's own)."""
        if settings.read_cache_bytes and settings.user_cache_ttl and self._cache_shared:
            return PageCache(settings.read_cache_bytes)
        return None

    def _api_router(self) -> APIRouter:
        router = APIRouter(
            prefix=self.settings.api_prefix,
            route_class=self.deps.route_class,
            generate_unique_id_function=operation_id,
        )
        # Contacts first: FastAPI tries the routes in order, and they are the busy ones. They
        # are the kit router's own routes, the other domains' routers are included.
        add_contacts_routes(router, self.deps, prefix="/contacts", tags=["contacts"])
        router.include_router(get_tags_router(self.deps), prefix="/tags", tags=["tags"])
        router.include_router(get_auth_router(self.deps), prefix="/auth", tags=["auth"])
        router.include_router(get_users_router(self.deps), prefix="/users", tags=["users"])
        if self.settings.oauth_providers:
            router.include_router(get_oauth_router(self.deps), prefix="/auth", tags=["auth"])
            router.include_router(get_identities_router(self.deps), prefix="/users", tags=["users"])
        router.include_router(get_calendar_router(self.deps), tags=["calendar"])
        if isinstance(self.storage, LocalStorage):
            self.settings.media_dir.mkdir(parents=True, exist_ok=True)
            # `mount` does not apply the router's prefix as route declarations do.
            router.mount(
                self.settings.api_prefix + self.settings.media_url_path,
                StaticFiles(directory=self.settings.media_dir),
                name=MEDIA_ROUTE,
            )
        return router

    @asynccontextmanager
    async def lifespan(self, app: FastAPI | None = None) -> AsyncIterator[None]:
        """Open nothing eagerly but the replica checks (when there are replicas); on the way
        out close the cache, the Redis client and the engines' pools."""
        checks = asyncio.create_task(self.replicas.run()) if self.replicas.enabled else None
        try:
            yield
        finally:
            if checks is not None:
                checks.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checks
            await self.replicas.close()
            await self.cache.close()
            if self.redis is not None:
                await self.redis.aclose()
            if self._owns_engine:
                await self.engine.dispose()


def _checked(hook_name: str, protocol: type[Any], backend: B | None) -> B:
    """`backend` if it implements `protocol`; a clear start-up error otherwise."""
    if backend is None:
        raise ConfigurationError(f"no plugin answered {hook_name}; register one")
    if not isinstance(backend, protocol):
        raise ConfigurationError(
            f"{hook_name} returned {type(backend).__name__}, "
            f"which does not implement {protocol.__name__}"
        )
    return cast(B, backend)


def _check_storage(settings: Settings, storage: Storage) -> None:
    """In production, files on the local disk only if every instance shares that disk."""
    if (
        settings.environment == "production"
        and isinstance(storage, LocalStorage)
        and not settings.media_dir_shared
    ):
        raise ConfigurationError(
            "avatars are stored on the local disk (CONTACTS_KIT_MEDIA_DIR), which other "
            "instances of the service cannot see: set CONTACTS_KIT_CLOUDINARY_URL (or install "
            "a storage plugin), or CONTACTS_KIT_MEDIA_DIR_SHARED=true when every instance "
            "mounts that directory (one machine, or a shared volume)"
        )


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
