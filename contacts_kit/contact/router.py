"""The endpoints of the address book: contacts, tags and the birthday calendar feed.

Each is a plain function. A parameter typed with a service (`ContactQueries` to read,
`ContactService` to write), `KeptAnswer`, `Owner` or `ContactDependencies` is given by the
kit that serves the route (`contact.routers` wires them); the rest are FastAPI parameters."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.
import asyncio
import base64
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import BackgroundTasks, File, Query, Request, Response
from fastapi import status as http_status
from fastapi.responses import StreamingResponse

from contacts_kit.contact.cards import VCardVersion
from contacts_kit.contact.deps import ContactDependencies
from contacts_kit.contact.errors import BatchAborted
from contacts_kit.contact.http import (
    EXPORTS,
    MAX_OFFSET,
    ContactId,
    EmailQuery,
    FavoriteQuery,
    IfMatch,
    IfNoneMatch,
    Limit,
    MergeId,
    NameQuery,
    Offset,
    TagId,
    TagQuery,
    TextQuery,
    aborted_batch,
    announced,
    answer,
    contact_answer,
    json_answer,
    listing,
    not_modified,
    operation_error,
    upload,
)
from contacts_kit.contact.imports import parse
from contacts_kit.contact.owner import Owner
from contacts_kit.contact.pages import KeptAnswer, Page
from contacts_kit.contact.queries import ContactQueries
from contacts_kit.contact.repository import ContactFilters
from contacts_kit.contact.schemas import (
    BIRTHDAYS_JSON,
    CHANGES_JSON,
    TAGS_JSON,
    TRASH_JSON,
    BatchDelete,
    BatchMerge,
    BatchOperation,
    BatchRequest,
    BatchResult,
    BatchResults,
    CalendarFeed,
    ContactCreate,
    ContactRead,
    ContactUpdate,
    DismissDuplicates,
    DuplicateGroup,
    Duplicates,
    ImportReport,
    MergeContacts,
    MergeResult,
    Merges,
    PhotoUpload,
    TagRead,
    TagWrite,
    UndoneMerge,
)
from contacts_kit.contact.service import (
    ContactService,
    ExportFormat,
    Folded,
    OnConflict,
    entity_tag,
    etag,
    listing_etag,
    none_match,
)
from contacts_kit.contact.text import tag_key
from contacts_kit.errors import InvalidField
from contacts_kit.fields import not_null
from contacts_kit.http import Answered, mount_path

CALENDAR_TOKEN = "/users/me/calendar-token"
CALENDAR_FEED = "/calendar/{token}/birthdays.ics"

# Contacts: reads.


async def list_contacts(
    contacts: ContactQueries,
    kept: KeptAnswer,
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

    async def page() -> Page:
        body = await contacts.search_json(filters, limit, offset)
        return Page(body, listing_etag(body))

    return answer(await kept.page(page), if_none_match)


async def get_contact(
    contact_id: ContactId,
    contacts: ContactQueries,
    kept: KeptAnswer,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One contact, with its `ETag`; a 304 when `If-None-Match` names the current one."""

    async def page() -> Page:
        body, version = await contacts.get_json(contact_id)
        return Page(body, entity_tag(contact_id, version))

    return answer(await kept.page(page), if_none_match)


async def upcoming_birthdays(
    contacts: ContactQueries,
    kept: KeptAnswer,
    if_none_match: IfNoneMatch = None,
    days: Annotated[
        int, Query(ge=0, le=366, description="Window length: today through today + days.")
    ] = 7,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    offset: Offset = 0,
    kind: Annotated[
        Literal["birthday", "anniversary", "all"],
        Query(description="Birthdays, anniversaries, or both (one entry per celebration)."),
    ] = "birthday",
) -> Response:
    """Contacts whose next birthday (or anniversary, `kind`) falls from today through
    today + `days`, soonest first. 29 February is celebrated on 28 February in non-leap
    years."""
    today = contacts.today()

    async def page() -> Page:
        found = await contacts.upcoming_birthdays(days, limit, offset, kind)
        body = BIRTHDAYS_JSON.dump_json(found)
        return Page(body, listing_etag(body))

    # The window moves at midnight: what is kept is kept for the day.
    return answer(await kept.page(page, varies_with=today), if_none_match)


