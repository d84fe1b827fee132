"""The routers of the address book, one per concern, each serving the endpoints of
`contact.router` with one kit's dependencies (`wired`). They have no prefix: the host
includes each where it wants (`kit.router` puts them at `/contacts`, `/tags` and the API
root)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi import status as http_status
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles

from contacts_kit.contact import router as endpoints
from contacts_kit.contact.deps import ContactDependencies
from contacts_kit.contact.errors import (
    CalendarNotFound,
    ContactEmailExists,
    ContactNotFound,
    ImportTooLarge,
    ImportUnreadable,
    InvalidSyncToken,
    MalformedEntityTags,
    MergeChanged,
    MergeNotFound,
    MergeNotUndoable,
    PhotoNotStored,
    PhotoTooLarge,
    PreconditionFailed,
    SyncTokenExpired,
    TagExists,
    TagNotFound,
    TooManyTags,
    UnsupportedPhoto,
)
from contacts_kit.contact.http import (
    ATOMIC_FAILURES,
    CONDITIONAL,
    FIXED_PATHS,
    IMPORT_BODY,
    METHODS,
    answer_405,
)
from contacts_kit.contact.photos import PHOTOS
from contacts_kit.contact.schemas import (
    BatchResults,
    CalendarFeed,
    Changes,
    ContactBirthday,
    ContactRead,
    Duplicates,
    ImportReport,
    MergeResult,
    Merges,
    TagRead,
    TrashedContact,
    UndoneMerge,
)
from contacts_kit.errors import ContactsKitError
from contacts_kit.http import (
    BODY_ERRORS,
    RESPONSE_HEADERS,
    DatabaseUnavailable,
    error_responses,
    success_headers,
)
from contacts_kit.ratelimit import RateLimited
from contacts_kit.routing import wired


def _errors(deps: ContactDependencies) -> tuple[type[ContactsKitError], ...]:
    """What any contacts route may answer before its own work: the owner's and the limit's."""
    return (*deps.owner_errors, RateLimited)


def get_contacts_router(deps: ContactDependencies) -> APIRouter:
    """CRUD, search, upcoming birthdays, the trash, sync, batch, import and export of the
    current owner's contacts. `kit.router` includes it at `/contacts`."""
    router = APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))
    _add_reads(router, deps)
    _add_review_reads(router, deps)
    # FastAPI tries routes in order. The fixed paths answer 405 for the methods they lack,
    # rather than reaching `/{contact_id}` (a malformed id, 422): a user-visible answer no
    # route declaration gives otherwise (tests/test_bad_input.py). Those of the two that take
    # no GET come before the read by id, which every fixed path's GET comes before too.
    _add_other_methods(router, ("/import", "/batch", "/merge"))
    _add_read_of_one(router, deps)
    _add_import(router, deps)
    _add_other_methods(
        router, ("/birthdays", "/duplicates", "/merges", "/trash", "/changes", "/export")
    )
    _add_changes_of_one(router, deps)
    return router


def _add_other_methods(router: APIRouter, paths: tuple[str, ...]) -> None:
    """A 405 naming the one method of each of `paths`, for the others."""
    for fixed in paths:
        allowed = FIXED_PATHS[fixed]
        router.add_api_route(
            fixed,
            answer_405(allowed),
            methods=[method for method in METHODS if method != allowed],
            name=f"contacts:{fixed[1:]}_other_methods",
            include_in_schema=False,
        )


