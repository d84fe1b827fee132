"""Routers of the address book: the contacts, the tags and the birthday calendar feed.

Each factory takes the contacts module's dependencies only and returns a router without a
prefix: the host includes it where it wants (`kit.router` puts them under `/contacts`,
`/tags` and the API root)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# aliases local to the factory.
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    Header,
    Path,
    Query,
    Request,
    Response,
)
from fastapi import status as http_status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, BeforeValidator, Field
from starlette.datastructures import UploadFile

from contacts_kit.contact.cards import VCardVersion
from contacts_kit.contact.deps import ContactDependencies
from contacts_kit.contact.errors import (
    BatchAborted,
    CalendarNotFound,
    ContactEmailExists,
    ContactNotFound,
    ImportTooLarge,
    ImportUnreadable,
    InvalidSyncToken,
    MalformedEntityTags,
    PreconditionFailed,
    SyncTokenExpired,
    TagExists,
    TagNotFound,
    TooManyTags,
)
from contacts_kit.contact.imports import parse
from contacts_kit.contact.owner import Owner
from contacts_kit.contact.pages import Page
from contacts_kit.contact.repository import ContactFilters
from contacts_kit.contact.schemas import (
    BIRTHDAYS_JSON,
    CHANGES_JSON,
    CONTACT_JSON,
    CONTACTS_JSON,
    TAGS_JSON,
    TRASH_JSON,
    BatchDelete,
    BatchFailure,
    BatchRequest,
    BatchResult,
    BatchResults,
    Changes,
    ContactBirthday,
    ContactCreate,
    ContactRead,
    ContactRecord,
    ContactUpdate,
    ImportReport,
    TagName,
    TagRead,
    TagWrite,
    TrashedContact,
)
from contacts_kit.contact.service import (
    ContactService,
    ExportFormat,
    OnConflict,
    etag,
    listing_etag,
    none_match,
)
from contacts_kit.contact.text import tag_key
from contacts_kit.errors import ContactsKitError, Unprocessable
from contacts_kit.fields import CleanStr, entity_tags, not_null
from contacts_kit.http import (
    BODY_ERRORS,
    RESPONSE_HEADERS,
    Answered,
    DatabaseUnavailable,
    MalformedBody,
    error_content,
    error_responses,
    method_not_allowed,
    mount_path,
    success_headers,
    validation_content,
)
from contacts_kit.ratelimit import RateLimited

MAX_ID = 2**63 - 1
MAX_OFFSET = 1_000_000_000


def _digits(value: object) -> object:
    # Lax int parsing would read "1_0" as 10 and " 1" as 1: an id in a path is digits only.
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("an id is a positive whole number, written in digits")
    return value


ContactId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The contact's id."), BeforeValidator(_digits)
]
TagId = Annotated[int, Path(ge=1, le=MAX_ID, description="The tag's id."), BeforeValidator(_digits)]
MAX_TAG_FILTERS = 10
IfMatch = Annotated[
    str | None,
    Header(
        description="ETag from a previous read; the write happens only if it is still current.",
        max_length=1024,
        json_schema_extra=entity_tags,
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        description="ETag of the copy you hold: when it is still current, the answer is a 304 "
        "without a body.",
        max_length=1024,
        json_schema_extra=entity_tags,
    ),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
NameQuery = Annotated[CleanStr | None, Query(max_length=100, json_schema_extra=not_null)]
EmailQuery = Annotated[CleanStr | None, Query(max_length=320, json_schema_extra=not_null)]
TextQuery = Annotated[
    CleanStr | None,
    Query(
        max_length=320,
        description="Substring of first name, last name or email.",
        json_schema_extra=not_null,
    ),
]
FavoriteQuery = Annotated[
    bool | None,
    Query(description="`true`: favourites only; `false`: the others.", json_schema_extra=not_null),
]
TagQuery = Annotated[
    list[TagName],
    Query(
        max_length=MAX_TAG_FILTERS,
        description="Only contacts carrying this tag (any letter case); repeat it for "
        "contacts carrying all of them (up to 10).",
    ),
]


def _json(body: bytes, headers: dict[str, str] | None = None, status_code: int = 200) -> Response:
    """A JSON response from bytes pydantic already serialized (no second validation pass)."""
    return Response(body, status_code, media_type="application/json", headers=headers)


def _contact(record: ContactRecord, headers: dict[str, str] | None = None) -> Response:
    return _json(CONTACT_JSON.dump_json(record), {"ETag": etag(record), **(headers or {})})


def _not_modified(tag: str) -> Response:
    """The 304 of a read whose copy, named by `If-None-Match`, is current: no body."""
    return Response(status_code=http_status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})


def _answer(page: Page, if_none_match: str | None) -> Response:
    """A read's answer with its `ETag`, or its 304."""
    if none_match(if_none_match, page.etag):
        return _not_modified(page.etag)
    return _json(page.body, {"ETag": page.etag})