_CURSOR = "d1."


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR}{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    """The position a `cursor` of `find_duplicates` stands for; a 422 for any other text."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset = int(text.removeprefix(_CURSOR)) if text.startswith(_CURSOR) else -1
    except (ValueError, UnicodeDecodeError):
        offset = -1
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidField("cursor", "not a cursor this route gave (use `next`)", cursor)
    return offset


Cursor = Annotated[
    str | None,
    Query(max_length=64, description="`next` of the page before.", json_schema_extra=not_null),
]
"""Where a page of duplicates or merges starts (`_offset`)."""


async def find_duplicates(
    contacts: ContactQueries,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Groups of your contacts that are likely one person, the surest first, each with its
    score and reasons: one mailbox (`ada+work@` is `ada@`; Gmail ignores dots), one phone
    number with names that agree (a family's shared phone is not), the same last name and
    a first name spelled alike (`Jon`/`John`, `Олександр`/`Oleksandr`/`Aleksandr`), made
    surer by the same birthday or organisation and ruled out by two different birthdays.
    A dismissed group is not offered again."""
    offset = _offset(cursor)
    groups, more = await contacts.duplicates(limit, offset)
    page = Duplicates(
        groups=[DuplicateGroup(ids=g.ids, score=g.score, reasons=g.reasons) for g in groups],
        next=_cursor(offset + limit) if more else None,
    )
    return json_answer(page.model_dump_json().encode())


async def dismiss_duplicates(body: DismissDuplicates, contacts: ContactService) -> Response:
    """These contacts are not one person: the group of exactly them is not offered again."""
    await contacts.dismiss_duplicates(body.ids)
    return Response(status_code=http_status.HTTP_204_NO_CONTENT)


def _announce_merge(
    folded: Folded, module: ContactDependencies, owner: Owner, background: BackgroundTasks
) -> None:
    events = module.events
    background.add_task(events.contact_updated, ContactRead.model_validate(folded.record), owner.id)
    for contact_id in folded.merged_ids:
        background.add_task(events.contact_deleted, contact_id, owner.id, permanent=False)


async def merge_contacts(
    body: MergeContacts,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    request: Request,
    background: BackgroundTasks,
) -> Response:
    """Fold contacts that are one person into one, the primary: its values, but where
    `fields` names another contact; every email, phone, address, URL and tag once; the
    notes joined; a favourite if any was; the primary's photo, or the first one's that has
    one. The others go to the trash, marked as merged into it, until the undo or the
    purge. Rate limits count one write per contact."""
    await module.count_operations(request, owner, 0, len(body.ids))
    folded = await contacts.merge(body)
    _announce_merge(folded, module, owner, background)
    result = MergeResult(
        contact=ContactRead.model_validate(folded.record), merge_id=folded.merge_id
    )
    return json_answer(result.model_dump_json().encode(), {"ETag": etag(folded.record)})


async def list_merges(
    contacts: ContactQueries,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    """Your merges, the newest first, each saying whether it can still be undone."""
    offset = _offset(cursor)
    found = await contacts.merges(limit + 1, offset)
    page = Merges(items=found[:limit], next=_cursor(offset + limit) if len(found) > limit else None)
    return json_answer(page.model_dump_json().encode())


async def undo_merge(
    merge_id: MergeId,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    request: Request,
    background: BackgroundTasks,
    force: Annotated[
        bool,
        Query(
            description="`true`: undo even if the merged contact changed since; it keeps "
            "those changes (a list keeps the entries added since and loses those removed)."
        ),
    ] = False,
) -> Response:
    """Put back what a merge changed: the merged contact's fields as before, the contacts
    merged away back from the trash with their ids (an import's card stays in the trash).
    A 409 names the fields when the merged contact changed since (`force=true` keeps those
    changes), or says what is gone. Rate limits count one write per contact."""
    merge = await contacts.merge_to_undo(merge_id)
    await module.count_operations(request, owner, 0, 1 + len(merge.merged_ids))
    done = await contacts.undo_merge(merge, force=force)
    events = module.events
    background.add_task(events.contact_updated, ContactRead.model_validate(done.record), owner.id)
    restored = [ContactRead.model_validate(record) for record in done.restored]
    for contact in restored:
        background.add_task(events.contact_restored, contact, owner.id)
    result = UndoneMerge(contact=ContactRead.model_validate(done.record), restored=restored)
    return json_answer(result.model_dump_json().encode())


async def list_trash(
    contacts: ContactQueries,
    if_none_match: IfNoneMatch = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Response:
    """Your deleted contacts, the most recently deleted first, each with `deleted_at`.
    They stay `CONTACTS_KIT_TRASH_RETENTION` (30 days by default) before the purge."""
    found = await contacts.trash(limit, offset)
    return listing(TRASH_JSON.dump_json(found), if_none_match)


async def changes(
    contacts: ContactQueries,
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
    return json_answer(CHANGES_JSON.dump_json(await contacts.changes(since, limit)))


async def export(
    contacts: ContactQueries,
    format: Annotated[
        ExportFormat,
        Query(
            description="`vcard` (a .vcf file), `csv` (contacts-kit's columns), or "
            "`google-csv` / `outlook-csv` (the columns Google Contacts and Outlook import)."
        ),
    ] = "vcard",
    version: Annotated[
        VCardVersion,
        Query(description="The vCard version: `4.0` (RFC 6350), or `3.0` for older apps."),
    ] = "4.0",
) -> StreamingResponse:
    """Your whole address book as a file, streamed as it is read: every field, tags as
    `CATEGORIES` (CSV: a `Tags` column, ` ::: ` between them), favourites as
    `X-CONTACTS-KIT-FAVORITE`, and the properties an imported card had that no field holds.
    A CSV cell that a spreadsheet would run as a formula starts with `'`."""
    media, name = EXPORTS[format]
    return StreamingResponse(
        contacts.export(format, version),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# Contacts: writes.


async def import_contacts(
    request: Request,
    contacts: ContactService,
    module: ContactDependencies,
    dry_run: Annotated[
        bool, Query(description="`true`: report what would happen, write nothing.")
    ] = False,
    on_conflict: Annotated[
        OnConflict,
        Query(
            description="A record whose email is in your book already: `skip` it, "
            "`update` that contact with the record's fields, or `merge` it into that contact "
            "(an email or a phone of the book; each merge can be undone)."
        ),
    ] = "skip",
) -> ImportReport:
    """Add the contacts of a vCard file (2.1, 3.0, 4.0; Apple, Android, Google) or a CSV
    (Google Contacts, Outlook, this API's export), sent as a multipart `file` or as the
    body (`text/vcard`, `text/csv`). One bad record never stops the others: the report
    says, per record, `created`, `updated`, `merged`, `skipped` or `invalid` and why. The import
    is one transaction: it all lands or, on a failure of the database, none of it does
    (run it again: with `on_conflict=skip`, what landed is skipped)."""
    settings = module.settings
    raw = await upload(request, settings.import_max_bytes)
    # Reading a 4 MB file takes seconds of CPU: in a thread, so every other request of
    # this worker goes on meanwhile.
    records = await asyncio.to_thread(parse, raw, settings.import_max_records)
    return await contacts.import_book(records, on_conflict=on_conflict, dry_run=dry_run)


async def create_contact(
    body: ContactCreate,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    request: Request,
    background: BackgroundTasks,
) -> Response:
    """Add a contact. Its email must be new in your address book."""
    record = await contacts.create(body)
    # The mount that served the request, on the public host (never the Host header).
    location = f"{module.settings.public_url}{mount_path(request, '')}/{record.id}"
    created = ContactRead.model_validate(record)
    background.add_task(module.events.contact_created, created, owner.id)
    response = contact_answer(record, {"Location": location})
    response.status_code = http_status.HTTP_201_CREATED
    return response


async def replace_contact(
    contact_id: ContactId,
    body: ContactCreate,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    background: BackgroundTasks,
    if_match: IfMatch = None,
) -> Response:
    """Replace every field. With `If-Match`, only if nobody changed the contact since."""
    record = await contacts.replace(contact_id, body, if_match)
    return announced(record, module.events.contact_updated, owner, background)


async def update_contact(
    contact_id: ContactId,
    body: ContactUpdate,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    background: BackgroundTasks,
    if_match: IfMatch = None,
) -> Response:
    """Change the fields sent. With `If-Match`, only if nobody changed the contact since."""
    record = await contacts.patch(contact_id, body, if_match)
    return announced(record, module.events.contact_updated, owner, background)


async def delete_contact(
    contact_id: ContactId,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
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
    background.add_task(module.events.contact_deleted, contact_id, owner.id, permanent=permanent)
    return Response(status_code=http_status.HTTP_204_NO_CONTENT)


PHOTO = "/{contact_id}/photo"
PHOTO_FILES = "/photos"
"""Where the contacts router serves photos kept on the local disk (the storage's `photos/`
folder)."""


async def upload_photo(
    contact_id: ContactId,
    body: Annotated[PhotoUpload, File()],
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    request: Request,
    background: BackgroundTasks,
    if_match: IfMatch = None,
) -> Response:
    """Set the contact's photo (multipart `file`). The bytes decide the type, not the
    declared content type; the image is re-encoded from its pixels, so no EXIF or other
    metadata is kept. The previous photo's file is deleted."""
    data = await body.file.read(module.settings.avatar_max_bytes + 1)

    def url_of(stored: str) -> str:
        if urlsplit(stored).scheme:
            return stored
        # A file the contacts router serves: on the public host, where that is mounted.
        return f"{module.settings.public_url}{mount_path(request, PHOTO)}/{stored}"

    record = await contacts.replace_photo(contact_id, data, url_of, if_match)
    return announced(record, module.events.contact_updated, owner, background)


async def delete_photo(
    contact_id: ContactId,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    background: BackgroundTasks,
    if_match: IfMatch = None,
) -> Response:
    """Remove the contact's photo (an imported card's inline one too); its file is
    deleted."""
    record = await contacts.delete_photo(contact_id, if_match)
    return announced(record, module.events.contact_updated, owner, background)


async def restore_contact(
    contact_id: ContactId,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
    background: BackgroundTasks,
    if_match: IfMatch = None,
) -> Response:
    """Bring a contact back from the trash, as it was. A 409 when another contact has
    its email now."""
    record = await contacts.restore(contact_id, if_match)
    return announced(record, module.events.contact_restored, owner, background)


def _writes(op: BatchOperation) -> int:
    """The writes an operation counts as: a merge one per contact it names."""
    if isinstance(op, BatchMerge):
        ids = op.data.get("ids")
        return len(ids) if isinstance(ids, list) and ids else 1
    return 1


async def batch(
    body: BatchRequest,
    contacts: ContactService,
    owner: Owner,
    module: ContactDependencies,
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
    """Create, update, delete and merge contacts in one request, in order, each operation
    as its single request would (`If-Match` included). Each stands alone by default: one
    result per operation, the failed ones with their error. With `atomic=true`, a failure
    answers its status with the operation's `index` (a 422 keeps the list of errors,
    each located at its operation). Rate limits count every operation (a merge once per
    contact)."""
    creates = sum(op.op == "create" for op in body.operations)
    others = sum(_writes(op) for op in body.operations if op.op != "create")
    await module.count_operations(request, owner, creates, others)
    try:
        applied = await contacts.batch(body.operations, atomic=atomic)
    except BatchAborted as aborted:
        # Raised, not returned: the transaction (the host's own session too) rolls back.
        raise Answered(aborted_batch(request, aborted)) from aborted
    events = module.events
    results = []
    for index, done in enumerate(applied):
        if done.error is not None:
            status_code, error = operation_error(request, index, done.error)
            results.append(BatchResult(status=status_code, error=error))
        elif isinstance(done.op, BatchDelete) and done.deleted is not None:
            permanent = done.op.permanent
            background.add_task(events.contact_deleted, done.deleted, owner.id, permanent=permanent)
            results.append(BatchResult(status=http_status.HTTP_204_NO_CONTENT))
        elif done.merge is not None:
            _announce_merge(done.merge, module, owner, background)
            contact = ContactRead.model_validate(done.record)
            tag, merge_id = etag(done.merge.record), done.merge.merge_id
            results.append(BatchResult(status=200, contact=contact, etag=tag, merge_id=merge_id))
        else:
            assert done.record is not None  # neither failed nor a delete: it left a contact
            contact = ContactRead.model_validate(done.record)
            created = done.op.op == "create"
            event = events.contact_created if created else events.contact_updated
            background.add_task(event, contact, owner.id)
            tag = etag(done.record)
            results.append(BatchResult(status=201 if created else 200, contact=contact, etag=tag))
    return json_answer(BatchResults(results=results).model_dump_json().encode())


# Tags.


async def list_tags(contacts: ContactQueries, if_none_match: IfNoneMatch = None) -> Response:
    """Your tags by name, each with how many contacts carry it (the trash aside)."""
    return listing(TAGS_JSON.dump_json(await contacts.tags()), if_none_match)


async def create_tag(body: TagWrite, contacts: ContactService) -> TagRead:
    """A new tag, on no contact yet. Names are unique in any letter case; 200 at most.
    (Naming a new tag on a contact creates it too.)"""
    return await contacts.create_tag(body)


async def rename_tag(tag_id: TagId, body: TagWrite, contacts: ContactService) -> TagRead:
    """Rename a tag; every contact carrying it shows the new name (and a new `ETag`)."""
    return await contacts.rename_tag(tag_id, body)


async def delete_tag(tag_id: TagId, contacts: ContactService) -> Response:
    """Delete a tag; the contacts carrying it lose it, nothing else."""
    await contacts.delete_tag(tag_id)
    return Response(status_code=http_status.HTTP_204_NO_CONTENT)


# The birthday calendar.


async def create_calendar_token(
    contacts: ContactService, module: ContactDependencies, request: Request
) -> CalendarFeed:
    """A new secret address of your birthday calendar; the previous one stops working."""
    token = await contacts.new_calendar_token()
    path = mount_path(request, CALENDAR_TOKEN) + CALENDAR_FEED.format(token=token)
    return CalendarFeed(url=module.settings.public_url + path)


async def revoke_calendar_token(contacts: ContactService) -> Response:
    """No address opens your birthday calendar any more (calendar apps get 404)."""
    await contacts.revoke_calendar_token()
    return Response(status_code=http_status.HTTP_204_NO_CONTENT)


async def birthdays_feed(contacts: ContactQueries, if_none_match: IfNoneMatch = None) -> Response:
    """What a calendar app subscribes to: no bearer token, the secret is in the address.
    29 February recurs on the last day of February. Send `If-None-Match` to poll."""
    body = await contacts.birthday_calendar()
    tag = listing_etag(body)
    if none_match(if_none_match, tag):
        return not_modified(tag)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={"ETag": tag})