def _add_reads(router: APIRouter, deps: ContactDependencies) -> None:
    """The list (and search), upcoming birthdays, the trash, the changes feed and the
    export."""
    reads = {"contacts": deps.contact_reads}
    kept = reads | {"kept": deps.kept_answer}
    errors = (*_errors(deps), MalformedEntityTags)
    router.add_api_route(
        "",
        wired(endpoints.list_contacts, **kept),
        methods=["GET"],
        name="contacts:list",
        summary="List contacts",
        response_model=list[ContactRead],
        responses=error_responses(*errors) | CONDITIONAL,
    )
    router.add_api_route(
        "/birthdays",
        wired(endpoints.upcoming_birthdays, **kept),
        methods=["GET"],
        name="contacts:birthdays",
        summary="Upcoming birthdays",
        response_model=list[ContactBirthday],
        responses=error_responses(*errors) | CONDITIONAL,
    )
    router.add_api_route(
        "/trash",
        wired(endpoints.list_trash, **reads),
        methods=["GET"],
        name="contacts:trash",
        summary="List the trash",
        response_model=list[TrashedContact],
        responses=error_responses(*errors) | CONDITIONAL,
    )
    router.add_api_route(
        "/changes",
        wired(endpoints.changes, **reads),
        methods=["GET"],
        name="contacts:changes",
        summary="What changed since a sync token",
        response_model=Changes,
        responses=error_responses(
            DatabaseUnavailable, *_errors(deps), InvalidSyncToken, SyncTokenExpired
        ),
    )
    router.add_api_route(
        "/export",
        wired(endpoints.export, contacts=deps.contact_reads),
        methods=["GET"],
        name="contacts:export",
        summary="Export your contacts",
        response_class=StreamingResponse,
        responses=error_responses(*_errors(deps))
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


def _add_review_reads(router: APIRouter, deps: ContactDependencies) -> None:
    """Likely duplicates, and the merges done."""
    reads = {"contacts": deps.contact_reads}
    router.add_api_route(
        "/duplicates",
        wired(endpoints.find_duplicates, **reads),
        methods=["GET"],
        name="contacts:duplicates",
        summary="Find likely duplicates",
        # It compares the whole book: counted as a write is, against the owner's limit.
        dependencies=[Depends(deps.limit_contacts)],
        response_model=Duplicates,
        responses=error_responses(DatabaseUnavailable, *_errors(deps), RateLimited),
    )
    router.add_api_route(
        "/merges",
        wired(endpoints.list_merges, **reads),
        methods=["GET"],
        name="contacts:merges",
        summary="List merges",
        response_model=Merges,
        responses=error_responses(DatabaseUnavailable, *_errors(deps), RateLimited),
    )


def _add_import(router: APIRouter, deps: ContactDependencies) -> None:
    """Cards in (vCard, CSV)."""
    import_limit = deps.settings.import_max_bytes
    router.add_api_route(
        "/import",
        wired(endpoints.import_contacts, contacts=deps.contact_writes, module=deps.provide),
        methods=["POST"],
        name="contacts:import",
        summary="Import contacts",
        dependencies=[Depends(deps.limit_import)],
        response_model=ImportReport,
        responses=error_responses(
            DatabaseUnavailable, *_errors(deps), ImportUnreadable, ImportTooLarge, *BODY_ERRORS
        ),
        openapi_extra={"requestBody": IMPORT_BODY},
        # The import's own size limit, with room for the multipart framing around the file.
        route_class_override=deps.plumbing.upload_route_class(import_limit),
    )


def _add_read_of_one(router: APIRouter, deps: ContactDependencies) -> None:
    """One contact by id."""
    router.add_api_route(
        "/{contact_id}",
        wired(endpoints.get_contact, contacts=deps.contact_reads, kept=deps.kept_answer),
        methods=["GET"],
        name="contacts:get",
        summary="Get a contact",
        response_model=ContactRead,
        responses=error_responses(*_errors(deps), MalformedEntityTags, ContactNotFound)
        | CONDITIONAL,
    )


def _add_changes_of_one(router: APIRouter, deps: ContactDependencies) -> None:
    """A new contact; one by id replaced, changed, deleted or restored; batches."""
    writes: dict[str, Any] = {
        "contacts": deps.contact_writes,
        "owner": deps.current_owner,
        "module": deps.provide,
    }
    auth = _errors(deps)
    limited = [Depends(deps.limit_contacts)]
    router.add_api_route(
        "",
        wired(endpoints.create_contact, **writes),
        methods=["POST"],
        name="contacts:create",
        summary="Create a contact",
        dependencies=[Depends(deps.limit_contact_create)],
        status_code=http_status.HTTP_201_CREATED,
        response_model=ContactRead,
        responses=error_responses(DatabaseUnavailable, *auth, ContactEmailExists, *BODY_ERRORS)
        | success_headers(201, "ETag", "Location"),
    )
    for method, endpoint, name, summary in (
        ("PUT", endpoints.replace_contact, "contacts:replace", "Replace a contact"),
        ("PATCH", endpoints.update_contact, "contacts:update", "Update a contact"),
    ):
        router.add_api_route(
            "/{contact_id}",
            wired(endpoint, **writes),
            methods=[method],
            name=name,
            summary=summary,
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
    _add_trash_and_batch(router, deps, writes)
    _add_photo(router, deps, writes)
    _add_merges(router, deps, writes)
    router.add_api_route(
        "/duplicates/dismiss",
        wired(endpoints.dismiss_duplicates, contacts=deps.contact_writes),
        methods=["POST"],
        name="contacts:dismiss_duplicates",
        summary="Dismiss likely duplicates",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses=error_responses(
            DatabaseUnavailable, *auth, ContactNotFound, RateLimited, *BODY_ERRORS
        ),
    )


def _add_merges(router: APIRouter, deps: ContactDependencies, writes: dict[str, Any]) -> None:
    """Contacts merged into one, and a merge undone."""
    auth = _errors(deps)
    router.add_api_route(
        "/merge",
        wired(endpoints.merge_contacts, **writes),
        methods=["POST"],
        name="contacts:merge",
        summary="Merge contacts into one",
        response_model=MergeResult,
        responses=error_responses(DatabaseUnavailable, *auth, ContactNotFound, *BODY_ERRORS)
        | success_headers(200, "ETag"),
    )
    router.add_api_route(
        "/merges/{merge_id}/undo",
        wired(endpoints.undo_merge, **writes),
        methods=["POST"],
        name="contacts:undo_merge",
        summary="Undo a merge",
        response_model=UndoneMerge,
        responses=error_responses(
            DatabaseUnavailable,
            *auth,
            MergeNotFound,
            MergeNotUndoable,
            MergeChanged,
            ContactEmailExists,
        ),
    )


def _add_photo(router: APIRouter, deps: ContactDependencies, writes: dict[str, Any]) -> None:
    """A contact's photo set and removed; the local storage's files served."""
    errors: tuple[type[ContactsKitError], ...] = (
        DatabaseUnavailable,
        *_errors(deps),
        ContactNotFound,
        PreconditionFailed,
    )
    router.add_api_route(
        endpoints.PHOTO,
        wired(endpoints.upload_photo, **writes),
        methods=["PUT"],
        name="contacts:set_photo",
        summary="Set a contact's photo",
        dependencies=[Depends(deps.limit_contacts)],
        response_model=ContactRead,
        responses=error_responses(
            *errors,
            MalformedEntityTags,
            PhotoTooLarge,
            UnsupportedPhoto,
            PhotoNotStored,
            RateLimited,
            *BODY_ERRORS,
        )
        | success_headers(200, "ETag"),
        # The photo's own limit, with room for the multipart framing around the image.
        route_class_override=deps.plumbing.upload_route_class(deps.settings.avatar_max_bytes),
    )
    router.add_api_route(
        endpoints.PHOTO,
        wired(endpoints.delete_photo, **writes),
        methods=["DELETE"],
        name="contacts:remove_photo",
        summary="Remove a contact's photo",
        dependencies=[Depends(deps.limit_contacts)],
        response_model=ContactRead,
        responses=error_responses(*errors, MalformedEntityTags, RateLimited)
        | success_headers(200, "ETag"),
    )
    if deps.media_dir is not None:
        folder = deps.media_dir / PHOTOS
        folder.mkdir(parents=True, exist_ok=True)
        router.mount(endpoints.PHOTO_FILES, StaticFiles(directory=folder), name=_PHOTO_FILES)


_PHOTO_FILES = "contacts_kit:contact-photos"


def _add_trash_and_batch(
    router: APIRouter, deps: ContactDependencies, writes: dict[str, Any]
) -> None:
    """Delete and restore a contact; batches of operations."""
    auth = _errors(deps)
    limited = [Depends(deps.limit_contacts)]
    router.add_api_route(
        "/{contact_id}",
        wired(endpoints.delete_contact, **writes),
        methods=["DELETE"],
        name="contacts:delete",
        summary="Delete a contact",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(
            DatabaseUnavailable, *auth, ContactNotFound, PreconditionFailed, MalformedEntityTags
        ),
    )
    router.add_api_route(
        "/{contact_id}/restore",
        wired(endpoints.restore_contact, **writes),
        methods=["POST"],
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
    router.add_api_route(
        "/batch",
        wired(endpoints.batch, **writes),
        methods=["POST"],
        name="contacts:batch",
        summary="Apply up to 100 operations",
        response_model=BatchResults,
        responses=error_responses(*auth, *BODY_ERRORS) | ATOMIC_FAILURES,
    )


def get_tags_router(deps: ContactDependencies) -> APIRouter:
    """The current owner's tags: list with counts, create, rename, delete. `kit.router`
    includes it at `/tags`."""
    router = APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))
    auth = _errors(deps)
    writes = {"contacts": deps.contact_writes}
    limited = [Depends(deps.limit_contacts)]
    router.add_api_route(
        "",
        wired(endpoints.list_tags, contacts=deps.contact_reads),
        methods=["GET"],
        name="tags:list",
        summary="List tags",
        response_model=list[TagRead],
        responses=error_responses(*auth, MalformedEntityTags) | CONDITIONAL,
    )
    router.add_api_route(
        "",
        wired(endpoints.create_tag, **writes),
        methods=["POST"],
        name="tags:create",
        summary="Create a tag",
        dependencies=limited,
        status_code=http_status.HTTP_201_CREATED,
        response_model=TagRead,
        responses=error_responses(*auth, TagExists, TooManyTags, *BODY_ERRORS),
    )
    router.add_api_route(
        "/{tag_id}",
        wired(endpoints.rename_tag, **writes),
        methods=["PATCH"],
        name="tags:rename",
        summary="Rename a tag",
        dependencies=limited,
        response_model=TagRead,
        responses=error_responses(*auth, TagNotFound, TagExists, *BODY_ERRORS),
    )
    router.add_api_route(
        "/{tag_id}",
        wired(endpoints.delete_tag, **writes),
        methods=["DELETE"],
        name="tags:delete",
        summary="Delete a tag",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(*auth, TagNotFound),
    )
    return router


def get_calendar_router(deps: ContactDependencies) -> APIRouter:
    """The birthday calendar feed (`/calendar/...`) and its secret address
    (`/users/me/calendar-token`), both relative to where it is included (`kit.router`: the
    API root), so the address names the mount that made it."""
    router = APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))
    auth = _errors(deps)
    limited = [Depends(deps.limit_contacts)]
    router.add_api_route(
        endpoints.CALENDAR_TOKEN,
        wired(endpoints.create_calendar_token, contacts=deps.contact_writes, module=deps.provide),
        methods=["POST"],
        name="calendar:token",
        summary="Create or rotate your birthday calendar address",
        dependencies=limited,
        status_code=http_status.HTTP_201_CREATED,
        response_model=CalendarFeed,
        responses=error_responses(*auth),
    )
    router.add_api_route(
        endpoints.CALENDAR_TOKEN,
        wired(endpoints.revoke_calendar_token, contacts=deps.contact_writes),
        methods=["DELETE"],
        name="calendar:revoke",
        summary="Revoke your birthday calendar address",
        dependencies=limited,
        status_code=http_status.HTTP_204_NO_CONTENT,
        responses=error_responses(*auth),
    )
    router.add_api_route(
        endpoints.CALENDAR_FEED,
        wired(endpoints.birthdays_feed, contacts=deps.calendar_reads),
        methods=["GET"],
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
            304: CONDITIONAL[304],
        },
    )
    return router