def _listing(body: bytes, if_none_match: str | None) -> Response:
    """A list's answer, tagged with a digest of its bytes, or its 304."""
    return _answer(Page(body, listing_etag(body)), if_none_match)


_IMPORT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "text/vcard": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
    },
}


async def _upload(request: Request, limit: int) -> bytes:
    """The bytes of an uploaded file (multipart `file`, or the whole body); `ImportTooLarge`
    past `limit`, `MalformedBody` for a form without a file."""
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise MalformedBody("Send the file as the multipart field `file`.")
            raw = await upload.read(limit + 1)
    else:
        raw = await request.body()
    if len(raw) > limit:
        raise ImportTooLarge(f"The file is larger than {limit} bytes.")
    return raw


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_FIXED_PATHS = {
    "/birthdays": "GET",
    "/trash": "GET",
    "/changes": "GET",
    "/export": "GET",
    "/batch": "POST",
    "/import": "POST",
}
"""The paths beside `/{contact_id}`, each with the one method it serves."""


def _answer_405(allowed: str) -> Callable[[], Awaitable[Response]]:
    """An endpoint answering 405 that names `allowed`."""

    async def other_methods() -> Response:
        return method_not_allowed(allowed)

    return other_methods


_EXPORTS = {"vcard": ("text/vcard", "contacts.vcf"), "csv": ("text/csv", "contacts.csv")}
_CONDITIONAL = success_headers(200, "ETag") | {
    304: {
        "description": "Not Modified: the copy named by `If-None-Match` is current.",
        "headers": {"ETag": RESPONSE_HEADERS["ETag"]},
    }
}


def get_contacts_router(deps: ContactDependencies) -> APIRouter:
    """CRUD, search, upcoming birthdays, the trash, sync, batch, import and export of the
    current owner's contacts. `kit.router` includes it at `/contacts`."""
    router = APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))
    # FastAPI tries the routes in order: the busy reads first, the writes after the paths
    # they must not shadow.
    get_contact = _add_search_routes(router, deps)
    _add_window_routes(router, deps)
    _add_changes_route(router, deps)
    _add_export_route(router, deps)
    _add_import_route(router, deps)
    _add_guard_routes(router, get_contact)
    _add_create_routes(router, deps)
    _add_change_routes(router, deps)
    _add_restore_route(router, deps)
    _add_batch_route(router, deps)
    return router


def _errors(deps: ContactDependencies) -> tuple[type[ContactsKitError], ...]:
    """What any contacts route may answer before its own work: the owner's and the limit's."""
    return (*deps.owner_errors, RateLimited)


