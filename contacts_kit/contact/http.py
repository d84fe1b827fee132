"""The HTTP side of the contacts module: its path, query and header parameters, the
answers its endpoints build (JSON bytes, entity tags, 304s, 405s), and the OpenAPI fragments
its routers declare. The endpoints are in `contact.router`, the routers in `contact.routers`."""

# No `from __future__ import annotations`: FastAPI reads the parameter types below.
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import BackgroundTasks, Header, Path, Query, Request, Response
from fastapi import status as http_status
from pydantic import BeforeValidator
from starlette.datastructures import UploadFile

from contacts_kit.contact.errors import BatchAborted, ImportTooLarge
from contacts_kit.contact.owner import Owner, OwnerId
from contacts_kit.contact.pages import Page
from contacts_kit.contact.schemas import (
    CONTACT_JSON,
    BatchFailure,
    ContactRead,
    ContactRecord,
    TagName,
)
from contacts_kit.contact.service import etag, listing_etag, none_match
from contacts_kit.errors import ContactsKitError, Unprocessable
from contacts_kit.fields import CleanStr, entity_tags, not_null
from contacts_kit.http import (
    RESPONSE_HEADERS,
    MalformedBody,
    error_content,
    method_not_allowed,
    success_headers,
    validation_content,
)

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
MergeId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The merge's id."), BeforeValidator(_digits)
]


DIGITS_ONLY = BeforeValidator(_digits)
"""Refuses an id in a path written otherwise than in digits (for the other modules' ids)."""


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


def json_answer(
    body: bytes, headers: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    """A JSON response from bytes pydantic already serialized (no second validation pass)."""
    return Response(body, status_code, media_type="application/json", headers=headers)


def contact_answer(record: ContactRecord, headers: dict[str, str] | None = None) -> Response:
    return json_answer(CONTACT_JSON.dump_json(record), {"ETag": etag(record), **(headers or {})})


def announced(
    record: ContactRecord,
    event: Callable[[ContactRead, OwnerId], Awaitable[None]],
    owner: Owner,
    background: BackgroundTasks,
) -> Response:
    """The answer of a write that left `record`, its `on_contact_*` hook run once the
    answer is sent."""
    background.add_task(event, ContactRead.model_validate(record), owner.id)
    return contact_answer(record)


def not_modified(tag: str) -> Response:
    """The 304 of a read whose copy, named by `If-None-Match`, is current: no body."""
    return Response(status_code=http_status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})


def answer(page: Page, if_none_match: str | None) -> Response:
    """A read's answer with its `ETag`, or its 304."""
    if none_match(if_none_match, page.etag):
        return not_modified(page.etag)
    return json_answer(page.body, {"ETag": page.etag})


def listing(body: bytes, if_none_match: str | None) -> Response:
    """A list's answer, tagged with a digest of its bytes, or its 304."""
    return answer(Page(body, listing_etag(body)), if_none_match)


IMPORT_BODY = {
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


async def upload(request: Request, limit: int) -> bytes:
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


EXPORTS = {
    "vcard": ("text/vcard", "contacts.vcf"),
    "csv": ("text/csv", "contacts.csv"),
    "google-csv": ("text/csv", "contacts-google.csv"),
    "outlook-csv": ("text/csv", "contacts-outlook.csv"),
}
CONDITIONAL = success_headers(200, "ETag") | {
    304: {
        "description": "Not Modified: the copy named by `If-None-Match` is current.",
        "headers": {"ETag": RESPONSE_HEADERS["ETag"]},
    }
}


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
FIXED_PATHS = {
    "/birthdays": "GET",
    "/duplicates": "GET",
    "/trash": "GET",
    "/changes": "GET",
    "/export": "GET",
    "/merges": "GET",
    "/batch": "POST",
    "/import": "POST",
    "/merge": "POST",
}
"""The paths beside `/{contact_id}`, each with the one method it serves."""


def answer_405(allowed: str) -> Any:
    """An endpoint answering 405 that names `allowed`."""

    async def other_methods() -> Response:
        return method_not_allowed(allowed)

    return other_methods


def aborted_batch(request: Request, aborted: BatchAborted) -> Response:
    """The answer of an atomic batch whose operation at `aborted.index` failed."""
    status_code, error = operation_error(request, aborted.index, aborted.error)
    if status_code == http_status.HTTP_422_UNPROCESSABLE_CONTENT:
        # A 422 like any other, each error located at its operation.
        return json_answer(json.dumps(error | {"index": aborted.index}).encode(), None, 422)
    failure = BatchFailure(
        detail=f"Operation {aborted.index} failed, so the batch wrote nothing: "
        f"{aborted.error.detail}",
        code=aborted.error.code,
        index=aborted.index,
        error=error,
    )
    return json_answer(failure.model_dump_json().encode(), None, status_code)


def operation_error(
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


ATOMIC_FAILURES: dict[int | str, dict[str, Any]] = {
    code: {
        "model": BatchFailure,
        "description": "With `atomic=true`: the operation at `index` failed with this status "
        "and nothing was written; `error` is its error.",
    }
    for code in (404, 409, 412)
}
