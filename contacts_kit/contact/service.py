"""Address book logic: one owner's contacts, optimistic concurrency, birthdays."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from contacts_kit.contact.birthdays import birthday_key
from contacts_kit.contact.cards import split_line, tel_line
from contacts_kit.contact.errors import (
    BatchAborted,
    ContactEmailExists,
    ContactNotFound,
    InvalidSyncToken,
    MalformedEntityTags,
    MergeChanged,
    MergeNotFound,
    MergeNotUndoable,
    PhotoNotStored,
    PreconditionFailed,
    TagNotFound,
    TooManyTags,
)
from contacts_kit.contact.imports import ParsedRecord
from contacts_kit.contact.merges import (
    MergedCard,
    changed_since,
    columns,
    merged,
    photo_of,
    snapshot,
    undone,
)
from contacts_kit.contact.models import Merge
from contacts_kit.contact.phones import InvalidPhoneNumber, normalize_phone
from contacts_kit.contact.photos import Photos
from contacts_kit.contact.repository import (
    ContactRepository,
    StoredTag,
    Where,
    calendar_owner,
    erase_book,
    photo_keys,
    prune_tombstones,
    purge_trash,
    search_text_of,
    sorted_stored_tags,
)
from contacts_kit.contact.schemas import (
    CARD_LISTS,
    CONTACT_JSON,
    MAX_TAGS_PER_OWNER,
    NEEDS_A_WAY_TO_REACH,
    BatchCreate,
    BatchMerge,
    BatchOperation,
    BatchUpdate,
    ContactCreate,
    ContactRecord,
    ContactUpdate,
    ImportedRecord,
    ImportReport,
    MergeContacts,
    TagRead,
    TagWrite,
)
from contacts_kit.contact.text import tag_key
from contacts_kit.errors import ContactsKitError, InvalidData, InvalidField
from contacts_kit.webhooks.outbox import EventType, Outbox


def entity_tag(contact_id: int, version: int) -> str:
    """The strong entity tag of a contact's representation: its id and its version. Ids are
    never reused and the version changes with every change, so no two representations of
    any two contacts share a tag."""
    return f'"{contact_id}-{version}"'


def etag(record: ContactRecord) -> str:
    """The entity tag of the record's representation (`entity_tag`)."""
    return entity_tag(record.id, record.version)


_ENTITY_TAG = re.compile(r'^(W/)?"([\x21\x23-\x7e\x80-\xff]*)"$')


def _entity_tags(header: str, name: str) -> list[tuple[bool, str]]:
    """(weak, tag in quotes) of each entity tag a precondition header lists; the error names
    the header when one item is not an entity tag (RFC 9110, 8.8.3)."""
    tags = []
    for item in header.split(","):
        found = _ENTITY_TAG.match(item.strip())
        if found is None:
            raise MalformedEntityTags.of(name)
        tags.append((found.group(1) is not None, f'"{found.group(2)}"'))
    return tags


def parse_if_match(header: str | None) -> list[str] | None:
    """The strong entity tags an `If-Match` header lists, None when absent or `*` (any);
    `MalformedEntityTags` when it is not a list of entity tags (RFC 9110, 13.1.1)."""
    if header is None or header.strip() == "*":
        return None
    # If-Match compares strongly: a weak tag never matches.
    return [tag for weak, tag in _entity_tags(header, "If-Match") if not weak]


