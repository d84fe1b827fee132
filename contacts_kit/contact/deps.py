"""The contacts module's dependencies: whose book a request reads and writes, and the
services that do it. The owner comes from a dependency the host supplies (or the kit's own
accounts, through the composition root); nothing here knows about accounts."""

# No `from __future__ import annotations`: FastAPI reads the annotations of the closures below
# at run time, and they name local aliases.
import pathlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from contacts_kit.contact.errors import CalendarNotFound
from contacts_kit.contact.events import ContactEvents
from contacts_kit.contact.owner import Owner, OwnerId
from contacts_kit.contact.pages import KeptAnswer, KeptAnswers, OwnerPages
from contacts_kit.contact.photos import Photos
from contacts_kit.contact.queries import ContactQueries
from contacts_kit.contact.repository import ChangeNumbers, ContactReads, ContactRepository
from contacts_kit.contact.service import ContactService, calendar_reader
from contacts_kit.db.replicas import Replicas
from contacts_kit.db.rows import rows_for
from contacts_kit.db.session import after_commit
from contacts_kit.deps import Plumbing
from contacts_kit.errors import ContactsKitError
from contacts_kit.ratelimit import RateLimit, RateLimits, per_ip
from contacts_kit.webhooks.outbox import Outbox

OwnerDependency = Callable[..., Any]
"""A FastAPI dependency giving the id of the owner of the request's address book (an int, a
str of up to 255 characters or a UUID); it raises the host's own 401 for a stranger."""

Dependency = Callable[..., Any]


def owner_identity(owner: Owner) -> str:
    """The identity a per-owner rate limit counts against."""
    return f"owner:{owner.key}"


class ContactDependencies:
    """The dependencies of the contacts, tags and calendar routers of one kit.

    Args:
        plumbing: the route class and the request's transaction.
        owner: the dependency that says whose book a request is about (`OwnerDependency`).
        owner_id: what turns the value `owner` gives into the owner's id, when it is not the
            id itself (the kit's accounts give the current user: its `id`).
        read_with: what gives the cache entries `owner`'s supplier read along with the
            owner (asked for with `kept.keys`), when it reads any.
        owner_errors: the errors `owner` answers with, for the OpenAPI document (the kit's
            accounts: 401s; a host's dependency: none of the kit's).
        engine: the primary's engine (the calendar feed's secret is looked up there).
        replicas: where reads go.
        limits: the kit's rate limits.
        kept: the owners' generations and the read answers this process keeps, or None.
        events: the `on_contact_*` hooks.
        clock: the current time.
        photos: where contact photos are stored (None: the photo routes answer 502).
        media_dir: the local storage's folder, when photos are files the kit serves.
    """

    def __init__(
        self,
        plumbing: Plumbing,
        *,
        owner: OwnerDependency,
        owner_id: Callable[[Any], OwnerId] | None = None,
        read_with: Callable[[Any], Mapping[str, str | None]] | None = None,
        owner_errors: tuple[type[ContactsKitError], ...] = (),
        engine: AsyncEngine,
        replicas: Replicas,
        limits: RateLimits,
        kept: KeptAnswers | None,
        events: ContactEvents,
        clock: Callable[[], datetime],
        photos: Photos | None = None,
        media_dir: pathlib.Path | None = None,
    ) -> None:
        self.plumbing = plumbing
        self.settings = plumbing.settings
        self.route_class = plumbing.route_class
        self.owner_errors = owner_errors
        self.engine = engine
        self.replicas = replicas
        self.limits = limits
        self.kept = kept
        self.events = events
        self.clock = clock
        self.photos = photos
        self.media_dir = media_dir
        self.timezone = ZoneInfo(self.settings.timezone)
        self.rows = rows_for(engine, pgbouncer=self.settings.database_pgbouncer)
        self.current_owner = _current_owner(owner, owner_id, read_with)
        self.limit_contacts = self.per_owner(limits.contacts)
        self.limit_contact_create = self.per_owner(limits.contact_create)
        self.limit_import = self.per_owner(limits.imports)
        self.limit_calendar = per_ip(limits.calendar, "calendar", self.settings.trusted_proxies)
        self.contact_reads = _contact_reads(self)
        self.kept_answer = _kept_answer(self)
        self.contact_writes = _contact_writes(self)
        self.calendar_reads = _calendar_reads(self)

    async def provide(self) -> "ContactDependencies":
        """Dependency: these dependencies themselves (an endpoint's settings and hooks)."""
        return self

    def per_owner(self, limit: RateLimit) -> Dependency:
        """A dependency counting the request against the current owner (whoever
        `current_owner`, or its override, says that is), and giving that owner."""
        CurrentOwner = Annotated[Owner, Depends(self.current_owner)]

        async def limit_per_owner(request: Request, owner: CurrentOwner) -> Owner:
            await limit.hit(request, owner_identity(owner))
            return owner

        return limit_per_owner

    def service(
        self, session: AsyncSession, owner: str, changes: ChangeNumbers | None = None
    ) -> ContactService:
        """The writes of `owner`'s address book, in the request's transaction `session`
        (whose change numbers `changes` takes, when given)."""
        return ContactService(
            ContactRepository(session, owner, changes),
            phone_region=self.settings.phone_default_region,
            clock=self.clock,
            photos=self.photos,
            outbox=Outbox(session, owner, self.clock),
        )

    def queries(self, engine: AsyncEngine, owner: str) -> ContactQueries:
        """The reads of `owner`'s address book, each on a connection of `engine`."""
        return ContactQueries(
            ContactReads(engine, self.rows, owner), timezone=self.timezone, clock=self.clock
        )

    async def count_operations(
        self, request: Request, owner: Owner, creates: int, others: int
    ) -> None:
        """Count a batch against the owner's limits as that many single requests: `creates`
        contact creations, `others` other contact requests."""
        await self.limits.contact_create.hit(request, owner_identity(owner), creates)
        await self.limits.contacts.hit(request, owner_identity(owner), others)


