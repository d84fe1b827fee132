"""Request and response bodies of the contact routes."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import UploadFile
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from typing_extensions import TypedDict

from contacts_kit.fields import Normal, Printable, Visible, entity_tags, normal_email, not_null

# Today is later east of UTC: a birthday is "in the future" only once it is tomorrow everywhere.
_EARLIEST_OFFSET = timedelta(hours=14)


def _not_in_the_future(value: date) -> date:
    if value > (datetime.now(UTC) + _EARLIEST_OFFSET).date():
        raise ValueError("a birthday cannot be in the future")
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Printable,
    Visible,
    Normal,
]
ContactEmail = Annotated[EmailStr, AfterValidator(normal_email)]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=48),
    Printable,
    Field(
        description="Any common notation, an extension included (`+1 202 555 0143 ext. 12`); "
        "stored in E.164 with the extension as RFC 3966 writes it (`+12025550143;ext=12`)."
    ),
]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NO_YEAR_TEXT = re.compile(r"^--(\d{2})-?(\d{2})$")
NO_YEAR = 1604
"""The year a birthday without one is stored with (Apple Contacts' convention: a leap year,
so 29 February fits; vCard 3.0 writes it `X-APPLE-OMIT-YEAR=1604`)."""
_BIRTHDAY_FORMS = "a date written YYYY-MM-DD, or --MM-DD without the year"


def _iso_text(value: object) -> object:
    # Lax pydantic would read 0 as 1970-01-01 (a Unix timestamp) and a midnight datetime as
    # its date: only a date written YYYY-MM-DD (or --MM-DD) is a birthday (or anniversary).
    if isinstance(value, datetime) or not isinstance(value, str | date):
        raise ValueError(f"a birthday is {_BIRTHDAY_FORMS}")
    if isinstance(value, str):
        yearless = _NO_YEAR_TEXT.match(value)
        if yearless:
            month, day = int(yearless.group(1)), int(yearless.group(2))
            try:
                return date(NO_YEAR, month, day)
            except ValueError as exc:
                raise ValueError(f"--{month:02d}-{day:02d} is no day of the year") from exc
        if not _ISO_DATE.match(value):
            raise ValueError(f"a birthday is {_BIRTHDAY_FORMS}, without a time")
    return value


def birthday_text(value: date) -> str:
    """A birthday as the API writes it: `YYYY-MM-DD`, or `--MM-DD` without a year."""
    return f"--{value:%m-%d}" if value.year == NO_YEAR else value.isoformat()


Birthday = Annotated[
    date,
    BeforeValidator(_iso_text),
    AfterValidator(_not_in_the_future),
    Field(description="`YYYY-MM-DD`, or `--MM-DD` for a birthday without a year."),
]
BirthdayShown = Annotated[
    date,
    PlainSerializer(birthday_text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "`YYYY-MM-DD`, or `--MM-DD` for a birthday without a year.",
            "examples": ["1815-12-10", "--12-10"],
        },
        mode="serialization",
    ),
]
Anniversary = Annotated[
    date,
    BeforeValidator(_iso_text),
    Field(description="`YYYY-MM-DD`, or `--MM-DD` without the year (a wedding, a first day)."),
]
Notes = Annotated[str, StringConstraints(max_length=2000), Printable, Normal]
MAX_ENTRIES = 20
"""Emails, phones, addresses and URLs a contact may have, each."""
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    Printable,
    Visible,
    Normal,
    Field(description="`home`, `work`, `mobile`, `other`, or any text (at most 50 characters)."),
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Printable, Normal
]
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("a URL with its scheme (`https://example.com`), without spaces")
    return value


Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=2048),
    Printable,
    AfterValidator(_url),
]


class EmailEntry(BaseModel):
    """One email of a contact, with what it is for."""

    __qualname__ = "ContactsKitEmailEntry"  # its OpenAPI name: never a host's
    model_config = ConfigDict(extra="forbid")

    value: ContactEmail
    label: Label | None = None


class PhoneEntry(BaseModel):
    """One phone number of a contact, with what it is for."""

    __qualname__ = "ContactsKitPhoneEntry"  # its OpenAPI name: never a host's
    model_config = ConfigDict(extra="forbid")

    value: Phone
    label: Label | None = None


class UrlEntry(BaseModel):
    """One web address of a contact, with what it is for."""

    __qualname__ = "ContactsKitUrlEntry"  # its OpenAPI name: never a host's
    model_config = ConfigDict(extra="forbid")

    value: Url
    label: Label | None = None


ADDRESS_PARTS = ("street", "locality", "region", "postal_code", "country")


class AddressEntry(BaseModel):
    """One postal address of a contact (any part may be left out, not all of them)."""

    __qualname__ = "ContactsKitAddressEntry"  # its OpenAPI name: never a host's
    model_config = ConfigDict(extra="forbid")

    street: ShortText | None = Field(
        None, description="Street and number, lines joined by a newline."
    )
    locality: ShortText | None = Field(None, description="The city or town.")
    region: ShortText | None = Field(None, description="State, province or county.")
    postal_code: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30), Printable
        ]
        | None
    ) = None
    country: ShortText | None = None
    label: Label | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> AddressEntry:
        if all(getattr(self, part) is None for part in ADDRESS_PARTS):
            raise ValueError(f"an address needs at least one of {', '.join(ADDRESS_PARTS)}")
        return self


Emails = Annotated[
    list[EmailEntry],
    Field(
        max_length=MAX_ENTRIES,
        description="Every email of the contact (at most 20); the first is the primary, "
        "which `email` shows.",
    ),
]
Phones = Annotated[
    list[PhoneEntry],
    Field(
        max_length=MAX_ENTRIES,
        description="Every phone number (at most 20); the first is the primary, which "
        "`phone` shows.",
    ),
]
Addresses = Annotated[list[AddressEntry], Field(max_length=MAX_ENTRIES, description="At most 20.")]
Urls = Annotated[list[UrlEntry], Field(max_length=MAX_ENTRIES, description="At most 20.")]


class ContactsKitLabelled(TypedDict):
    """An email, phone or URL as stored and shown: `{"value", "label"}` (named for the
    OpenAPI document: never a host's)."""

    value: str
    label: str | None


class ContactsKitAddress(TypedDict):
    """An address as stored and shown (named for the OpenAPI document: never a host's)."""

    street: str | None
    locality: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    label: str | None


Labelled = ContactsKitLabelled
Address = ContactsKitAddress
CARD_LISTS = ("emails", "phones", "addresses", "urls")
_PRIMARY = {"email": "emails", "phone": "phones"}


def _both_sent(fields_set: set[str]) -> None:
    """A 422 that says which to use when a body sends a primary and its list."""
    for single, many in _PRIMARY.items():
        if {single, many} <= fields_set:
            raise ValueError(
                f"send `{many}` (every entry; the first is the primary) or `{single}` (the "
                f"primary alone), not both"
            )


def _no_repeated_email(emails: list[EmailEntry] | None) -> None:
    if emails:
        seen: set[str] = set()
        for entry in emails:
            if entry.value in seen:
                raise ValueError(f"{entry.value} is in emails twice")
            seen.add(entry.value)


MAX_TAGS_PER_CONTACT = 50
MAX_TAGS_PER_OWNER = 200
TagName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    Printable,
    Visible,
    Normal,
    Field(description="1 to 50 characters; names that differ only in letter case are one tag."),
]
Tags = Annotated[
    list[TagName],
    Field(
        max_length=MAX_TAGS_PER_CONTACT,
        description="The contact's tags by name (at most 50); a name you have no tag for "
        "creates one.",
    ),
]
Favorite = Annotated[
    bool,
    Strict(),
    Field(description="A favourite: `GET /contacts?favorite=true` lists them."),
]