def none_match(header: str | None, tag: str) -> bool:
    """Whether `If-None-Match` names `tag` (or is `*`): the client's copy is current, answer
    304. Compared weakly, as RFC 9110 (13.1.2) says; `MalformedEntityTags` when the header
    is not a list of entity tags."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(listed == tag for _, listed in _entity_tags(header, "If-None-Match"))


def listing_etag(body: bytes) -> str:
    """The strong entity tag of a list's representation: a digest of its bytes, so it changes
    whenever anything in the answer does (a contact, the order, today's birthdays)."""
    return f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


_NOT_IN_TRASH = "No contact with this id in your trash."
_RESTORE_CONFLICT = (
    "Another contact in your address book has this email now; change or delete that one, "
    "then restore this one."
)
_UNDO_CONFLICT = (
    "A contact merged away has an email another contact has now (the merged contact kept "
    "it?); remove it there, then undo again."
)


async def purge(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    retention: timedelta,
    batch: int = 1000,
    photos: Photos | None = None,
) -> int:
    """Delete for good the contacts of every owner that have been in the trash longer than
    `retention`, one transaction per `batch`, and their photos' files (with `photos`); how
    many went."""
    total = 0
    while True:
        async with sessions.begin() as session:
            count, keys = await purge_trash(session, now - retention, batch, now)
        if photos is not None:
            await photos.remove(keys)
        total += count
        if count < batch:
            return total


async def prune(
    sessions: async_sessionmaker[AsyncSession], now: datetime, retention: timedelta
) -> int:
    """Drop the tombstones older than `retention`: sync tokens from before them get 410."""
    async with sessions.begin() as session:
        return await prune_tombstones(session, now - retention)


@dataclass(frozen=True)
class Erasure:
    """What erasing an owner removed: the rows of each table of the book, and the storage
    keys of its photos (deleted once the erasure has committed)."""

    owner: str
    rows: dict[str, int]
    files: list[str]

    @property
    def total(self) -> int:
        """Rows removed in all."""
        return sum(self.rows.values())


async def erase(session: AsyncSession, owner: str) -> Erasure:
    """Remove the owner's whole book in `session`'s transaction (`erase_book`)."""
    files = await photo_keys(session, owner)
    return Erasure(owner, await erase_book(session, owner), files)


def calendar_token_hash(token: str) -> str:
    """The stored form of a birthday feed secret (random: a plain digest is enough)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def calendar_reader(engine: AsyncEngine, token: str) -> str | None:
    """Whose birthday feed a secret opens, if anyone's."""
    return await calendar_owner(engine, calendar_token_hash(token))


_TOKEN_PREFIX = "v1"
END_OF_CHANGE = 2**63 - 1
"""Past every contact id: a position after everything of its change number."""


def sync_token(owner: str, seq: int, contact_id: int) -> str:
    """The opaque token of a position in an owner's changes feed."""
    text = f"{_TOKEN_PREFIX}.{owner}.{seq}.{contact_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_sync_token(token: str, owner: str) -> tuple[int, int]:
    """The position of a token of `owner`; `InvalidSyncToken` for anything else (a number
    past what the columns hold included)."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, rest = text.split(".", 1)
        # An owner key may hold dots; the two numbers after it do not.
        key, seq, contact_id = rest.rsplit(".", 2)
        position = (int(seq), int(contact_id))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSyncToken() from exc
    if (
        prefix != _TOKEN_PREFIX
        or key != owner
        or min(position) < 0
        or max(position) > END_OF_CHANGE
    ):
        raise InvalidSyncToken()
    return position


_Body = TypeVar("_Body", bound=BaseModel)
ExportFormat = Literal["vcard", "csv", "google-csv", "outlook-csv"]


def _validated(model: type[_Body], data: dict[str, Any]) -> _Body:
    """The data of a batch's operation as its single request's body; `InvalidData`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidData(exc.errors(include_url=False)) from exc


@dataclass(slots=True)
class Applied:
    """What one operation of a batch did: the contact it left, the id it deleted, or its
    error."""

    op: BatchOperation
    record: ContactRecord | None = None
    deleted: int | None = None
    error: ContactsKitError | None = None
    merge: Folded | None = None


@dataclass(slots=True)
class Folded:
    """A merge done: the merged contact, the merge's id, the contacts it sent to the
    trash."""

    record: ContactRecord
    merge_id: int
    merged_ids: list[int]


@dataclass(slots=True)
class Unfolded:
    """A merge undone: the primary as before, the contacts back from the trash."""

    record: ContactRecord
    restored: list[ContactRecord]


OnConflict = Literal["skip", "update", "merge"]
ImportOutcome = Literal["created", "updated", "merged", "skipped", "invalid"]


def _explain(error: Mapping[str, Any]) -> str:
    """A pydantic error as one line of an import report: `field: message`."""
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


_IMPORT_CHUNK = 500


def _card_columns(record: ParsedRecord) -> dict[str, Any]:
    """What an imported card has beyond the API's fields: its other properties' lines and
    the photo it links to."""
    columns: dict[str, Any] = {"extra": record.extra}
    if record.photo_url is not None:
        columns["photo_url"] = record.photo_url
    return columns


def _outcome(
    record: ParsedRecord,
    kind: ImportOutcome,
    contact_id: int | None = None,
    merge_id: int | None = None,
) -> ImportedRecord:
    return ImportedRecord(
        line=record.line, outcome=kind, id=contact_id, merge_id=merge_id, errors=record.errors
    )


def _stored(record: ContactRecord, name: str) -> Any:
    """A field of a record as its column holds it (a missing last name is `''`)."""
    value = getattr(record, name)
    return "" if name == "last_name" and value is None else value


_KEYS = {"birthday": "birthday_key", "anniversary": "anniversary_key"}
"""The date columns and the key column each keeps in step."""
_KEY_COLUMNS = frozenset(_KEYS.values())
_SEARCHED = frozenset({"first_name", "last_name", "emails", "phones", "organization", "nickname"})
"""The columns `search_text` folds."""


def _with_primaries(current: ContactRecord, values: dict[str, Any]) -> dict[str, Any]:
    """`values` where `email` or `phone` came alone (a `PATCH` of the seed's fields): the
    contact's list with its first entry replaced (its label kept), or dropped for null."""
    values = dict(values)
    for single, many in (("email", "emails"), ("phone", "phones")):
        if single not in values or many in values:
            continue
        entries: list[Any] = list(getattr(current, many))
        new = values[single]
        label = entries[0]["label"] if entries else None
        rest = [entry for entry in entries[1:] if entry["value"] != new]
        values[many] = ([{"value": new, "label": label}] if new is not None else []) + rest
        values[single] = values[many][0]["value"] if values[many] else None
    return values


_OPTIMISTIC_ATTEMPTS = 3
"""Reads and writes of an update before it locks the contact: each lost one means another
client wrote that contact in between."""


def _tag_keys(names: list[str]) -> list[str]:
    return sorted({tag_key(name) for name in names})


def _check_if_match(current: ContactRecord, wanted: list[str] | None) -> None:
    """`PreconditionFailed` unless the entity tags `If-Match` listed (None: any) name the
    contact's representation."""
    if wanted is not None and etag(current) not in wanted:
        raise PreconditionFailed()


class ContactService:
    """The writes of one owner's address book, through a repository on the request's
    session (`ContactQueries` reads it)."""

    def __init__(
        self,
        contacts: ContactRepository,
        *,
        phone_region: str,
        clock: Callable[[], datetime],
        photos: Photos | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.contacts = contacts
        self.phone_region = phone_region
        self.now = clock
        self.photos = photos
        self.outbox = outbox

    async def _announce(self, event_type: EventType, data: ContactRecord | dict[str, Any]) -> None:
        """Write an event to the outbox, in this transaction (webhooks send it once it
        commits; a rollback takes it back)."""
        if self.outbox is not None:
            raw = CONTACT_JSON.dump_json(data) if isinstance(data, ContactRecord) else data
            await self.outbox.add(event_type, raw)

    def _phone(self, raw: str, field: str) -> str:
        try:
            return normalize_phone(raw, self.phone_region)
        except InvalidPhoneNumber as exc:
            raise InvalidField(field, str(exc), raw) from exc

    def _values(self, data: dict[str, Any], sent: set[str] | None = None) -> dict[str, Any]:
        """The columns of the fields given: phones in E.164 (a number given twice kept once),
        the primary email and phone from their lists, the dates' keys, a missing last name
        as `''` (see `Contact`). An error names `phone` when the body `sent` it alone."""
        values = dict(data)
        if values.get("phone") is not None and values.get("phones") is None:
            values["phone"] = self._phone(values["phone"], "phone")
        alone = sent is not None and "phone" in sent and "phones" not in sent
        if values.get("phones") is not None:
            phones: dict[str, dict[str, Any]] = {}
            for index, entry in enumerate(values["phones"]):
                field = "phone" if alone else f"phones.{index}.value"
                number = self._phone(entry["value"], field)
                phones.setdefault(number, entry | {"value": number})
            values["phones"] = list(phones.values())
        for single, many in (("email", "emails"), ("phone", "phones")):
            if values.get(many) is not None:
                values[single] = values[many][0]["value"] if values[many] else None
        for day, key in (("birthday", "birthday_key"), ("anniversary", "anniversary_key")):
            if day in values:
                values[key] = None if values[day] is None else birthday_key(values[day])
        if "last_name" in values and values["last_name"] is None:
            values["last_name"] = ""
        return values

    async def create(
        self,
        data: ContactCreate,
        card: Mapping[str, Any] | None = None,
        *,
        announce: bool = True,
    ) -> ContactRecord:
        """Add a contact; `ContactEmailExists` when one of its emails is already in the book.
        `card`: what an imported card had beyond the fields (`_card_columns`); `announce`:
        a `contact.created` event (an import announces itself once)."""
        now = self.now()
        values = self._values(data.model_dump(), data.model_fields_set)
        values |= {"created_at": now, "updated_at": now}
        values |= card or {}
        tags = await self.contacts.resolve_tags(values["tags"], MAX_TAGS_PER_OWNER, now)
        values["tags"] = [tag.name for tag in tags]
        record = await self.contacts.add(values)
        if tags:
            await self.contacts.link_tags(record.id, tags, new=True)
        if announce:
            await self._announce("contact.created", record)
        return record

    async def _current(
        self, contact_id: int, if_match: str | None, where: Where = "live"
    ) -> ContactRecord:
        """The contact (live, in the trash or either), locked for this transaction, if
        `If-Match` names its representation."""
        wanted = parse_if_match(if_match)  # malformed: a 400 before anything is locked
        current = await self.contacts.get_for_update(contact_id, where=where)
        if current is None:
            raise ContactNotFound(_NOT_IN_TRASH if where == "trash" else None)
        _check_if_match(current, wanted)
        return current

    async def replace(
        self, contact_id: int, data: ContactCreate, if_match: str | None
    ) -> ContactRecord:
        """Full replacement (`PUT`)."""
        sent = data.model_fields_set
        return await self._updated(
            await self._update(contact_id, data.model_dump(), if_match, sent)
        )

    async def patch(
        self, contact_id: int, data: ContactUpdate, if_match: str | None
    ) -> ContactRecord:
        """Partial change (`PATCH`): only the fields that were sent (a list sent whole, each
        entry with every key)."""
        given = data.model_dump(exclude_unset=True)
        given |= data.model_dump(include=set(CARD_LISTS) & given.keys())
        return await self._updated(await self._update(contact_id, given, if_match))

    async def _updated(self, done: tuple[ContactRecord, bool]) -> ContactRecord:
        """The record an update left; a `contact.updated` event when it changed it."""
        record, changed = done
        if changed:
            await self._announce("contact.updated", record)
        return record

    async def _update(
        self,
        contact_id: int,
        data: dict[str, Any],
        if_match: str | None,
        sent: set[str] | None = None,
    ) -> tuple[ContactRecord, bool]:
        """Write the fields of `data` that differ from the contact's: the contact, and
        whether it changed.

        Optimistic: the contact is read without a lock, and the write names the version it
        read; a write in between (the version moved) means reading again, where `If-Match`
        then answers 412. The owner's change counter is locked only from the write to the
        commit, not while the request reads and checks. A change of tags, which may create
        tags under the counter, locks first (`_current`), as before."""
        wanted = parse_if_match(if_match)  # malformed: a 400 before anything is read
        values = self._values(data, sent)
        for _ in range(_OPTIMISTIC_ATTEMPTS):
            current = await self.contacts.current(contact_id)
            if current is None:
                raise ContactNotFound()
            _check_if_match(current, wanted)
            if "tags" in values and _tag_keys(values["tags"]) != _tag_keys(current.tags):
                break
            changed = self._changes(current, values)
            if not changed:
                return current, False  # no new version, other clients' tags hold
            record = await self.contacts.update(contact_id, current.version, changed)
            if record is not None:
                return record, True
        current = await self._current(contact_id, if_match)
        tags = None
        if "tags" in values and _tag_keys(values["tags"]) != _tag_keys(current.tags):
            tags = await self.contacts.resolve_tags(values["tags"], MAX_TAGS_PER_OWNER, self.now())
            values = values | {"tags": [tag.name for tag in tags]}
        changed = self._changes(current, values)
        if not changed:
            return current, False
        record = await self._locked_update(contact_id, current, changed)
        if tags is not None:
            await self.contacts.link_tags(contact_id, tags)
        return record, True

    def _changes(self, current: ContactRecord, values: dict[str, Any]) -> dict[str, Any]:
        """The columns that change when `values` are written over `current` (none: nothing
        to write); `InvalidField` when the contact would have no email and no phone."""
        values = _with_primaries(current, values)
        changed = {
            name: value
            for name, value in values.items()
            if name not in _KEY_COLUMNS and _stored(current, name) != value
        }
        if "tags" in changed and _tag_keys(changed["tags"]) == _tag_keys(current.tags):
            del changed["tags"]  # the same tags, differently spelled: not a change
        if not changed:
            return changed
        reachable = [changed.get(name, getattr(current, name)) for name in ("email", "phone")]
        if reachable == [None, None]:
            raise InvalidField("email", NEEDS_A_WAY_TO_REACH, None)
        for day, key in _KEYS.items():
            if day in changed:
                changed[key] = values[key]
        if _SEARCHED & changed.keys():
            fields = {name: _stored(current, name) for name in _SEARCHED}
            changed["search_text"] = search_text_of(fields | changed)
        changed["updated_at"] = self.now()
        return changed

    async def _locked_update(
        self,
        contact_id: int,
        current: ContactRecord,
        values: dict[str, Any],
        conflict: ContactEmailExists | None = None,
    ) -> ContactRecord:
        """Write `values` into `current`, which this transaction has locked (`_current`)."""
        record = await self.contacts.update(contact_id, current.version, values, conflict)
        assert record is not None, "a locked contact keeps its version"
        return record

    async def _apply(self, op: BatchOperation) -> Applied:
        # The operation's model has checked its fields; its body is checked here, as its
        # single request's would be.
        if isinstance(op, BatchCreate):
            return Applied(op, await self.create(_validated(ContactCreate, op.data)))
        if isinstance(op, BatchUpdate):
            data = _validated(ContactUpdate, op.data)
            return Applied(op, await self.patch(op.id, data, op.if_match))
        if isinstance(op, BatchMerge):
            folded = await self.merge(_validated(MergeContacts, op.data))
            return Applied(op, folded.record, merge=folded)
        await self.delete(op.id, op.if_match, permanent=op.permanent)
        return Applied(op, deleted=op.id)

    async def batch(self, operations: Sequence[BatchOperation], *, atomic: bool) -> list[Applied]:
        """Apply the operations in order, each as its single request would. Each one alone
        (a failed one leaves no trace, the others stand) or, `atomic`, all or nothing: the
        first failure undoes them all and raises `BatchAborted`."""
        applied = []
        await self.contacts.hold_change()
        if atomic:
            async with self.contacts.savepoint():
                for index, op in enumerate(operations):
                    try:
                        applied.append(await self._apply(op))
                    except ContactsKitError as error:
                        raise BatchAborted(index, error) from error
            return applied
        for op in operations:
            try:
                async with self.contacts.savepoint():
                    applied.append(await self._apply(op))
            except ContactsKitError as error:
                applied.append(Applied(op, error=error))
        return applied

    async def _tag_read(self, tag_id: int) -> TagRead:
        tag = await self.contacts.tag(tag_id)
        assert tag is not None  # read in the transaction that holds it
        return tag

    async def create_tag(self, data: TagWrite) -> TagRead:
        """A new tag; `TagExists` or `TooManyTags`."""
        tag = await self.contacts.add_tag(data.name, MAX_TAGS_PER_OWNER, self.now())
        return await self._tag_read(tag.id)

    async def _tag(self, tag_id: int) -> StoredTag:
        tag = await self.contacts.tag_for_update(tag_id)
        if tag is None:
            raise TagNotFound()
        return tag

    async def rename_tag(self, tag_id: int, data: TagWrite) -> TagRead:
        """Rename a tag, on each contact carrying it (a new version of each)."""
        tag = await self._tag(tag_id)
        if data.name != tag.name:
            await self.contacts.rename_tag(tag, data.name, self.now())
            renamed = {"id": tag_id, "name": data.name, "previous_name": tag.name}
            await self._announce("tag.renamed", renamed)
        return await self._tag_read(tag_id)

    async def delete_tag(self, tag_id: int) -> None:
        """Delete a tag; the contacts carrying it lose it (a new version of each)."""
        tag = await self._tag(tag_id)
        await self.contacts.delete_tag(tag, self.now())
        await self._announce("tag.deleted", {"id": tag.id, "name": tag.name})

    async def delete(self, contact_id: int, if_match: str | None, *, permanent: bool) -> None:
        """Move the contact to the trash or, `permanent`, delete it (live or trashed) for
        good; only at the `If-Match` representation when one is given."""
        if permanent:
            await self._current(contact_id, if_match, "any")
            files = await self.contacts.delete(contact_id, self.now())
            self._remove_after_commit(files)
            await self._announce("contact.purged", {"id": contact_id})
            return
        current = await self._current(contact_id, if_match)
        now = self.now()
        trashed = await self._locked_update(
            contact_id, current, {"deleted_at": now, "updated_at": now}
        )
        await self._announce("contact.deleted", trashed)

    async def restore(self, contact_id: int, if_match: str | None) -> ContactRecord:
        """Bring a contact back from the trash; `ContactEmailExists` when a live contact has
        its email now."""
        current = await self._current(contact_id, if_match, "trash")
        # One merged away, back on its own: its merge can no longer be undone.
        values = {"deleted_at": None, "merged_into": None, "updated_at": self.now()}
        record = await self._locked_update(
            contact_id, current, values, ContactEmailExists(_RESTORE_CONFLICT)
        )
        await self._announce("contact.restored", record)
        return record

    async def merge(self, data: MergeContacts) -> Folded:
        """Fold the contacts into the primary (`contact.merges.merged`); the others go to
        the trash marked as merged into it. `ContactNotFound` unless each is live."""
        records: dict[int, ContactRecord] = {}
        for contact_id in sorted(data.ids):  # locked in one order: no deadlock
            found = await self.contacts.get_for_update(contact_id)
            if found is None:
                raise ContactNotFound(f"No contact with the id {contact_id} in your book.")
            records[contact_id] = found
        keys = await self.contacts.photo_keys_of(data.ids)
        primary = data.primary_id
        order = [primary, *(contact_id for contact_id in data.ids if contact_id != primary)]
        cards = [MergedCard(records[contact_id], keys.get(contact_id)) for contact_id in order]
        return await self._fold(cards, data.chosen, "merge")

    async def _fold(
        self, cards: list[MergedCard], fields: Mapping[str, int], source: str
    ) -> Folded:
        result = merged(cards, fields)
        main, now = cards[0], self.now()
        for card in cards[1:]:  # first: their emails go free for the primary
            values: dict[str, Any] = {
                "deleted_at": now,
                "updated_at": now,
                "merged_into": main.record.id,
            }
            if card is result.photo_from:
                values |= main.photo.columns(card.record.extra)  # the photos swap
            trashed = await self._locked_update(card.record.id, card.record, values)
            if source == "merge":  # an import announces itself once
                await self._announce("contact.deleted", trashed)
        before = snapshot(main)
        record = await self._write_snapshot(main, result.values)
        if source == "merge":
            await self._announce("contact.updated", record)
        after = snapshot(MergedCard(record, result.values["photo_key"]))
        merged_ids = [card.record.id for card in cards[1:]]
        merge = Merge(
            contact_id=record.id,
            merged_ids=merged_ids,
            source=source,
            photo_from=None if result.photo_from is None else result.photo_from.record.id,
            before=before,
            after=after,
            created_at=now,
        )
        return Folded(record, await self.contacts.add_merge(merge), merged_ids)

    async def _write_snapshot(self, card: MergedCard, values: Mapping[str, Any]) -> ContactRecord:
        """Write a snapshot's fields into the contact (locked by this transaction)."""
        written = columns(values)
        photo_key = written.pop("photo_key")
        for single, many in (("email", "emails"), ("phone", "phones")):
            written[single] = written[many][0]["value"] if written[many] else None
        for day, key in _KEYS.items():
            written[key] = None if written[day] is None else birthday_key(written[day])
        tags = None
        if _tag_keys(written["tags"]) != _tag_keys(card.record.tags):
            tags = await self._resolve(written["tags"], self.now())
            written["tags"] = [tag.name for tag in tags]
        changed = self._changes(card.record, written)
        if photo_key != card.photo_key:
            changed |= {"photo_key": photo_key, "updated_at": self.now()}
        if not changed:
            return card.record
        record = await self._locked_update(card.record.id, card.record, changed)
        if tags is not None:
            await self.contacts.link_tags(card.record.id, tags)
        return record

    async def merge_to_undo(self, merge_id: int) -> Merge:
        """The owner's merge, locked for its undo; `MergeNotFound`, or `MergeNotUndoable`
        when undone already."""
        await self.contacts.hold_change()  # the book's lock first, as every write takes it
        merge = await self.contacts.merge_for_update(merge_id)
        if merge is None:
            raise MergeNotFound()
        if merge.undone_at is not None:
            raise MergeNotUndoable("This merge was undone already.")
        return merge

    async def undo_merge(self, merge: Merge, *, force: bool) -> Unfolded:
        """Put back what `merge` changed: the primary's fields as before, the contacts
        merged away back from the trash with their ids (an import's card stays there).
        `MergeChanged` when the merged contact changed since, unless `force` keeps those
        changes; `MergeNotUndoable` when a contact it needs is gone."""
        main = await self.contacts.get_for_update(merge.contact_id)
        if main is None:
            raise MergeNotUndoable(
                f"The merged contact {merge.contact_id} is not in your book: restore it "
                "from the trash first (after a purge, the merge cannot be undone)."
            )
        waiting = await self.contacts.merged_away(main.id, merge.merged_ids)
        gone = [contact_id for contact_id in merge.merged_ids if contact_id not in waiting]
        if gone and merge.source == "merge":
            raise MergeNotUndoable(
                f"Contact {gone[0]}, merged away, is no longer in the trash (restored or "
                "purged): the merge cannot be undone."
            )
        keys = await self.contacts.photo_keys_of([main.id])
        card = MergedCard(main, keys.get(main.id))
        now_values = snapshot(card)
        changed = changed_since(merge.after, now_values)
        if changed and not force:
            raise MergeChanged.of(changed)
        photo_back = photo_of(merge.after) == card.photo
        record = await self._write_snapshot(card, undone(merge.before, merge.after, now_values))
        await self._announce("contact.updated", record)
        restored = []
        now = self.now()
        for contact_id in sorted(waiting):
            other = await self.contacts.get_for_update(contact_id, where="trash")
            assert other is not None  # merged away, in the trash, locked by this transaction
            values: dict[str, Any] = {"merged_into": None, "updated_at": now}
            if photo_back and contact_id == merge.photo_from:
                values |= photo_of(merge.after).columns(other.extra)  # the photos swap back
            if merge.source == "merge":
                values["deleted_at"] = None
            back = await self.contacts.update(
                contact_id, other.version, values, ContactEmailExists(_UNDO_CONFLICT)
            )
            assert back is not None, "a locked contact keeps its version"
            if merge.source == "merge":
                restored.append(back)
                await self._announce("contact.restored", back)
        await self.contacts.undone(merge, now)
        return Unfolded(record, restored)

    def _remove_after_commit(self, files: list[str]) -> None:
        if self.photos is not None:
            self.photos.remove_after_commit(self.contacts.session, files)

    def _photos(self) -> Photos:
        if self.photos is None:
            raise PhotoNotStored("This server keeps no contact photos (it has no storage).")
        if self.photos.refused is not None:
            raise PhotoNotStored(self.photos.refused)
        return self.photos

    async def replace_photo(
        self, contact_id: int, data: bytes, url_of: Callable[[str], str], if_match: str | None
    ) -> ContactRecord:
        """Store `data` as the contact's photo; the previous one's file goes once this
        commits. Nothing changes (and the new file goes) when the contact is not there."""
        photos = self._photos()
        wanted = parse_if_match(if_match)  # malformed: a 400 before anything is stored
        url, key = await photos.store(data, url_of)
        try:
            return await self._set_photo(contact_id, wanted, url, key)
        except BaseException:
            await photos.remove([key])
            raise

    async def delete_photo(self, contact_id: int, if_match: str | None) -> ContactRecord:
        """Remove the contact's photo (a card's inline one too); its file goes once this
        commits."""
        return await self._set_photo(contact_id, parse_if_match(if_match), None, None)

    async def _set_photo(
        self, contact_id: int, wanted: list[str] | None, url: str | None, key: str | None
    ) -> ContactRecord:
        current = await self.contacts.get_for_update(contact_id)
        if current is None:
            raise ContactNotFound()
        _check_if_match(current, wanted)
        previous = await self.contacts.photo_key(contact_id)
        inline = any(split_line(line)[1] == "PHOTO" for line in current.extra)
        if url is None and current.photo_url is None and not inline:
            return current  # no photo to remove: no new version
        values = {
            "photo_url": url,
            "photo_key": key,
            # An imported card's own PHOTO line gives way to the photo set here.
            "extra": [line for line in current.extra if split_line(line)[1] != "PHOTO"],
            "updated_at": self.now(),
        }
        record = await self._locked_update(contact_id, current, values)
        self._remove_after_commit([previous] if previous else [])
        await self._announce("contact.updated", record)
        return record

    def _importable(self, record: ParsedRecord) -> ContactCreate | None:
        """The record as a new contact, or None with its errors added to it. A number that
        is no phone number (of the configured region's rules) is kept with the card as its
        own `TEL` line, not in `phones`: the export writes it back, nothing is lost."""
        if record.errors:
            return None
        self._set_aside_phones(record)
        try:
            return ContactCreate.model_validate(record.data)
        except ValidationError as exc:
            record.errors += [_explain(error) for error in exc.errors(include_url=False)]
        return None

    def _set_aside_phones(self, record: ParsedRecord) -> None:
        phones = record.data.get("phones")
        if not isinstance(phones, list):
            return
        kept = []
        for entry in phones:
            try:
                normalize_phone(str(entry.get("value", "")), self.phone_region)
                kept.append(entry)
            except (InvalidPhoneNumber, AttributeError):
                record.extra.append(tel_line(entry))
        record.data["phones"] = kept

    async def import_book(
        self, records: Sequence[ParsedRecord], *, on_conflict: OnConflict, dry_run: bool
    ) -> ImportReport:
        """Add the records (in one transaction): a new email is created; an email the book
        has (or an earlier record of the file had) is skipped or updates that contact, as
        `on_conflict` says; a record that does not validate is reported and left out. With
        `dry_run`, everything is done and then undone: the report says what would happen.

        New contacts go in with multi-row `INSERT`s and their tags are found (or made) once
        for the whole file: an import of thousands costs a few statements per hundred."""
        contacts = [self._importable(record) for record in records]
        emails = sorted({e.value for c in contacts if c is not None for e in c.emails})
        await self.contacts.hold_change()
        outcomes: list[ImportedRecord | None] = [None] * len(records)
        new: list[tuple[int, ContactCreate]] = []
        first_of: dict[str, int] = {}  # email -> the record of this file that creates it
        earlier: dict[int, int] = {}  # record -> the earlier record of the file it repeats
        async with self.contacts.savepoint() as everything:
            owners = await self.contacts.ids_by_email(emails)
            if on_conflict == "merge":  # a phone of the book makes a duplicate too
                owners |= await self.contacts.ids_by_phone()
            for index, (record, contact) in enumerate(zip(records, contacts, strict=True)):
                its = [entry.value for entry in contact.emails] if contact is not None else []
                keys = self._keys_of(contact, phones=on_conflict == "merge")
                existing = next((owners[key] for key in keys if key in owners), None)
                repeated = next((first_of[e] for e in its if e in first_of), None)
                if contact is None:
                    outcomes[index] = _outcome(record, "invalid")
                elif repeated is not None:
                    earlier[index] = repeated  # done once that one exists
                elif existing is not None and on_conflict == "skip":
                    outcomes[index] = _outcome(record, "skipped", existing)
                elif existing is not None and on_conflict == "merge":
                    outcomes[index] = await self._import_merge(record, contact, existing)
                elif existing is not None:
                    outcomes[index] = await self._import_update(record, contact, existing)
                else:
                    new.append((index, contact))
                    first_of |= dict.fromkeys(its, index)
            ids = dict(await self._import_new(new, records))
            for index, record in enumerate(records):
                if outcomes[index] is not None:
                    continue
                contact = contacts[index]
                first = earlier.get(index)
                if first is not None:
                    made = ids.get(first)
                    if made is not None and contact is not None and on_conflict == "update":
                        # Met earlier in the file: it updates what that record created.
                        outcomes[index] = await self._import_update(record, contact, made)
                    elif made is not None and contact is not None and on_conflict == "merge":
                        outcomes[index] = await self._import_merge(record, contact, made)
                    else:
                        outcomes[index] = _outcome(record, "skipped", made)
                elif record.errors:
                    outcomes[index] = _outcome(record, "invalid")
                else:
                    outcomes[index] = _outcome(record, "created", ids[index])
            if dry_run:
                await everything.rollback()
        done = [outcome for outcome in outcomes if outcome is not None]
        counts = Counter(outcome.outcome for outcome in done)
        if not dry_run:
            kinds: tuple[ImportOutcome, ...] = (
                "created",
                "updated",
                "merged",
                "skipped",
                "invalid",
            )
            await self._announce("contacts.imported", {kind: counts[kind] for kind in kinds})
        return ImportReport(
            dry_run=dry_run,
            created=counts["created"],
            updated=counts["updated"],
            merged=counts["merged"],
            skipped=counts["skipped"],
            invalid=counts["invalid"],
            records=done,
        )

    def _keys_of(self, contact: ContactCreate | None, *, phones: bool) -> list[str]:
        """What finds a record's contact in the book: its emails, then (with `phones`) its
        phone numbers in E.164."""
        if contact is None:
            return []
        emails = [entry.value for entry in contact.emails]
        if not phones:
            return emails
        return emails + [self._phone(entry.value, "phones") for entry in contact.phones]

    async def _import_merge(
        self, record: ParsedRecord, contact: ContactCreate, existing: int
    ) -> ImportedRecord:
        """Merge the record into the contact it duplicates (`on_conflict=merge`): the card
        goes in as a contact of the trash, merged into that one (the merge's undo leaves it
        there)."""
        now = self.now()
        values = self._values(contact.model_dump()) | _card_columns(record)
        values |= {"created_at": now, "updated_at": now, "deleted_at": now}
        try:
            async with self.contacts.savepoint():
                tags = await self._resolve(values["tags"], now)
                values["tags"] = [tag.name for tag in tags]
                card = await self.contacts.add(values)
                if tags:
                    await self.contacts.link_tags(card.id, tags, new=True)
                main = await self.contacts.get_for_update(existing)
                assert main is not None  # found live in this transaction
                keys = await self.contacts.photo_keys_of([existing])
                cards = [MergedCard(main, keys.get(existing)), MergedCard(card, None)]
                folded = await self._fold(cards, {}, "import")
        except (TooManyTags, InvalidField) as exc:
            record.errors.append(exc.detail)
            return _outcome(record, "invalid")
        return _outcome(record, "merged", existing, folded.merge_id)

    async def _import_update(
        self, record: ParsedRecord, contact: ContactCreate, existing: int
    ) -> ImportedRecord:
        given = contact.model_dump(include=set(record.data) | {"first_name"})
        for single, many in (("email", "emails"), ("phone", "phones")):
            if single in given:  # the record's list, not its primary alone
                given[many] = contact.model_dump()[many]
                del given[single]
        given["extra"] = record.extra  # the card's own lines replace the contact's
        try:
            async with self.contacts.savepoint():
                await self._update(existing, given, None)  # the import announces itself
        except (TooManyTags, InvalidField, ContactEmailExists) as exc:
            record.errors.append(exc.detail)
            return _outcome(record, "invalid")
        return _outcome(record, "updated", existing)

    async def _import_new(
        self, new: list[tuple[int, ContactCreate]], records: Sequence[ParsedRecord]
    ) -> list[tuple[int, int]]:
        """Create the contacts of an import: (index, id) of each, in chunks; a record that
        would pass the book's tag limit gets the error instead."""
        now = self.now()
        names = [name for _, contact in new for name in contact.tags]
        try:
            known = {tag_key(t.name): t for t in await self._resolve(names, now)}
        except TooManyTags:
            known = None  # too many for the book at once: each record on its own
        created: list[tuple[int, int]] = []
        for start in range(0, len(new), _IMPORT_CHUNK):
            chunk = new[start : start + _IMPORT_CHUNK]
            if known is None:
                for index, contact in chunk:
                    try:
                        card = _card_columns(records[index])
                        made = await self.create(contact, card, announce=False)
                        created.append((index, made.id))
                    except TooManyTags as exc:
                        records[index].errors.append(exc.detail)
                continue
            rows, tags = [], []
            for index, contact in chunk:
                values = self._values(contact.model_dump()) | _card_columns(records[index])
                its = sorted_stored_tags({tag_key(n): known[tag_key(n)] for n in contact.tags})
                rows.append(
                    values | {"tags": [t.name for t in its], "created_at": now, "updated_at": now}
                )
                tags.append(its)
            added = await self.contacts.add_many(rows, tags)
            created += [(index, row.id) for (index, _), row in zip(chunk, added, strict=True)]
        return created

    async def _resolve(self, names: list[str], now: datetime) -> list[StoredTag]:
        return await self.contacts.resolve_tags(names, MAX_TAGS_PER_OWNER, now)

    async def dismiss_duplicates(self, ids: Sequence[int]) -> None:
        """Say that these contacts are not one person: the group of exactly them is not
        offered again. `ContactNotFound` unless each is one of the owner's live contacts."""
        unique = sorted(set(ids))
        if len(unique) < 2:
            raise InvalidField("ids", "a group is two contacts or more", list(ids))
        missing = set(unique) - await self.contacts.live_ids(unique)
        if missing:
            raise ContactNotFound(f"No contact with the id {min(missing)} in your book.")
        await self.contacts.dismiss(",".join(str(i) for i in unique), self.now())

    async def new_calendar_token(self) -> str:
        """A new secret for the birthday feed; the previous one stops working."""
        token = secrets.token_urlsafe(32)
        await self.contacts.set_calendar_token(calendar_token_hash(token), self.now())
        return token

    async def revoke_calendar_token(self) -> None:
        """No secret opens the birthday feed any more."""
        await self.contacts.drop_calendar_token()
