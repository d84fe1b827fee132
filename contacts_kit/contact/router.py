"""Router of the address book: `/contacts`."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# aliases local to the factory.
import json
from collections.abc import Awaitable, Callable
from enum import Enum
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

from contacts_kit.auth.errors import InvalidToken, NotAuthenticated
from contacts_kit.contact.cards import VCardVersion
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
from contacts_kit.contact.imports import decode, read, sniff
from contacts_kit.contact.pages import Page
from contacts_kit.contact.repository import ContactFilters
from contacts_kit.contact.schemas import (
    BIRTHDAYS_JSON,
    CHANGES_JSON,
    CONTACT_JSON,
    CONTACTS_JSON,
    TAGS_JSON,
    TRASH_JSON,
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
from contacts_kit.deps import KitDependencies
from contacts_kit.errors import ContactsKitError, Unprocessable
from contacts_kit.fields import CleanStr, not_null
from contacts_kit.http import (
    BODY_ERRORS,
    RESPONSE_HEADERS,
    DatabaseUnavailable,
    MalformedBody,
    error_content,
    error_responses,
    method_not_allowed,
    operation_id,
    success_headers,
    validation_content,
)
from contacts_kit.ratelimit import RateLimited
from contacts_kit.users.schemas import AuthenticatedUser

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
        json_schema_extra=not_null,
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        description="ETag of the copy you hold: when it is still current, the answer is a 304 "
        "without a body.",
        max_length=1024,
        json_schema_extra=not_null,
    ),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
NameQuery = Annotated[CleanStr | None, Query(max_length=100, json_schema_extra=not_null)]
EmailQuery = Annotated[CleanStr | None, Query(max_length=320, json_schema_extra=not_null)]

_AUTH_ERRORS = (NotAuthenticated, InvalidToken, RateLimited)


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
_READ_ERRORS = (*_AUTH_ERRORS, MalformedEntityTags)


def add_contacts_routes(
    router: APIRouter, deps: KitDependencies, *, prefix: str, tags: list[str | Enum]
) -> None:
    """CRUD, search and upcoming birthdays of the current user's contacts, declared on
    `router` under `prefix` with `tags` (the caller picks both, as it would when including a
    router). Declared on the caller's router rather than on one of their own that it
    includes: FastAPI matches each level of included routers again on every request, and
    these are the busy routes (docs/benchmarks-log.md). `router` gives them its route class."""
    events = deps.events
    Reads = Annotated[ContactService, Depends(deps.contact_reads)]
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    limited = [Depends(deps.limit_contacts)]

    # The reads are declared first: FastAPI tries the routes in order, and they are the busy ones.
    @router.get(
        prefix,
        tags=tags,
        name="contacts:list",
        summary="List contacts",
        response_model=list[ContactRead],
        responses=error_responses(DatabaseUnavailable, *_READ_ERRORS) | _CONDITIONAL,
    )
    async def list_contacts(
        contacts: Reads,
        if_none_match: IfNoneMatch = None,
        q: Annotated[
            CleanStr | None,
            Query(
                max_length=320,
                description="Substring of first name, last name or email.",
                json_schema_extra=not_null,
            ),
        ] = None,
        first_name: NameQuery = None,
        last_name: NameQuery = None,
        email: EmailQuery = None,
        favorite: Annotated[
            bool | None,
            Query(
                description="`true`: favourites only; `false`: the others.",
                json_schema_extra=not_null,
            ),
        ] = None,
        tag: Annotated[
            list[TagName],
            Query(
                max_length=MAX_TAG_FILTERS,
                description="Only contacts carrying this tag (any letter case); repeat it for "
                "contacts carrying all of them (up to 10).",
            ),
        ] = [],  # noqa: B006 (FastAPI copies a query list's default)
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
        prefix + "/{contact_id:int}",
        get_contact,
        tags=tags,
        methods=["GET"],
        name="contacts:get",
        summary="Get a contact",
        response_model=ContactRead,
        responses=error_responses(DatabaseUnavailable, *_READ_ERRORS, ContactNotFound)
        | _CONDITIONAL,
    )

    @router.get(
        prefix + "/birthdays",
        tags=tags,
        name="contacts:birthdays",
        summary="Upcoming birthdays",
        response_model=list[ContactBirthday],
        responses=error_responses(DatabaseUnavailable, *_READ_ERRORS) | _CONDITIONAL,
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
        prefix + "/trash",
        tags=tags,
        name="contacts:trash",
        summary="List the trash",
        response_model=list[TrashedContact],
        responses=error_responses(DatabaseUnavailable, *_READ_ERRORS) | _CONDITIONAL,
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

    @router.get(
        prefix + "/changes",
        tags=tags,
        name="contacts:changes",
        summary="What changed since a sync token",
        dependencies=limited,
        response_model=Changes,
        responses=error_responses(
            DatabaseUnavailable, *_AUTH_ERRORS, InvalidSyncToken, SyncTokenExpired
        ),
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

    @router.get(
        prefix + "/export",
        tags=tags,
        name="contacts:export",
        summary="Export your contacts",
        response_class=StreamingResponse,
        responses=error_responses(DatabaseUnavailable, *_AUTH_ERRORS)
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
        text = decode(await _upload(request, import_limit))
        kind = sniff(text)
        if kind is None:
            raise ImportUnreadable()
        records = list(read(text, kind))
        if len(records) > deps.settings.import_max_records:
            raise ImportTooLarge(
                f"The file has {len(records)} records; an import takes at most "
                f"{deps.settings.import_max_records}: split it."
            )
        if not records:
            raise ImportUnreadable("The file holds no contact.")
        return await contacts.import_book(records, on_conflict=on_conflict, dry_run=dry_run)

    router.add_api_route(
        prefix + "/import",
        import_contacts,
        tags=tags,
        methods=["POST"],
        name="contacts:import",
        summary="Import contacts",
        dependencies=[Depends(deps.limit_import)],
        response_model=ImportReport,
        responses=error_responses(
            DatabaseUnavailable, *_AUTH_ERRORS, ImportUnreadable, ImportTooLarge, *BODY_ERRORS
        ),
        openapi_extra={"requestBody": _IMPORT_BODY},
        # The import's own size limit, with room for the multipart framing around the file.
        route_class_override=deps.upload_route_class(import_limit),
    )

    # The fixed paths would otherwise reach `/{contact_id}` for the methods they lack (a bad
    # id, 422); Starlette's URL convertors, the other way out, are global to the host's app.
    for fixed, allowed in _FIXED_PATHS.items():
        router.add_api_route(
            prefix + fixed,
            _answer_405(allowed),
            tags=tags,
            methods=[method for method in _METHODS if method != allowed],
            name=f"contacts:{fixed[1:]}_other_methods",
            include_in_schema=False,
        )

    # Any other id (`abc`, `-1`) reaches the same endpoint here, for its 422.
    router.add_api_route(
        prefix + "/{contact_id}",
        get_contact,
        tags=tags,
        methods=["GET"],
        name="contacts:get_malformed",
        response_model=ContactRead,
        include_in_schema=False,
    )

    @router.post(
        prefix,
        tags=tags,
        name="contacts:create",
        summary="Create a contact",
        dependencies=[Depends(deps.limit_contact_create)],
        status_code=http_status.HTTP_201_CREATED,
        response_model=ContactRead,
        responses=error_responses(
            DatabaseUnavailable, *_AUTH_ERRORS, ContactEmailExists, *BODY_ERRORS
        )
        | success_headers(201, "ETag", "Location"),
    )
    async def create_contact(
        body: ContactCreate,
        contacts: Writes,
        user: User,
        request: Request,
        background: BackgroundTasks,
    ) -> Response:
        """Add a contact. Its email must be new in your address book."""
        record = await contacts.create(body)
        location = str(request.url_for("contacts:get", contact_id=record.id))
        background.add_task(events.contact_created, ContactRead.model_validate(record), user.id)
        response = _contact(record, {"Location": location})
        response.status_code = http_status.HTTP_201_CREATED
        return response

    @router.put(
        prefix + "/{contact_id}",
        tags=tags,
        name="contacts:replace",
        summary="Replace a contact",
        dependencies=limited,
        response_model=ContactRead,
        responses=error_responses(
            DatabaseUnavailable,
            *_AUTH_ERRORS,
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
        user: User,
        background: BackgroundTasks,
        if_match: IfMatch = None,
    ) -> Response:
        """Replace every field. With `If-Match`, only if nobody changed the contact since."""
        record = await contacts.replace(contact_id, body, if_match)
        background.add_task(events.contact_updated, ContactRead.model_validate(record), user.id)
        return _contact(record)

    @router.patch(
        prefix + "/{contact_id}",
        tags=tags,
        name="contacts:update",
        summary="Update a contact",
        dependencies=limited,
        response_model=ContactRead,
        responses=error_responses(
            DatabaseUnavailable,
            *_AUTH_ERRORS,
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
        user: User,
        background: BackgroundTasks,
        if_match: IfMatch = None,
    ) -> Response:
        """Change the fields sent. With `If-Match`, only if nobody changed the contact since."""
        record = await contacts.patch(contact_id, body, if_match)
        background.add_task(events.contact_updated, ContactRead.model_validate(record), user.id)
        return _contact(record)

    @router.delete(
        prefix + "/{contact_id}",
        tags=tags,
        name="contacts:delete",
        summary="Delete a contact",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(
            DatabaseUnavailable,
            *_AUTH_ERRORS,
            ContactNotFound,
            PreconditionFailed,
            MalformedEntityTags,
        ),
    )
    async def delete_contact(
        contact_id: ContactId,
        contacts: Writes,
        user: User,
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
        background.add_task(events.contact_deleted, contact_id, user.id, permanent=permanent)
        return Response(status_code=http_status.HTTP_204_NO_CONTENT)

    @router.post(
        prefix + "/{contact_id}/restore",
        tags=tags,
        name="contacts:restore",
        summary="Restore a contact from the trash",
        dependencies=limited,
        response_model=ContactRead,
        responses=error_responses(
            DatabaseUnavailable,
            *_AUTH_ERRORS,
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
        user: User,
        background: BackgroundTasks,
        if_match: IfMatch = None,
    ) -> Response:
        """Bring a contact back from the trash, as it was. A 409 when another contact has
        its email now."""
        record = await contacts.restore(contact_id, if_match)
        background.add_task(events.contact_restored, ContactRead.model_validate(record), user.id)
        return _contact(record)

    @router.post(
        prefix + "/batch",
        tags=tags,
        name="contacts:batch",
        summary="Apply up to 100 operations",
        response_model=BatchResults,
        responses=error_responses(DatabaseUnavailable, *_AUTH_ERRORS, *BODY_ERRORS)
        | _ATOMIC_FAILURES,
    )
    async def batch(
        body: BatchRequest,
        contacts: Writes,
        user: User,
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
        await deps.count_operations(request, user, creates, len(body.operations) - creates)
        try:
            applied = await contacts.batch(body.operations, atomic=atomic)
        except BatchAborted as aborted:
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
        results = []
        for index, done in enumerate(applied):
            if done.error is not None:
                status_code, error = _operation_error(request, index, done.error)
                results.append(BatchResult(status=status_code, error=error))
                continue
            if done.deleted is not None:
                background.add_task(
                    events.contact_deleted, done.deleted, user.id, permanent=done.op.permanent
                )
                results.append(BatchResult(status=http_status.HTTP_204_NO_CONTENT))
                continue
            assert done.record is not None  # neither failed nor a delete: it left a contact
            contact = ContactRead.model_validate(done.record)
            created = done.op.op == "create"
            event = events.contact_created if created else events.contact_updated
            background.add_task(event, contact, user.id)
            results.append(
                BatchResult(status=201 if created else 200, contact=contact, etag=etag(done.record))
            )
        return _json(BatchResults(results=results).model_dump_json().encode())


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


def get_tags_router(deps: KitDependencies) -> APIRouter:
    """The current user's tags: list with counts, create, rename, delete."""
    router = APIRouter(
        route_class=deps.route_class,
        generate_unique_id_function=operation_id,
        responses=error_responses(DatabaseUnavailable),
    )
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    limited = [Depends(deps.limit_contacts)]

    @router.get(
        "",
        name="tags:list",
        summary="List tags",
        dependencies=limited,
        response_model=list[TagRead],
        responses=error_responses(*_READ_ERRORS) | _CONDITIONAL,
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
        responses=error_responses(*_AUTH_ERRORS, TagExists, TooManyTags, *BODY_ERRORS),
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
        responses=error_responses(*_AUTH_ERRORS, TagNotFound, TagExists, *BODY_ERRORS),
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
        responses=error_responses(*_AUTH_ERRORS, TagNotFound),
    )
    async def delete_tag(tag_id: TagId, contacts: Writes) -> Response:
        """Delete a tag; the contacts carrying it lose it, nothing else."""
        await contacts.delete_tag(tag_id)
        return Response(status_code=http_status.HTTP_204_NO_CONTENT)

    return router