def _add_search_routes(router: APIRouter, deps: ContactDependencies) -> Callable[..., Any]:
    """The list (and search) and the read by id; the read by id's endpoint."""
    Reads = Annotated[ContactService, Depends(deps.contact_reads)]
    reads = (*_errors(deps), MalformedEntityTags)

    @router.get(
        "",
        name="contacts:list",
        summary="List contacts",
        response_model=list[ContactRead],
        responses=error_responses(*reads) | _CONDITIONAL,
    )
    async def list_contacts(
        contacts: Reads,
        if_none_match: IfNoneMatch = None,
        q: TextQuery = None,
        first_name: NameQuery = None,
        last_name: NameQuery = None,
        email: EmailQuery = None,
        favorite: FavoriteQuery = None,
        tag: TagQuery = [],  # noqa: B006 (FastAPI copies a query list's default)
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Response:
        """Your contacts by last name, first name, id; text filters are case-insensitive
        substrings (`%` and `_` match themselves); all filters combine with AND."""
        filters = ContactFilters(
            q=q,
            first_name=first_name,
            last_name=last_name,
            email=email,
            favorite=favorite,
            tags=tuple(dict.fromkeys(tag_key(name) for name in tag)),
        )
        key = ("list", filters, limit, offset)
        page = contacts.pages.get(key)
        if page is None:
            body = CONTACTS_JSON.dump_json(await contacts.search(filters, limit, offset))
            page = contacts.pages.put(key, body, listing_etag(body))
        return _answer(page, if_none_match)

    async def get_contact(
        contact_id: ContactId, contacts: Reads, if_none_match: IfNoneMatch = None
    ) -> Response:
        """One contact, with its `ETag`; a 304 when `If-None-Match` names the current one."""
        key = ("get", contact_id)
        page = contacts.pages.get(key)
        if page is None:
            record = await contacts.get(contact_id)
            page = contacts.pages.put(key, CONTACT_JSON.dump_json(record), etag(record))
        return _answer(page, if_none_match)

    # An id in digits (Starlette's own `int` convertor) cannot be one of the fixed paths
    # (`/birthdays`, ...), so the read by id is tried second, not after all of them.
    router.add_api_route(
        "/{contact_id:int}",
        get_contact,
        methods=["GET"],
        name="contacts:get",
        summary="Get a contact",
        response_model=ContactRead,
        responses=error_responses(*reads, ContactNotFound) | _CONDITIONAL,
    )
    return get_contact


def _add_window_routes(router: APIRouter, deps: ContactDependencies) -> None:
    """Upcoming birthdays and the trash."""
    Reads = Annotated[ContactService, Depends(deps.contact_reads)]
    reads = (*_errors(deps), MalformedEntityTags)

    @router.get(
        "/birthdays",
        name="contacts:birthdays",
        summary="Upcoming birthdays",
        response_model=list[ContactBirthday],
        responses=error_responses(*reads) | _CONDITIONAL,
    )
    async def upcoming_birthdays(
        contacts: Reads,
        if_none_match: IfNoneMatch = None,
        days: Annotated[
            int, Query(ge=0, le=366, description="Window length: today through today + days.")
        ] = 7,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
        offset: Offset = 0,
    ) -> Response:
        """Contacts whose next birthday falls from today through today + `days`, soonest
        first. 29 February is celebrated on 28 February in non-leap years."""
        # Keyed by the day too: the window moves at midnight.
        key = ("birthdays", contacts.today(), days, limit, offset)
        page = contacts.pages.get(key)
        if page is None:
            found = await contacts.upcoming_birthdays(days, limit, offset)
            body = BIRTHDAYS_JSON.dump_json(found)
            page = contacts.pages.put(key, body, listing_etag(body))
        return _answer(page, if_none_match)

    @router.get(
        "/trash",
        name="contacts:trash",
        summary="List the trash",
        response_model=list[TrashedContact],
        responses=error_responses(*reads) | _CONDITIONAL,
    )
    async def list_trash(
        contacts: Reads,
        if_none_match: IfNoneMatch = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Response:
        """Your deleted contacts, the most recently deleted first, each with `deleted_at`.
        They stay `CONTACTS_KIT_TRASH_RETENTION` (30 days by default) before the purge."""
        found = await contacts.trash(limit, offset)
        return _listing(TRASH_JSON.dump_json(found), if_none_match)


def _add_changes_route(router: APIRouter, deps: ContactDependencies) -> None:
    """The changes since a sync token."""
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    auth = _errors(deps)
    limited = [Depends(deps.limit_contacts)]

    @router.get(
        "/changes",
        name="contacts:changes",
        summary="What changed since a sync token",
        dependencies=limited,
        response_model=Changes,
        responses=error_responses(DatabaseUnavailable, *auth, InvalidSyncToken, SyncTokenExpired),
    )
    async def changes(
        contacts: Writes,
        since: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=200,
                description="The `next` of your last sync; without it, the whole book.",
                json_schema_extra=not_null,
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="Changes per page.")] = 100,
    ) -> Response:
        """Sync a copy of your address book. Without `since`: every contact, page by page.
        With it: the contacts created, changed or restored since (`changed`), and the ids of
        those deleted since (`deleted`), in the order they were written; keep `next` for the
        next call, and call again at once while `has_more`. A token older than the
        deletions kept is a 410: start over without `since`."""
        page = await contacts.changes(since, limit)
        return _json(CHANGES_JSON.dump_json(page))