_EXAMPLE: dict[str, Any] = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "emails": [
        {"value": "ada@example.com", "label": "home"},
        {"value": "ada@engines.example", "label": "work"},
    ],
    "phones": [{"value": "+44 20 7946 0958", "label": "mobile"}],
    "organization": "Analytical Engines Ltd",
    "birthday": "1815-12-10",
    "notes": "Met at the Analytical Engine meetup.",
    "tags": ["Family"],
}


NEEDS_A_WAY_TO_REACH = "a contact needs an email or a phone number (or both)"


class ContactCreate(BaseModel):
    """A new contact, or the full replacement of one (`PUT`): a first name and an email or a
    phone; every other field is optional."""

    __qualname__ = "ContactsKitContactCreate"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [_EXAMPLE],
            # An email or a phone (or both): not all missing, null or empty (`_reachable`). Said
            # with `not` rather than a top-level `anyOf`, which client generators turn into
            # anonymous types.
            "not": {
                "properties": {
                    "email": {"type": "null"},
                    "phone": {"type": "null"},
                    "emails": {"maxItems": 0},
                    "phones": {"maxItems": 0},
                }
            },
        }
    )

    first_name: Name
    last_name: Name | None = None
    email: ContactEmail | None = Field(None, description="The primary email (`emails[0]`).")
    phone: Phone | None = None
    emails: Emails = []
    phones: Phones = []
    addresses: Addresses = []
    urls: Urls = []
    nickname: Name | None = None
    organization: ShortText | None = None
    job_title: ShortText | None = None
    birthday: Birthday | None = None
    anniversary: Anniversary | None = None
    notes: Notes | None = None
    favorite: Favorite = False
    tags: Tags = []

    @model_validator(mode="after")
    def _reachable(self) -> ContactCreate:
        _both_sent(self.model_fields_set)
        _no_repeated_email(self.emails)
        # Set without marking them sent (`model_fields_set` says what the client sent).
        if "emails" in self.model_fields_set:
            object.__setattr__(self, "email", self.emails[0].value if self.emails else None)
        elif self.email is not None:
            object.__setattr__(self, "emails", [EmailEntry(value=self.email)])
        if "phones" in self.model_fields_set:
            object.__setattr__(self, "phone", self.phones[0].value if self.phones else None)
        elif self.phone is not None:
            object.__setattr__(self, "phones", [PhoneEntry(value=self.phone)])
        if self.email is None and self.phone is None:
            raise ValueError(NEEDS_A_WAY_TO_REACH)
        return self


