"""`ContactsKit`: the composition root. It builds every collaborator once, from settings and
plugins, and hands each router the dependencies it uses; nothing imports it back."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cached_property
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar, cast

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from contacts_kit.auth.current_user import CurrentUser
from contacts_kit.auth.deps import AccountDependencies, AccountParts
from contacts_kit.auth.errors import InvalidToken, NotAuthenticated
from contacts_kit.auth.oauth_router import get_oauth_router
from contacts_kit.auth.providers import Providers
from contacts_kit.auth.router import get_auth_router
from contacts_kit.auth.tokens import TokenCodec
from contacts_kit.auth.totp import SecretBox
from contacts_kit.backends.breaker import CircuitBreaker
from contacts_kit.backends.protocols import Cache, Mailer, RateLimitStore, Storage
from contacts_kit.backends.redis_client import redis_client
from contacts_kit.backends.resilient import ResilientCache
from contacts_kit.backends.storage_local import LocalStorage
from contacts_kit.contact.deps import ContactDependencies, OwnerDependency
from contacts_kit.contact.events import ContactEvents
from contacts_kit.contact.owner import OwnerId, owner_key
from contacts_kit.contact.pages import KeptAnswers, PageCache
from contacts_kit.contact.photos import Photos
from contacts_kit.contact.routers import (
    get_calendar_router,
    get_contacts_router,
    get_tags_router,
)
from contacts_kit.contact.service import Erasure, erase, prune, purge
from contacts_kit.db.engine import (
    make_engine,
    make_session_factory,
    transactional,
    watch_statements,
)
from contacts_kit.db.replicas import Replicas
from contacts_kit.db.stale_keys import StaleKeys
from contacts_kit.deps import Plumbing
from contacts_kit.errors import ConfigurationError, ContactsKitError
from contacts_kit.events import HookContext
from contacts_kit.health import PROBE_TIMEOUT, get_health_router
from contacts_kit.http import operation_id
from contacts_kit.mail import MailComposer
from contacts_kit.plugins import make_plugin_manager
from contacts_kit.ratelimit import RateLimits
from contacts_kit.settings import Settings
from contacts_kit.users.cache import UserCache
from contacts_kit.users.events import AccountEvents
from contacts_kit.users.passwords import PasswordHasher
from contacts_kit.users.router import (
    get_avatar_router,
    get_sessions_router,
    get_two_factor_router,
    get_users_router,
)
from contacts_kit.webhooks.deps import WebhookDependencies
from contacts_kit.webhooks.dispatcher import Dispatcher, DispatchSettings
from contacts_kit.webhooks.repository import erase_webhooks
from contacts_kit.webhooks.routers import get_webhooks_router
from contacts_kit.webhooks.secrets import WebhookSecrets

logger = logging.getLogger("contacts_kit")

MIN_SECRET_BYTES = 32

B = TypeVar("B")


class ContactsKit:
    """One contacts service: settings, plugins, database, backends and the routers to mount.

    A host app builds one per process, includes the routers it wants and runs `kit.lifespan`
    inside its own lifespan. `kit.router` carries every API route under
    `settings.api_prefix` (the standalone server's layout); `get_contacts_router()`,
    `get_tags_router()`, `get_calendar_router()` and the accounts' factories give one concern
    each, without a prefix. The kit adds nothing else to the host's app: no exception
    handler, no middleware, no CORS.

    Args:
        settings: the configuration; nothing is read from the environment here.
        plugins: plugin objects or modules, registered after the built-ins and the installed
            ones (so their providers win).
        owner: a host's own dependency saying whose address book a request is about (an
            int, a str of up to 255 characters or a UUID: its user's id, or a team's). With
            it the kit's accounts are off: no account route, no JWT secret, no avatar
            storage. Without it, the kit's accounts supply the current user's id.
        owner_errors: the kit errors `owner` may answer with, for the OpenAPI document (a
            host's own dependency raises its own errors: leave it empty).
        clock: the current time, timezone-aware (tests freeze it).
        route_class: the host's own `APIRoute` subclass, if it has one; every kit route is of
            a class that runs the host's wrapper outside the kit's error answers.
        engine: an async engine of the host's to share (one pool for the host and the kit);
            by default the kit makes its own from `settings.database_url` and disposes of it
            when its lifespan ends. A shared engine is the host's to dispose of.
        operation_ids: how `kit.router` names its routes' operations in the OpenAPI
            document (a host mounting two kits prefixes one); the routers of the `get_*`
            factories take the host's `generate_unique_id_function` instead.
    """

    def __init__(
        self,
        settings: Settings,
        plugins: Iterable[object] = (),
        *,
        owner: OwnerDependency | None = None,
        owner_errors: tuple[type[ContactsKitError], ...] = (),
        clock: Callable[[], datetime] | None = None,
        route_class: type[APIRoute] = APIRoute,
        engine: AsyncEngine | None = None,
        operation_ids: Callable[[APIRoute], str] = operation_id,
    ) -> None:
        self.settings = settings
        self.now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.operation_ids = operation_ids
        if "*" in settings.cors_origins and settings.cors_allow_credentials:
            raise ConfigurationError(
                "CORS: `*` origins together with credentials would let any site act as the "
                "user; list the origins instead"
            )
        self.plugin_manager = make_plugin_manager(
            plugins, load_entry_points=settings.load_entry_points
        )
        self._owns_engine = engine is None
        self.engine = watch_statements(engine) if engine is not None else make_engine(settings)
        rate_limit_store = self._backends()
        if settings.database_replica_urls and self.engine.dialect.name != "postgresql":
            raise ConfigurationError(
                "CONTACTS_KIT_DATABASE_REPLICA_URLS needs a PostgreSQL CONTACTS_KIT_DATABASE_URL"
            )
        self.replicas = Replicas(settings, self.engine, self.cache)
        """The read replicas and their states (none unless `database_replica_urls`)."""
        self.sessions = make_session_factory(transactional(self.engine))
        self.limits = RateLimits(settings, rate_limit_store, self.breaker)
        self.plumbing = Plumbing(settings, self.sessions, route_class)
        self.session = self.plumbing.session
        """The request's transaction, a dependency of every kit route that writes. A host may
        override it with a session of its own: every error a kit route answers reaches it as
        an exception, so a session that commits only when the endpoint returns rolls back."""
        context = HookContext(settings, self.cache, self.mailer, self.storage)
        self.photos = Photos(
            self.storage, settings.avatar_max_bytes, _photos_refused(settings, self.storage)
        )
        """Contact photos, in the storage avatars use, within the avatars' size limit."""
        self.accounts: AccountDependencies | None = None
        """The accounts module's dependencies, or None when the host supplies the owner."""
        self.kept = self._kept_answers(settings)
        """The owners' generations and the read answers this process keeps (None when the
        cache is not shared)."""
        if owner is None:
            # The kit's accounts supply the owner: the current user, by its id, with the
            # owner's generation read in the same round trip as the cached user.
            self.accounts = self._accounts(context)
        self.contacts = self._contacts(context, owner, owner_errors)
        self.webhooks = WebhookDependencies(self.contacts, lambda: self.webhook_secrets)
        self.dispatcher = Dispatcher(
            self.sessions,
            lambda: self.webhook_secrets,
            DispatchSettings(
                schedule=tuple(settings.webhook_retry_schedule),
                timeout=settings.webhook_timeout,
                disable_after=settings.webhook_disable_after,
                allow_private=settings.webhook_allow_private_urls,
            ),
            clock=lambda: self.now(),
        )
        """Sends the webhook messages the outbox holds (in the server process, unless
        `jobs_in_process` is off; `contacts-kit worker` runs one too)."""
        self.current_owner = self.contacts.current_owner
        """The owner dependency of every contacts route (override it in tests)."""
        self.health_router = get_health_router(
            self.engine,
            self.cache,
            self.plumbing.route_class,
            self.replicas,
            # The Redis client gives up after two attempts of `redis_timeout` each.
            cache_timeout=max(PROBE_TIMEOUT, 2 * settings.redis_timeout + 1),
        )
        """`/healthz` and `/readyz`, without a prefix: mount them where your probes look."""

    def _contacts(
        self,
        context: HookContext,
        owner: OwnerDependency | None,
        owner_errors: tuple[type[ContactsKitError], ...],
    ) -> ContactDependencies:
        """The contacts module's dependencies, on the host's `owner` or, without one, on
        the kit's accounts (`self.accounts`)."""
        owner_id: Callable[[Any], OwnerId] | None = None
        read_with: Callable[[Any], Mapping[str, str | None]] | None = None
        if owner is None:
            assert self.accounts is not None
            owner, owner_id = self.accounts.current_user, attrgetter("id")
            read_with = attrgetter("read_with")
            owner_errors = (NotAuthenticated, InvalidToken)
        return ContactDependencies(
            self.plumbing,
            owner=owner,
            owner_id=owner_id,
            read_with=read_with,
            owner_errors=owner_errors,
            engine=self.engine,
            replicas=self.replicas,
            limits=self.limits,
            kept=self.kept,
            events=ContactEvents(self.plugin_manager, context),
            photos=self.photos,
            media_dir=self.settings.media_dir if isinstance(self.storage, LocalStorage) else None,
            # Through a lambda, so a clock swapped on the kit later is seen too.
            clock=lambda: self.now(),
        )

    def _backends(self) -> RateLimitStore:
        """The backends the plugins provide, checked against their protocols: the cache (and
        whether every process shares it), the mailer, the storage; the rate-limit store is
        returned for the limits."""
        settings, hook = self.settings, self.plugin_manager.hook
        # One Redis client, shared by the cache and the rate limits, and one breaker for it.
        self.redis = redis_client(settings)
        self.breaker = CircuitBreaker("the cache and rate-limit store", settings.cache_retry_after)
        cache = _checked(
            "provide_cache", Cache, hook.provide_cache(settings=settings, redis=self.redis)
        )
        self.cache_shared = cache_is_shared(cache)
        """Whether every process sees the same cache: revocations and kept answers need it."""
        # On a shared cache, the keys of failed deletes go to the database: every process
        # skips them until the cache has deleted them (a cache of its own never fails).
        lost_deletes = (
            StaleKeys(
                self.engine,
                cache,
                self.breaker,
                settings.cache_check_interval.total_seconds(),
            )
            if self.cache_shared
            else None
        )
        self.cache: ResilientCache = ResilientCache(
            cache, self.breaker, settings.key_prefix, lost_deletes
        )
        self.mailer: Mailer = _checked(
            "provide_mailer", Mailer, hook.provide_mailer(settings=settings)
        )
        self.storage: Storage = _checked(
            "provide_storage", Storage, hook.provide_storage(settings=settings)
        )
        store: RateLimitStore = _checked(
            "provide_rate_limit_store",
            RateLimitStore,
            hook.provide_rate_limit_store(settings=settings, redis=self.redis),
        )
        return store

    def _accounts(self, context: HookContext) -> AccountDependencies:
        """The kit's own accounts: they need a JWT secret, and avatar storage every
        instance sees."""
        settings = self.settings
        secret = _resolve_jwt_secret(settings)
        if settings.oauth_providers and not settings.oauth_redirect_allowlist:
            raise ConfigurationError(
                "CONTACTS_KIT_OAUTH_PROVIDERS is set but CONTACTS_KIT_OAUTH_REDIRECT_ALLOWLIST "
                "is empty: list the front-end pages a provider sign-in may return to"
            )
        self.tokens = TokenCodec(secret, lambda: self.now())
        self.passwords = PasswordHasher(settings)
        return AccountDependencies(
            self.plumbing,
            AccountParts(
                read_sessions=make_session_factory(self.engine),
                tokens=self.tokens,
                providers=Providers(settings, self.cache),
                secret_box=SecretBox(secret),
                passwords=self.passwords,
                user_cache=UserCache(self.cache, settings.user_cache_ttl),
                mail=MailComposer(settings),
                storage=self.storage,
                limits=self.limits,
                events=AccountEvents(self.plugin_manager, context),
                clock=lambda: self.now(),
                token_url=f"{settings.api_prefix}/auth/token",
                erase_owned=self._erase_account_book,
                read_along=self._read_along(),
            ),
        )

    def _read_along(self) -> Callable[[uuid.UUID], list[str]] | None:
        """What the accounts read with the cached user: the contacts module's keys of the
        user's book (its generation), in the user's Redis Cluster slot."""
        kept = self.kept
        if kept is None or kept.pages is None:
            return None
        return lambda user_id: kept.keys(owner_key(user_id))

    @property
    def current_user(self) -> CurrentUser:
        """The current-user dependency of the kit's accounts: use it on your own routes,
        override it in tests. `ConfigurationError` when the host supplies the owner."""
        return self._require_accounts().current_user

    def _require_accounts(self) -> AccountDependencies:
        if self.accounts is None:
            raise ConfigurationError(
                "this kit runs on the host's owners (ContactsKit(owner=...)): its accounts "
                "are off, so it has no account routers and no current user"
            )
        return self.accounts

    def _kept_answers(self, settings: Settings) -> KeptAnswers | None:
        """The owners' generations and the read answers this process keeps, when it may: the
        cache must be one that every process shares (Redis, or a plugin's that says so), or
        a write in one process would leave another serving what it kept. A process keeping
        nothing (`read_cache_bytes=0`) still ends the generations of what it writes."""
        if not (settings.user_cache_ttl and self.cache_shared):
            return None
        pages = PageCache(settings.read_cache_bytes) if settings.read_cache_bytes else None
        return KeptAnswers(self.cache, pages, settings.user_cache_ttl)

    def get_contacts_router(self) -> APIRouter:
        """The contacts routes (list, search, CRUD, birthdays, trash, sync, batch, import,
        export), without a prefix: `kit.router` puts them at `/contacts`."""
        return get_contacts_router(self.contacts)

    def get_tags_router(self) -> APIRouter:
        """The tags routes, without a prefix: `kit.router` puts them at `/tags`."""
        return get_tags_router(self.contacts)

    def get_calendar_router(self) -> APIRouter:
        """The birthday feed (`/calendar/{token}/birthdays.ics`) and its secret address
        (`/users/me/calendar-token`), relative to where you include it."""
        return get_calendar_router(self.contacts)

    def get_webhooks_router(self) -> APIRouter:
        """The current owner's webhook endpoints, without a prefix: `kit.router` puts them
        at `/webhooks`."""
        return get_webhooks_router(self.webhooks)

    @cached_property
    def webhook_secrets(self) -> WebhookSecrets | None:
        """What seals the webhooks' signing secrets: under `webhook_secret_key`, else the
        JWT secret (in development, the generated one); None in production without either
        (creating a webhook then answers 503)."""
        settings = self.settings
        key = settings.webhook_secret_key or settings.jwt_secret
        if key is not None:
            return WebhookSecrets(key.get_secret_value().encode())
        if settings.environment == "production":
            return None
        return WebhookSecrets(_development_secret(settings.jwt_secret_file))

    def get_auth_router(self) -> APIRouter:
        """Signup, login, tokens, logout, verification, password reset (kit accounts only):
        `kit.router` puts them at `/auth`."""
        return get_auth_router(self._require_accounts())

    def get_users_router(self) -> APIRouter:
        """`GET` and `DELETE /me` (kit accounts only): `kit.router` puts them at `/users`."""
        return get_users_router(self._require_accounts())

    def get_sessions_router(self) -> APIRouter:
        """`/me/sessions` (kit accounts only): `kit.router` puts them at `/users`."""
        return get_sessions_router(self._require_accounts())

    def get_two_factor_router(self) -> APIRouter:
        """`/me/2fa...` (kit accounts only): `kit.router` puts them at `/users`."""
        return get_two_factor_router(self._require_accounts())

    def get_avatar_router(self) -> APIRouter:
        """`/users/me/avatar` and, for files on the local disk, the route serving them
        (`CONTACTS_KIT_MEDIA_URL_PATH`), relative to where you include it (kit accounts
        only)."""
        # Only a kit that serves avatars needs storage every instance sees.
        _check_storage(self.settings, self.storage)
        local = isinstance(self.storage, LocalStorage)
        return get_avatar_router(
            self._require_accounts(), self.settings.media_dir if local else None
        )

    def get_oauth_router(self) -> APIRouter:
        """Provider sign-in (`/auth/oauth/...`) and linked identities
        (`/users/me/identities`), relative to where you include it, beside the account
        routes at `/auth` (kit accounts only)."""
        return get_oauth_router(self._require_accounts())

    @cached_property
    def router(self) -> APIRouter:
        """Every API route under `settings.api_prefix`, as the standalone server serves them:
        the contacts, the tags, the calendar and, with the kit's accounts, every account
        route (avatars included, so their storage is checked when this is first read)."""
        router = APIRouter()
        self.include_routers(router, self.settings.api_prefix)
        return router

    def include_routers(self, target: APIRouter | FastAPI, prefix: str) -> None:
        """Include every router of the kit in `target` under `prefix`, laid out as
        `kit.router` lays them out (`create_app` includes them on its app directly: one
        level of routers less to match per request)."""
        routers: list[tuple[APIRouter, str, str]] = [
            (self.get_contacts_router(), "/contacts", "contacts"),
            (self.get_tags_router(), "/tags", "tags"),
            (self.get_webhooks_router(), "/webhooks", "webhooks"),
        ]
        if self.accounts is not None:
            routers += [
                (self.get_auth_router(), "/auth", "auth"),
                (self.get_users_router(), "/users", "users"),
                (self.get_sessions_router(), "/users", "users"),
                (self.get_two_factor_router(), "/users", "users"),
                (self.get_avatar_router(), "", "users"),
            ]
            if self.settings.oauth_providers:
                routers.append((self.get_oauth_router(), "", ""))
        routers.append((self.get_calendar_router(), "", "calendar"))
        for included, path, tag in routers:
            target.include_router(
                included,
                prefix=prefix + path,
                tags=[tag] if tag else None,
                generate_unique_id_function=self.operation_ids,
            )

    async def erase_owner(self, owner_id: OwnerId) -> Erasure:
        """Remove an owner's whole address book: contacts (the trash too), tags, the changes
        feed and the calendar secret, in one transaction, then its contacts' photo files;
        what went, per table. The owner may start a new book later. `contacts-kit
        erase-owner` does the same."""
        key = owner_key(owner_id)
        async with self.sessions.begin() as session:
            erasure = await erase(session, key)
            webhooks = await erase_webhooks(session, key)
        erasure = dataclasses.replace(erasure, rows=erasure.rows | webhooks)
        await self.photos.remove(erasure.files)
        if self.kept is not None:
            await self.kept.forget(key)
        return erasure

    async def _erase_account_book(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """What goes with a deleted account besides its rows: its address book (the photos'
        files once the deletion has committed)."""
        erasure = await erase(session, owner_key(user_id))
        await erase_webhooks(session, owner_key(user_id))
        self.photos.remove_after_commit(session, erasure.files)

    async def purge(self, now: datetime | None = None) -> tuple[int, int]:
        """Empty the trash of what has been there longer than `trash_retention` (the photos'
        files too) and forget deletions older than `tombstone_retention`: (contacts
        purged, deletions forgotten). `contacts-kit purge` runs it."""
        now = now or self.now()
        settings = self.settings
        purged = await purge(self.sessions, now, settings.trash_retention, photos=self.photos)
        return purged, await prune(self.sessions, now, settings.tombstone_retention)

    async def run_jobs(self, stop: asyncio.Event) -> None:
        """The background work, until `stop` is set: webhook messages sent as they are due,
        and every `purge_interval` the purge (`kit.purge`). The server processes run it
        (`jobs_in_process`), or `contacts-kit worker`; any number may run at once."""
        await asyncio.gather(self.dispatcher.run(stop), self._purge_every(stop))

    async def _purge_every(self, stop: asyncio.Event) -> None:
        interval = self.settings.purge_interval.total_seconds()
        while not stop.is_set():
            try:
                purged, pruned = await self.purge()
                if purged or pruned:
                    logger.info("purged %d contact(s), forgot %d deletion(s)", purged, pruned)
            except Exception:  # the database away, say: the next round tries again
                logger.exception("the periodic purge failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI | None = None) -> AsyncIterator[None]:
        """Open nothing eagerly but the replica checks (when there are replicas); on the way
        out close the cache, the Redis client and the engines' pools."""
        checks = asyncio.create_task(self.replicas.run()) if self.replicas.enabled else None
        stop = asyncio.Event()
        jobs = asyncio.create_task(self.run_jobs(stop)) if self.settings.jobs_in_process else None
        try:
            yield
        finally:
            stop.set()
            if jobs is not None:
                await jobs
            await self.dispatcher.aclose()
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


def cache_is_shared(cache: object) -> bool:
    """Whether a cache backend says every process sees the same entries (its `shared`
    attribute). One that does not say is taken as each process's own, and logged."""
    shared = getattr(cache, "shared", None)
    if isinstance(shared, bool):
        return shared
    logger.warning(
        "the cache %s does not say whether other processes share it (a `shared` attribute): "
        "taken as not shared, so no read answers are kept and `--workers` stays at 1",
        type(cache).__name__,
    )
    return False


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


def _unshared_disk(settings: Settings, storage: Storage) -> bool:
    """Whether production keeps files on a local disk that other instances do not share."""
    return (
        settings.environment == "production"
        and isinstance(storage, LocalStorage)
        and not settings.media_dir_shared
    )


def _photos_refused(settings: Settings, storage: Storage) -> str | None:
    """Why contact photos cannot be stored here, if they cannot (`_unshared_disk`): the
    service starts, as a host without photos needs it to; an upload is refused with this."""
    if _unshared_disk(settings, storage):
        return (
            "Contact photos are not kept on this server: its files are on a local disk other "
            "instances cannot see. Set CONTACTS_KIT_CLOUDINARY_URL (or a storage plugin), or "
            "CONTACTS_KIT_MEDIA_DIR_SHARED=true when every instance mounts that directory."
        )
    return None


def _check_storage(settings: Settings, storage: Storage) -> None:
    """In production, files on the local disk only if every instance shares that disk."""
    if _unshared_disk(settings, storage):
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