def _add_export_route(router: APIRouter, deps: ContactDependencies) -> None:
    """The whole book as vCards or CSV."""
    Reads = Annotated[ContactService, Depends(deps.contact_reads)]
    auth = _errors(deps)

    @router.get(
        "/export",
        name="contacts:export",
        summary="Export your contacts",
        response_class=StreamingResponse,
        responses=error_responses(*auth)
        | {
            200: {
                "description": "Every contact (the trash aside), by id: vCards, or CSV with "
                "one header row.",
                "content": {
                    "text/vcard": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def export(
        contacts: Reads,
        format: Annotated[
            ExportFormat, Query(description="`vcard` (a .vcf file) or `csv`.")
        ] = "vcard",
        version: Annotated[
            VCardVersion,
            Query(description="The vCard version: `4.0` (RFC 6350), or `3.0` for older apps."),
        ] = "4.0",
    ) -> StreamingResponse:
        """Your whole address book as a file, streamed as it is read: every field, tags as
        `CATEGORIES` (CSV: a `Tags` column, ` ::: ` between them), favourites as
        `X-CONTACTS-KIT-FAVORITE`. A CSV cell that a spreadsheet would run as a formula
        starts with `'`."""
        media, name = _EXPORTS[format]
        return StreamingResponse(
            contacts.export(format, version),
            media_type=f"{media}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _add_import_route(router: APIRouter, deps: ContactDependencies) -> None:
    """Contacts from a vCard or CSV file."""
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    auth = _errors(deps)

    import_limit = deps.settings.import_max_bytes

    async def import_contacts(
        request: Request,
        contacts: Writes,
        dry_run: Annotated[
            bool, Query(description="`true`: report what would happen, write nothing.")
        ] = False,
        on_conflict: Annotated[
            OnConflict,
            Query(
                description="A record whose email is in your book already: `skip` it, or "
                "`update` that contact with the record's fields."
            ),
        ] = "skip",
    ) -> ImportReport:
        """Add the contacts of a vCard file (2.1, 3.0, 4.0; Apple, Android, Google) or a CSV
        (Google Contacts, Outlook, this API's export), sent as a multipart `file` or as the
        body (`text/vcard`, `text/csv`). One bad record never stops the others: the report
        says, per record, `created`, `updated`, `skipped` or `invalid` and why. The import
        is one transaction: it all lands or, on a failure of the database, none of it does
        (run it again: with `on_conflict=skip`, what landed is skipped)."""
        raw = await _upload(request, import_limit)
        # Reading a 4 MB file takes seconds of CPU: in a thread, so every other request of
        # this worker goes on meanwhile.
        records = await asyncio.to_thread(parse, raw, deps.settings.import_max_records)
        return await contacts.import_book(records, on_conflict=on_conflict, dry_run=dry_run)

    router.add_api_route(
        "/import",
        import_contacts,
        methods=["POST"],
        name="contacts:import",
        summary="Import contacts",
        dependencies=[Depends(deps.limit_import)],
        response_model=ImportReport,
        responses=error_responses(
            DatabaseUnavailable, *auth, ImportUnreadable, ImportTooLarge, *BODY_ERRORS
        ),
        openapi_extra={"requestBody": _IMPORT_BODY},
        # The import's own size limit, with room for the multipart framing around the file.
        route_class_override=deps.plumbing.upload_route_class(import_limit),
    )


def _add_guard_routes(router: APIRouter, get_contact: Callable[..., Any]) -> None:
    """405s for the fixed paths' other methods, and the 422 of a malformed id."""
    # The fixed paths would otherwise reach `/{contact_id}` for the methods they lack (a bad
    # id, 422); Starlette's URL convertors, the other way out, are global to the host's app.
    for fixed, allowed in _FIXED_PATHS.items():
        router.add_api_route(
            fixed,
            _answer_405(allowed),
            methods=[method for method in _METHODS if method != allowed],
            name=f"contacts:{fixed[1:]}_other_methods",
            include_in_schema=False,
        )

    # Any other id (`abc`, `-1`) reaches the same endpoint here, for its 422.
    router.add_api_route(
        "/{contact_id}",
        get_contact,
        methods=["GET"],
        name="contacts:get_malformed",
        response_model=ContactRead,
        include_in_schema=False,
    )


def _add_create_routes(router: APIRouter, deps: ContactDependencies) -> None:
    """Create and replace a contact."""
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    CurrentOwner = Annotated[Owner, Depends(deps.current_owner)]
    auth = _errors(deps)
    events = deps.events
    limited = [Depends(deps.limit_contacts)]

    @router.post(
        "",
        name="contacts:create",
        summary="Create a contact",
        dependencies=[Depends(deps.limit_contact_create)],
        status_code=http_status.HTTP_201_CREATED,
        response_model=ContactRead,
        responses=error_responses(DatabaseUnavailable, *auth, ContactEmailExists, *BODY_ERRORS)
        | success_headers(201, "ETag", "Location"),
    )
    async def create_contact(
        body: ContactCreate,
        contacts: Writes,
        owner: CurrentOwner,
        request: Request,
        background: BackgroundTasks,
    ) -> Response:
        """Add a contact. Its email must be new in your address book."""
        record = await contacts.create(body)
        # The mount that served the request, on the public host (never the Host header).
        location = f"{deps.settings.public_url}{mount_path(request, '')}/{record.id}"
        background.add_task(events.contact_created, ContactRead.model_validate(record), owner.id)
        response = _contact(record, {"Location": location})
        response.status_code = http_status.HTTP_201_CREATED
        return response

    @router.put(
        "/{contact_id}",
        name="contacts:replace",
        summary="Replace a contact",
        dependencies=limited,
        response_model=ContactRead,
        responses=error_responses(
            DatabaseUnavailable,
            *auth,
            ContactNotFound,
            ContactEmailExists,
            PreconditionFailed,
            MalformedEntityTags,
            *BODY_ERRORS,
        )
        | success_headers(200, "ETag"),
    )
    async def replace_contact(
        contact_id: ContactId,
        body: ContactCreate,
        contacts: Writes,
        owner: CurrentOwner,
        background: BackgroundTasks,
        if_match: IfMatch = None,
    ) -> Response:
        """Replace every field. With `If-Match`, only if nobody changed the contact since."""
        record = await contacts.replace(contact_id, body, if_match)
        background.add_task(events.contact_updated, ContactRead.model_validate(record), owner.id)
        return _contact(record)


def _add_change_routes(router: APIRouter, deps: ContactDependencies) -> None:
    """Update, delete and restore a contact."""
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    CurrentOwner = Annotated[Owner, Depends(deps.current_owner)]
    auth = _errors(deps)
    events = deps.events
    limited = [Depends(deps.limit_contacts)]

    @router.patch(
        "/{contact_id}",
        name="contacts:update",
        summary="Update a contact",
        dependencies=limited,
        response_model=ContactRead,
        responses=error_responses(
            DatabaseUnavailable,
            *auth,
            ContactNotFound,
            ContactEmailExists,
            PreconditionFailed,
            MalformedEntityTags,
            *BODY_ERRORS,
        )
        | success_headers(200, "ETag"),
    )
    async def update_contact(
        contact_id: ContactId,
        body: ContactUpdate,
        contacts: Writes,
        owner: CurrentOwner,
        background: BackgroundTasks,
        if_match: IfMatch = None,
    ) -> Response:
        """Change the fields sent. With `If-Match`, only if nobody changed the contact since."""
        record = await contacts.patch(contact_id, body, if_match)
        background.add_task(events.contact_updated, ContactRead.model_validate(record), owner.id)
        return _contact(record)

    @router.delete(
        "/{contact_id}",
        name="contacts:delete",
        summary="Delete a contact",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(
            DatabaseUnavailable,
            *auth,
            ContactNotFound,
            PreconditionFailed,
            MalformedEntityTags,
        ),
    )
    async def delete_contact(
        contact_id: ContactId,
        contacts: Writes,
        owner: CurrentOwner,
        background: BackgroundTasks,
        if_match: IfMatch = None,
        permanent: Annotated[
            bool,
            Query(
                description="`true`: delete for good, from the book or from the trash, "
                "instead of moving the contact to the trash."
            ),
        ] = False,
    ) -> Response:
        """Move a contact to the trash: it leaves every read but `GET /contacts/trash`, and
        `POST /contacts/{id}/restore` brings it back. With `permanent=true` it is gone."""
        await contacts.delete(contact_id, if_match, permanent=permanent)
        background.add_task(events.contact_deleted, contact_id, owner.id, permanent=permanent)
        return Response(status_code=http_status.HTTP_204_NO_CONTENT)


def _add_restore_route(router: APIRouter, deps: ContactDependencies) -> None:
    """Bring a contact back from the trash."""
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    CurrentOwner = Annotated[Owner, Depends(deps.current_owner)]
    auth = _errors(deps)
    events = deps.events
    limited = [Depends(deps.limit_contacts)]

    @router.post(
        "/{contact_id}/restore",
        name="contacts:restore",
        summary="Restore a contact from the trash",
        dependencies=limited,
        response_model=ContactRead,
        responses=error_responses(
            DatabaseUnavailable,
            *auth,
            ContactNotFound,
            ContactEmailExists,
            PreconditionFailed,
            MalformedEntityTags,
        )
        | success_headers(200, "ETag"),
    )
    async def restore_contact(
        contact_id: ContactId,
        contacts: Writes,
        owner: CurrentOwner,
        background: BackgroundTasks,
        if_match: IfMatch = None,
    ) -> Response:
        """Bring a contact back from the trash, as it was. A 409 when another contact has
        its email now."""
        record = await contacts.restore(contact_id, if_match)
        background.add_task(events.contact_restored, ContactRead.model_validate(record), owner.id)
        return _contact(record)


def _add_batch_route(router: APIRouter, deps: ContactDependencies) -> None:
    """Up to 100 operations in one request."""
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    CurrentOwner = Annotated[Owner, Depends(deps.current_owner)]
    auth = _errors(deps)
    events = deps.events

    @router.post(
        "/batch",
        name="contacts:batch",
        summary="Apply up to 100 operations",
        response_model=BatchResults,
        responses=error_responses(*auth, *BODY_ERRORS) | _ATOMIC_FAILURES,
    )
    async def batch(
        body: BatchRequest,
        contacts: Writes,
        owner: CurrentOwner,
        request: Request,
        background: BackgroundTasks,
        atomic: Annotated[
            bool,
            Query(
                description="`true`: all or nothing; the first failing operation undoes the "
                "others and the batch answers its status, with its `index`."
            ),
        ] = False,
    ) -> Response:
        """Create, update and delete contacts in one request, in order, each operation as its
        single request would (`If-Match` included). Each stands alone by default: one result
        per operation, the failed ones with their error. With `atomic=true`, a failure
        answers its status with the operation's `index` (a 422 keeps the list of errors,
        each located at its operation). Rate limits count every operation."""
        creates = sum(op.op == "create" for op in body.operations)
        await deps.count_operations(request, owner, creates, len(body.operations) - creates)
        try:
            applied = await contacts.batch(body.operations, atomic=atomic)
        except BatchAborted as aborted:
            # Raised, not returned: the transaction (the host's own session too) rolls back.
            raise Answered(_aborted(request, aborted)) from aborted
        results = []
        for index, done in enumerate(applied):
            if done.error is not None:
                status_code, error = _operation_error(request, index, done.error)
                results.append(BatchResult(status=status_code, error=error))
                continue
            if isinstance(done.op, BatchDelete) and done.deleted is not None:
                background.add_task(
                    events.contact_deleted, done.deleted, owner.id, permanent=done.op.permanent
                )
                results.append(BatchResult(status=http_status.HTTP_204_NO_CONTENT))
                continue
            assert done.record is not None  # neither failed nor a delete: it left a contact
            contact = ContactRead.model_validate(done.record)
            created = done.op.op == "create"
            event = events.contact_created if created else events.contact_updated
            background.add_task(event, contact, owner.id)
            results.append(
                BatchResult(status=201 if created else 200, contact=contact, etag=etag(done.record))
            )
        return _json(BatchResults(results=results).model_dump_json().encode())


def _aborted(request: Request, aborted: BatchAborted) -> Response:
    """The answer of an atomic batch whose operation at `aborted.index` failed."""
    status_code, error = _operation_error(request, aborted.index, aborted.error)
    if status_code == http_status.HTTP_422_UNPROCESSABLE_CONTENT:
        # A 422 like any other, each error located at its operation.
        return _json(json.dumps(error | {"index": aborted.index}).encode(), None, 422)
    failure = BatchFailure(
        detail=f"Operation {aborted.index} failed, so the batch wrote nothing: "
        f"{aborted.error.detail}",
        code=aborted.error.code,
        index=aborted.index,
        error=error,
    )
    return _json(failure.model_dump_json().encode(), None, status_code)


def _operation_error(
    request: Request, index: int, error: ContactsKitError
) -> tuple[int, dict[str, Any]]:
    """The status and error body of a batch's operation, as its single request would have
    answered; a 422 locates each error in the batch's body."""
    if isinstance(error, Unprocessable):
        located = [
            dict(item, loc=("body", "operations", index, "data", *item["loc"][1:]))
            for item in error.errors()
        ]
        return http_status.HTTP_422_UNPROCESSABLE_CONTENT, validation_content(located)
    status_code, content = error_content(request, error)
    return status_code, content


_ATOMIC_FAILURES: dict[int | str, dict[str, Any]] = {
    code: {
        "model": BatchFailure,
        "description": "With `atomic=true`: the operation at `index` failed with this status "
        "and nothing was written; `error` is its error.",
    }
    for code in (404, 409, 412)
}


def get_tags_router(deps: ContactDependencies) -> APIRouter:
    """The current owner's tags: list with counts, create, rename, delete. `kit.router`
    includes it at `/tags`."""
    router = APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))
    auth = _errors(deps)
    reads = (*auth, MalformedEntityTags)
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    limited = [Depends(deps.limit_contacts)]

    @router.get(
        "",
        name="tags:list",
        summary="List tags",
        dependencies=limited,
        response_model=list[TagRead],
        responses=error_responses(*reads) | _CONDITIONAL,
    )
    async def list_tags(contacts: Writes, if_none_match: IfNoneMatch = None) -> Response:
        """Your tags by name, each with how many contacts carry it (the trash aside)."""
        return _listing(TAGS_JSON.dump_json(await contacts.tags()), if_none_match)

    @router.post(
        "",
        name="tags:create",
        summary="Create a tag",
        dependencies=limited,
        status_code=http_status.HTTP_201_CREATED,
        response_model=TagRead,
        responses=error_responses(*auth, TagExists, TooManyTags, *BODY_ERRORS),
    )
    async def create_tag(body: TagWrite, contacts: Writes) -> TagRead:
        """A new tag, on no contact yet. Names are unique in any letter case; 200 at most.
        (Naming a new tag on a contact creates it too.)"""
        return await contacts.create_tag(body)

    @router.patch(
        "/{tag_id}",
        name="tags:rename",
        summary="Rename a tag",
        dependencies=limited,
        response_model=TagRead,
        responses=error_responses(*auth, TagNotFound, TagExists, *BODY_ERRORS),
    )
    async def rename_tag(tag_id: TagId, body: TagWrite, contacts: Writes) -> TagRead:
        """Rename a tag; every contact carrying it shows the new name (and a new `ETag`)."""
        return await contacts.rename_tag(tag_id, body)

    @router.delete(
        "/{tag_id}",
        name="tags:delete",
        summary="Delete a tag",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(*auth, TagNotFound),
    )
    async def delete_tag(tag_id: TagId, contacts: Writes) -> Response:
        """Delete a tag; the contacts carrying it lose it, nothing else."""
        await contacts.delete_tag(tag_id)
        return Response(status_code=http_status.HTTP_204_NO_CONTENT)

    return router


class CalendarFeed(BaseModel):
    """The address of your birthday calendar: subscribe to it in a calendar app."""

    __qualname__ = "ContactsKitCalendarFeed"  # its OpenAPI name: never a host's

    url: str = Field(
        description="Secret: anyone with it reads your contacts' names and birthdays. Rotate "
        "it with `POST` again, revoke it with `DELETE`."
    )


_CALENDAR_TOKEN = "/users/me/calendar-token"
_CALENDAR_FEED = "/calendar/{token}/birthdays.ics"


def get_calendar_router(deps: ContactDependencies) -> APIRouter:
    """The birthday calendar feed (`/calendar/...`) and its secret address
    (`/users/me/calendar-token`), both relative to where it is included (`kit.router`: the
    API root), so the address names the mount that made it."""
    router = APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))
    auth = _errors(deps)
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    Feed = Annotated[ContactService, Depends(deps.calendar_reads)]

    @router.post(
        _CALENDAR_TOKEN,
        name="calendar:token",
        summary="Create or rotate your birthday calendar address",
        dependencies=[Depends(deps.limit_contacts)],
        status_code=http_status.HTTP_201_CREATED,
        response_model=CalendarFeed,
        responses=error_responses(*auth),
    )
    async def create_token(contacts: Writes, request: Request) -> CalendarFeed:
        """A new secret address of your birthday calendar; the previous one stops working."""
        token = await contacts.new_calendar_token()
        path = mount_path(request, _CALENDAR_TOKEN) + _CALENDAR_FEED.format(token=token)
        return CalendarFeed(url=deps.settings.public_url + path)

    @router.delete(
        _CALENDAR_TOKEN,
        name="calendar:revoke",
        summary="Revoke your birthday calendar address",
        dependencies=[Depends(deps.limit_contacts)],
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(*auth),
    )
    async def revoke_token(contacts: Writes) -> Response:
        """No address opens your birthday calendar any more (calendar apps get 404)."""
        await contacts.revoke_calendar_token()
        return Response(status_code=http_status.HTTP_204_NO_CONTENT)

    @router.get(
        _CALENDAR_FEED,
        name="calendar:birthdays",
        summary="Birthday calendar feed",
        dependencies=[Depends(deps.limit_calendar)],
        response_class=Response,
        responses=error_responses(CalendarNotFound, RateLimited, MalformedEntityTags)
        | {
            200: {
                "description": "An iCalendar document: one yearly all-day event per contact "
                "with a birthday.",
                "content": {"text/calendar": {"schema": {"type": "string"}}},
                "headers": {"ETag": RESPONSE_HEADERS["ETag"]},
            },
            304: _CONDITIONAL[304],
        },
    )
    async def birthdays_feed(contacts: Feed, if_none_match: IfNoneMatch = None) -> Response:
        """What a calendar app subscribes to: no bearer token, the secret is in the address.
        29 February recurs on the last day of February. Send `If-None-Match` to poll."""
        body = await contacts.birthday_calendar()
        tag = listing_etag(body)
        if none_match(if_none_match, tag):
            return _not_modified(tag)
        return Response(body, media_type="text/calendar; charset=utf-8", headers={"ETag": tag})

    return router