CLEARABLE = frozenset(
    {
        "last_name",
        "email",
        "phone",
        "birthday",
        "notes",
        "nickname",
        "organization",
        "job_title",
        "anniversary",
    }
)
"""The fields `PATCH` may set to null: the optional ones."""


class ContactUpdate(BaseModel):
    """A partial change (`PATCH`): only the fields sent are changed; `null` clears an optional
    field, as long as an email or a phone stays. A list sent replaces the contact's; `email`
    or `phone` alone replaces the primary (the first entry) and keeps the others, and `null`
    removes the primary (the next entry becomes it)."""

    __qualname__ = "ContactsKitContactUpdate"  # its OpenAPI name: never a host's

    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": "+1 202 555 0143"}]})

    first_name: Name | None = Field(None, json_schema_extra=not_null)
    last_name: Name | None = None
    email: ContactEmail | None = None
    phone: Phone | None = None
    emails: Emails | None = Field(None, json_schema_extra=not_null)
    phones: Phones | None = Field(None, json_schema_extra=not_null)
    addresses: Addresses | None = Field(None, json_schema_extra=not_null)
    urls: Urls | None = Field(None, json_schema_extra=not_null)
    nickname: Name | None = None
    organization: ShortText | None = None
    job_title: ShortText | None = None
    birthday: Birthday | None = None
    anniversary: Anniversary | None = None
    notes: Notes | None = None
    favorite: Favorite | None = Field(None, json_schema_extra=not_null)
    tags: Tags | None = Field(None, json_schema_extra=not_null)

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> ContactUpdate:
        _both_sent(self.model_fields_set)
        _no_repeated_email(self.emails)
        nulled = [
            name
            for name in self.model_fields_set
            if name not in CLEARABLE and getattr(self, name) is None
        ]
        if nulled:
            raise ValueError(f"{', '.join(sorted(nulled))} cannot be null")
        return self