class CalendarFeed(BaseModel):
    """The address of your birthday calendar: subscribe to it in a calendar app."""

    url: str = Field(
        description="Secret: anyone with it reads your contacts' names and birthdays. Rotate "
        "it with `POST` again, revoke it with `DELETE`."
    )


def get_calendar_router(deps: KitDependencies) -> APIRouter:
    """The birthday calendar feed (`/calendar/...`) and its secret address
    (`/users/me/calendar-token`)."""
    router = APIRouter(
        route_class=deps.route_class,
        generate_unique_id_function=operation_id,
        responses=error_responses(DatabaseUnavailable),
    )
    Writes = Annotated[ContactService, Depends(deps.contact_writes)]
    Feed = Annotated[ContactService, Depends(deps.calendar_reads)]

    @router.post(
        "/users/me/calendar-token",
        name="calendar:token",
        summary="Create or rotate your birthday calendar address",
        dependencies=[Depends(deps.limit_contacts)],
        status_code=http_status.HTTP_201_CREATED,
        response_model=CalendarFeed,
        responses=error_responses(*_AUTH_ERRORS),
    )
    async def create_token(contacts: Writes, request: Request) -> CalendarFeed:
        """A new secret address of your birthday calendar; the previous one stops working."""
        token = await contacts.new_calendar_token()
        path = request.url_for("calendar:birthdays", token=token).path
        return CalendarFeed(url=deps.settings.public_url + path)

    @router.delete(
        "/users/me/calendar-token",
        name="calendar:revoke",
        summary="Revoke your birthday calendar address",
        dependencies=[Depends(deps.limit_contacts)],
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(*_AUTH_ERRORS),
    )
    async def revoke_token(contacts: Writes) -> Response:
        """No address opens your birthday calendar any more (calendar apps get 404)."""
        await contacts.revoke_calendar_token()
        return Response(status_code=http_status.HTTP_204_NO_CONTENT)

    @router.get(
        "/calendar/{token}/birthdays.ics",
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
