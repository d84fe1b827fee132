"""Request and response bodies of the contact routes."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

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
    # its date: only a date written YYYY-MM-DD (or --MM-DD) is a birthday.
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
Notes = Annotated[str, StringConstraints(max_length=2000), Printable, Normal]
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
    "email": "ada@example.com",
    "phone": "+44 20 7946 0958",
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
            # An email or a phone (or both): not both missing or null (`_reachable`). Said
            # with `not` rather than a top-level `anyOf`, which client generators turn into
            # anonymous types.
            "not": {"properties": {"email": {"type": "null"}, "phone": {"type": "null"}}},
        }
    )

    first_name: Name
    last_name: Name | None = None
    email: ContactEmail | None = None
    phone: Phone | None = None
    birthday: Birthday | None = None
    notes: Notes | None = None
    favorite: Favorite = False
    tags: Tags = []

    @model_validator(mode="after")
    def _reachable(self) -> ContactCreate:
        if self.email is None and self.phone is None:
            raise ValueError(NEEDS_A_WAY_TO_REACH)
        return self


CLEARABLE = frozenset({"last_name", "email", "phone", "birthday", "notes"})
"""The fields `PATCH` may set to null: the optional ones."""


class ContactUpdate(BaseModel):
    """A partial change (`PATCH`): only the fields sent are changed; `null` clears an optional
    field (last name, email, phone, birthday, notes), as long as an email or a phone stays."""

    __qualname__ = "ContactsKitContactUpdate"  # its OpenAPI name: never a host's

    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": "+1 202 555 0143"}]})

    first_name: Name | None = Field(None, json_schema_extra=not_null)
    last_name: Name | None = None
    email: ContactEmail | None = None
    phone: Phone | None = None
    birthday: Birthday | None = None
    notes: Notes | None = None
    favorite: Favorite | None = Field(None, json_schema_extra=not_null)
    tags: Tags | None = Field(None, json_schema_extra=not_null)

    @model_validator(mode="after")
    def _required_fields_are_not_null(self) -> ContactUpdate:
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
                    "phone": "+442079460958",
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
    email: str | None
    phone: str | None
    birthday: BirthdayShown | None
    notes: str | None
    favorite: bool
    tags: list[str] = Field(description="The names of the contact's tags, sorted.")
    created_at: datetime
    updated_at: datetime


class ContactBirthday(ContactRead):
    """A contact with the date of its next birthday."""

    __qualname__ = "ContactsKitContactBirthday"  # its OpenAPI name: never a host's

    next_birthday: date


class TrashedContact(ContactRead):
    """A contact in the trash, with when it went there."""

    __qualname__ = "ContactsKitTrashedContact"  # its OpenAPI name: never a host's

    deleted_at: datetime


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
    birthday: BirthdayShown | None
    notes: str | None
    favorite: bool
    tags: list[str]
    version: Annotated[int, Field(exclude=True)]
    created_at: datetime
    updated_at: datetime


_RECORD_FIELDS = tuple(field.name for field in fields(ContactRecord))


@dataclass(slots=True)
class BirthdayRecord(ContactRecord):
    """A contact with the date of its next birthday, serialized as `ContactBirthday`."""

    next_birthday: date

    @classmethod
    def of(cls, record: ContactRecord, next_birthday: date) -> BirthdayRecord:
        """`record`, with the date of its next birthday."""
        values = {name: getattr(record, name) for name in _RECORD_FIELDS}
        return cls(**values, next_birthday=next_birthday)


@dataclass(slots=True)
class TrashedRecord(ContactRecord):
    """A contact in the trash, serialized as `TrashedContact`."""

    deleted_at: datetime


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


BatchOperation = Annotated[BatchCreate | BatchUpdate | BatchDelete, Field(discriminator="op")]
"""One operation of a batch: `create` (`data`), `update` (`id`, `data`, optionally `if_match`)
or `delete` (`id`, optionally `if_match` and `permanent`)."""


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
    outcome: Literal["created", "updated", "skipped", "invalid"]
    id: int | None = Field(
        None, description="The contact created or updated, or the one whose email it has."
    )
    errors: list[str] = Field(description="Why an invalid record was left out.")


class ImportReport(BaseModel):
    """The outcome of an import (of what it would do, with `dry_run`), record by record."""

    __qualname__ = "ContactsKitImportReport"  # its OpenAPI name: never a host's

    dry_run: bool
    created: int
    updated: int
    skipped: int
    invalid: int
    records: list[ImportedRecord]


class CalendarFeed(BaseModel):
    """The address of your birthday calendar: subscribe to it in a calendar app."""

    __qualname__ = "ContactsKitCalendarFeed"  # its OpenAPI name: never a host's

    url: str = Field(
        description="Secret: anyone with it reads your contacts' names and birthdays. Rotate "
        "it with `POST` again, revoke it with `DELETE`."
    )