class ContactRead(BaseModel):
    """A contact as the API shows it."""

    __qualname__ = "ContactsKitContactRead"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                _EXAMPLE
                | {
                    "id": 42,
                    "email": "ada@example.com",
                    "phone": "+442079460958",
                    "phones": [{"value": "+442079460958", "label": "mobile"}],
                    "addresses": [],
                    "urls": [],
                    "nickname": None,
                    "job_title": None,
                    "anniversary": None,
                    "photo_url": None,
                    "favorite": False,
                    "created_at": "2026-01-01T12:00:00Z",
                    "updated_at": "2026-01-01T12:00:00Z",
                }
            ]
        },
    )

    id: int
    first_name: str
    last_name: str | None
    email: str | None = Field(description="The primary email: the first of `emails`.")
    phone: str | None = Field(description="The primary phone: the first of `phones`.")
    emails: list[Labelled]
    phones: list[Labelled]
    addresses: list[Address]
    urls: list[Labelled]
    nickname: str | None
    organization: str | None
    job_title: str | None
    birthday: BirthdayShown | None
    anniversary: BirthdayShown | None
    notes: str | None
    favorite: bool
    tags: list[str] = Field(description="The names of the contact's tags, sorted.")
    photo_url: str | None
    created_at: datetime
    updated_at: datetime


Occasion = Literal["birthday", "anniversary"]


class ContactBirthday(ContactRead):
    """A contact with the date of its next birthday or anniversary."""

    __qualname__ = "ContactsKitContactBirthday"  # its OpenAPI name: never a host's

    occasion: Occasion = Field(description="What `next_date` celebrates.")
    next_date: date = Field(description="The day of the next celebration.")
    next_birthday: date | None = Field(
        description="`next_date` when it is a birthday, else null (the field of earlier versions)."
    )


class TrashedContact(ContactRead):
    """A contact in the trash, with when it went there."""

    __qualname__ = "ContactsKitTrashedContact"  # its OpenAPI name: never a host's

    deleted_at: datetime
    merged_into: int | None = Field(
        description="The contact a merge folded this one into (undo the merge to bring it "
        "back as it was); null for a contact deleted."
    )


@dataclass(slots=True)
class ContactRecord:
    """A contact as the repository returns it, from either dialect and any statement: the
    fields of `ContactRead` plus the version behind its ETag, never shown in a body. Read
    it, do not change it (not frozen: a frozen dataclass costs six times as much to build,
    and a page builds a hundred)."""

    id: int
    first_name: str
    last_name: str | None
    email: str | None
    phone: str | None
    emails: list[Labelled]
    phones: list[Labelled]
    addresses: list[Address]
    urls: list[Labelled]
    nickname: str | None
    organization: str | None
    job_title: str | None
    birthday: BirthdayShown | None
    anniversary: BirthdayShown | None
    notes: str | None
    favorite: bool
    tags: list[str]
    photo_url: str | None
    version: Annotated[int, Field(exclude=True)]
    extra: Annotated[list[str], Field(exclude=True)]
    """The vCard properties the card has no field for (export and CardDAV write them)."""
    created_at: datetime
    updated_at: datetime


_RECORD_FIELDS = tuple(field.name for field in fields(ContactRecord))


@dataclass(slots=True)
class BirthdayRecord(ContactRecord):
    """A contact with the date of its next birthday or anniversary, serialized as
    `ContactBirthday`."""

    occasion: Occasion
    next_date: date
    next_birthday: date | None

    @classmethod
    def of(
        cls, record: ContactRecord, next_date: date, occasion: Occasion = "birthday"
    ) -> BirthdayRecord:
        """`record`, with the date of its next celebration."""
        values = {name: getattr(record, name) for name in _RECORD_FIELDS}
        birthday = next_date if occasion == "birthday" else None
        return cls(**values, occasion=occasion, next_date=next_date, next_birthday=birthday)


@dataclass(slots=True)
class TrashedRecord(ContactRecord):
    """A contact in the trash, serialized as `TrashedContact`."""

    deleted_at: datetime
    merged_into: int | None


CONTACT_JSON: TypeAdapter[ContactRecord] = TypeAdapter(ContactRecord)
"""Serializes a record exactly as `ContactRead` would, without validating it again."""
CONTACTS_JSON: TypeAdapter[list[ContactRecord]] = TypeAdapter(list[ContactRecord])
BIRTHDAYS_JSON: TypeAdapter[list[BirthdayRecord]] = TypeAdapter(list[BirthdayRecord])
TRASH_JSON: TypeAdapter[list[TrashedRecord]] = TypeAdapter(list[TrashedRecord])


class TagWrite(BaseModel):
    """A new tag, or a tag's new name."""

    __qualname__ = "ContactsKitTagWrite"  # its OpenAPI name: never a host's

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Family"}]})

    name: TagName