def _current_owner(
    owner: OwnerDependency,
    owner_id: Callable[[Any], OwnerId] | None,
    read_with: Callable[[Any], Mapping[str, str | None]] | None,
) -> Dependency:
    async def current_owner(given: Annotated[Any, Depends(owner)]) -> Owner:
        """The owner of the request's address book, as the owner dependency says."""
        value = given if owner_id is None else owner_id(given)
        return Owner.of(value) if read_with is None else Owner.of(value, read_with(given))

    return current_owner


def _contact_reads(deps: ContactDependencies) -> Dependency:
    CurrentOwner = Annotated[Owner, Depends(deps.current_owner)]
    limit_contacts, replicas = deps.limit_contacts, deps.replicas

    async def contact_reads(request: Request, owner: CurrentOwner) -> ContactQueries:
        """The owner's address book for reads, the request counted against the owner's
        contact requests limit: one pooled connection per statement, no transaction; on a
        replica when one may serve this owner."""
        # Called here rather than depended on: one dependency less to solve on the busiest
        # routes, and still counted for whoever `owner` (or its override) says.
        await limit_contacts(request, owner)
        return deps.queries(await replicas.reader(owner.key), owner.key)

    return contact_reads


def _kept_answer(deps: ContactDependencies) -> Dependency:
    CurrentOwner = Annotated[Owner, Depends(deps.current_owner)]
    kept = deps.kept

    async def kept_answer(request: Request, owner: CurrentOwner) -> KeptAnswer:
        """The answer this process keeps for the request, under the owner's generation (see
        `contacts_kit.contact.pages`); none kept when the kit keeps none."""
        pages = OwnerPages(None, owner.key, None)
        if kept is not None:
            pages = await kept.of(owner.key, owner.cached)
        return KeptAnswer(pages, (request.url.path, tuple(request.query_params.multi_items())))

    return kept_answer


def _contact_writes(deps: ContactDependencies) -> Dependency:
    CurrentOwner = Annotated[Owner, Depends(deps.current_owner)]
    SessionDep = Annotated[AsyncSession, Depends(deps.plumbing.session, scope="function")]
    kept, replicas = deps.kept, deps.replicas

    async def contact_writes(session: SessionDep, owner: CurrentOwner) -> ContactService:
        """The owner's address book in the request's transaction. Once a change to it
        commits, the owner's generation ends, and with it the read answers kept under it, in
        every process sharing the cache (`contacts_kit.contact.pages`)."""
        await replicas.note_write(owner.key)
        changes = ChangeNumbers(session)

        async def forget_if_changed() -> None:
            if kept is not None:
                for changed in changes.owners:
                    await kept.forget(changed)

        after_commit(session, forget_if_changed)
        return deps.service(session, owner.key, changes)

    return contact_writes


def _calendar_reads(deps: ContactDependencies) -> Dependency:
    async def calendar_reads(
        token: Annotated[str, Path(min_length=1, max_length=100)],
    ) -> ContactQueries:
        """The address book whose birthday feed `token` opens; `CalendarNotFound`."""
        found = await calendar_reader(deps.engine, token)
        if found is None:
            raise CalendarNotFound()
        return deps.queries(await deps.replicas.reader(), found)

    return calendar_reads