class TagRead(BaseModel):
    """A tag, with how many of your contacts (the trash aside) carry it."""

    __qualname__ = "ContactsKitTagRead"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": 7, "name": "Family", "contacts": 12, "created_at": "2026-01-01T12:00:00Z"}
            ]
        },
    )

    id: int
    name: str
    contacts: int
    created_at: datetime


TAGS_JSON: TypeAdapter[list[TagRead]] = TypeAdapter(list[TagRead])


@dataclass(slots=True)
class ChangesPage:
    """A page of the changes feed, serialized as `Changes`."""

    changed: list[ContactRecord]
    deleted: list[int]
    next: str
    has_more: bool


class Changes(BaseModel):
    """What changed in your address book since a token, in the order it was written."""

    __qualname__ = "ContactsKitChanges"  # its OpenAPI name: never a host's

    changed: list[ContactRead] = Field(
        description="Contacts created, changed or restored: store each as it is here."
    )
    deleted: list[int] = Field(
        description="Ids of contacts moved to the trash or deleted for good: drop them."
    )
    next: str = Field(description="The token to ask with next time (`since`).")
    has_more: bool = Field(description="More changes wait: ask again with `next` at once.")


CHANGES_JSON: TypeAdapter[ChangesPage] = TypeAdapter(ChangesPage)


MAX_BATCH = 100
"""Operations in one `POST /contacts/batch`."""

_MAX_ID = 2**63 - 1
BatchContactId = Annotated[int, Strict(), Field(ge=1, le=_MAX_ID, description="The contact's id.")]
BatchIfMatch = Annotated[
    str | None,
    Field(
        max_length=1024,
        description="The contact's ETag from a read: the operation happens only if it is "
        "still current (as the `If-Match` header of a single request).",
        json_schema_extra=entity_tags,
    ),
]


# The body an operation carries is any JSON object at the batch's level: it is checked per
# operation, as its single request's body would be (`ContactService._apply`), so one bad body
# fails its operation only (a 422 in its result), never the batch.
OperationBody = dict[str, Any]


class BatchCreate(BaseModel):
    """`create`, as `POST /contacts`."""

    __qualname__ = "ContactsKitBatchCreate"  # its OpenAPI name: never a host's

    model_config = ConfigDict(extra="forbid")

    op: Literal["create"]
    data: OperationBody = Field(
        description="The new contact, as the body of `POST /contacts` "
        "(`ContactsKitContactCreate`); checked as that body is, in this operation's result."
    )


class _Conditional(BaseModel):
    """An operation on a contact that exists: its id, and optionally the ETag it must have."""

    model_config = ConfigDict(extra="forbid")

    id: BatchContactId
    if_match: BatchIfMatch = None

    @field_validator("if_match", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Left out means "whatever its version"; null is not an entity tag.
        if value is None:
            raise ValueError("if_match is an ETag from a read, or left out; not null")
        return value


class BatchUpdate(_Conditional):
    """`update`, as `PATCH /contacts/{id}`."""

    __qualname__ = "ContactsKitBatchUpdate"  # its OpenAPI name: never a host's

    op: Literal["update"]
    data: OperationBody = Field(
        description="The fields to change, as the body of `PATCH /contacts/{id}` "
        "(`ContactsKitContactUpdate`); checked as that body is, in this operation's result."
    )


class BatchDelete(_Conditional):
    """`delete`, as `DELETE /contacts/{id}`."""

    __qualname__ = "ContactsKitBatchDelete"  # its OpenAPI name: never a host's

    op: Literal["delete"]
    permanent: Annotated[bool, Strict()] = Field(
        False, description="`true` deletes for good instead of moving to the trash."
    )


class BatchMerge(BaseModel):
    """`merge`, as `POST /contacts/merge`."""

    __qualname__ = "ContactsKitBatchMerge"  # its OpenAPI name: never a host's

    model_config = ConfigDict(extra="forbid")

    op: Literal["merge"]
    data: OperationBody = Field(
        description="The merge, as the body of `POST /contacts/merge` "
        "(`ContactsKitMergeContacts`); checked as that body is, in this operation's result."
    )


BatchOperation = Annotated[
    BatchCreate | BatchUpdate | BatchDelete | BatchMerge, Field(discriminator="op")
]
"""One operation of a batch: `create` (`data`), `update` (`id`, `data`, optionally `if_match`),
`delete` (`id`, optionally `if_match` and `permanent`) or `merge` (`data`)."""


class BatchRequest(BaseModel):
    """Up to 100 operations, applied in order."""

    __qualname__ = "ContactsKitBatchRequest"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "operations": [
                        {"op": "create", "data": {"first_name": "Ada", "email": "ada@example.com"}},
                        {
                            "op": "update",
                            "id": 42,
                            "if_match": '"42-3"',
                            "data": {"favorite": True},
                        },
                        {"op": "delete", "id": 7},
                    ]
                }
            ]
        },
    )

    operations: list[BatchOperation] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResult(BaseModel):
    """What one operation did: the status and body its single request would have answered."""

    __qualname__ = "ContactsKitBatchResult"  # its OpenAPI name: never a host's

    status: int = Field(description="201 created, 200 updated, 204 deleted, or the error's.")
    contact: ContactRead | None = Field(
        None, description="The contact as it is now, after a create or an update."
    )
    etag: str | None = Field(None, description="The contact's ETag, after a create or an update.")
    merge_id: int | None = Field(None, description="The merge's id, after a merge (its undo).")
    error: dict[str, Any] | None = Field(
        None,
        description="The error's body, as the single request would have answered it "
        '(`{"detail", "code"}`, or a 422\'s list of errors).',
    )


class BatchResults(BaseModel):
    """One result per operation, in the order of the operations."""

    __qualname__ = "ContactsKitBatchResults"  # its OpenAPI name: never a host's

    results: list[BatchResult]


class BatchFailure(BaseModel):
    """An atomic batch that wrote nothing: the operation that failed and its error."""

    __qualname__ = "ContactsKitBatchFailure"  # its OpenAPI name: never a host's

    detail: str
    code: str
    index: int = Field(description="The failing operation's position, from 0.")
    error: dict[str, Any] = Field(description="Its error, as in a `BatchResult`.")


class ImportedRecord(BaseModel):
    """What became of one card or row of an import."""

    __qualname__ = "ContactsKitImportedRecord"  # its OpenAPI name: never a host's

    line: int = Field(description="The line the card or row starts on (1 is the first).")
    outcome: Literal["created", "updated", "merged", "skipped", "invalid"]
    id: int | None = Field(
        None,
        description="The contact created, updated or merged into, or the one whose email it has.",
    )
    merge_id: int | None = Field(
        None, description="The merge of a `merged` record (`on_conflict=merge`): its undo."
    )
    errors: list[str] = Field(description="Why an invalid record was left out.")


class ImportReport(BaseModel):
    """The outcome of an import (of what it would do, with `dry_run`), record by record."""

    __qualname__ = "ContactsKitImportReport"  # its OpenAPI name: never a host's

    dry_run: bool
    created: int
    updated: int
    merged: int
    skipped: int
    invalid: int
    records: list[ImportedRecord]


DuplicateReason = Literal["email", "phone", "name", "birthday", "organization"]


class DuplicateGroup(BaseModel):
    """Contacts that are likely one person."""

    __qualname__ = "ContactsKitDuplicateGroup"  # its OpenAPI name: never a host's

    ids: list[int] = Field(description="The contacts' ids, ascending.")
    score: float = Field(description="How sure: 0.75 (alike names) to 0.99 (one mailbox).")
    reasons: list[DuplicateReason] = Field(
        description="What they share: one mailbox (`email`), one phone number with names "
        "that agree (`phone`), alike names (`name`, across scripts and spellings), the same "
        "birthday, the same organisation."
    )


class Duplicates(BaseModel):
    """A page of likely duplicates, the surest first."""

    __qualname__ = "ContactsKitDuplicates"  # its OpenAPI name: never a host's

    groups: list[DuplicateGroup]
    next: str | None = Field(description="The `cursor` of the next page; null on the last.")


class DismissDuplicates(BaseModel):
    """A group that is not one person: it is not offered again (a group with another contact
    in it is a new group)."""

    __qualname__ = "ContactsKitDismissDuplicates"  # its OpenAPI name: never a host's

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ids": [7, 42]}]})

    ids: list[BatchContactId] = Field(min_length=2, max_length=MAX_BATCH)


class PhotoUpload(BaseModel):
    """Body of a contact photo upload (multipart): one image file."""

    __qualname__ = "ContactsKitPhotoUpload"  # its OpenAPI name: never a host's

    file: UploadFile = Field(
        description="PNG, JPEG, WebP or GIF image.", json_schema_extra={"format": "binary"}
    )


class CalendarFeed(BaseModel):
    """The address of your birthday calendar: subscribe to it in a calendar app."""

    __qualname__ = "ContactsKitCalendarFeed"  # its OpenAPI name: never a host's

    url: str = Field(
        description="Secret: anyone with it reads your contacts' names and birthdays. Rotate "
        "it with `POST` again, revoke it with `DELETE`."
    )


MAX_MERGE = 20
"""Contacts one merge folds into one."""

MergeField = Literal[
    "first_name",
    "last_name",
    "nickname",
    "organization",
    "job_title",
    "birthday",
    "anniversary",
    "notes",
    "email",
    "phone",
    "photo",
]
"""What `fields` of a merge may take from a contact other than the primary."""


class MergeContacts(BaseModel):
    """Contacts that are one person, folded into one (the primary)."""

    __qualname__ = "ContactsKitMergeContacts"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"ids": [7, 42], "primary": 7, "fields": {"birthday": 42}}]
        },
    )

    ids: list[BatchContactId] = Field(
        min_length=2, max_length=MAX_MERGE, description="The contacts, each once: 2 to 20."
    )
    primary: BatchContactId | None = Field(
        None,
        description="The contact that stays (one of `ids`; the first when left out). The "
        "others go to the trash, marked as merged into it.",
        json_schema_extra=not_null,
    )
    fields: dict[MergeField, BatchContactId] = Field(
        default_factory=dict,
        description="Which contact (one of `ids`) a field comes from, where not the "
        "primary: `email` and `phone` choose the primary entry of the merged lists, `notes` "
        "one contact's notes instead of all of them joined, `photo` the photo.",
    )

    @model_validator(mode="after")
    def _of_the_group(self) -> MergeContacts:
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("each contact once: an id is listed twice")
        if self.primary is not None and self.primary not in self.ids:
            raise ValueError("primary is one of ids")
        strangers = sorted({name for name, chosen in self.fields.items() if chosen not in self.ids})
        if strangers:
            raise ValueError(f"fields take from one of ids: {', '.join(strangers)} do not")
        return self

    @property
    def primary_id(self) -> int:
        """The contact that stays."""
        return self.ids[0] if self.primary is None else self.primary

    @property
    def chosen(self) -> dict[str, int]:
        """`fields`, by field name."""
        return {name: contact_id for name, contact_id in self.fields.items()}


class MergeResult(BaseModel):
    """The merged contact, and the merge's id for its undo."""

    __qualname__ = "ContactsKitMergeResult"  # its OpenAPI name: never a host's

    contact: ContactRead
    merge_id: int = Field(description="`POST /contacts/merges/{merge_id}/undo` undoes it.")


class MergeRead(BaseModel):
    """A merge, as `GET /contacts/merges` lists it."""

    __qualname__ = "ContactsKitMergeRead"  # its OpenAPI name: never a host's

    id: int
    contact_id: int = Field(description="The merged contact (the primary).")
    merged_ids: list[int] = Field(description="The contacts merged into it.")
    source: Literal["merge", "import"] = Field(
        description="`import`: an imported card was merged in (`on_conflict=merge`); its "
        "undo puts the contact back as it was before the import and leaves the card in the "
        "trash."
    )
    created_at: datetime
    undone_at: datetime | None
    undoable: bool = Field(
        description="Not undone, and the contacts merged away still wait in the trash (the "
        "undo also needs the merged contact in the book)."
    )


class Merges(BaseModel):
    """A page of merges, the newest first."""

    __qualname__ = "ContactsKitMerges"  # its OpenAPI name: never a host's

    items: list[MergeRead]
    next: str | None = Field(description="The `cursor` of the next page; null on the last.")


class UndoneMerge(BaseModel):
    """The contacts as the undo left them."""

    __qualname__ = "ContactsKitUndoneMerge"  # its OpenAPI name: never a host's

    contact: ContactRead = Field(description="The primary, with its fields as before.")
    restored: list[ContactRead] = Field(
        description="The contacts merged away, back from the trash with their ids (none "
        "for an import's merge)."
    )
