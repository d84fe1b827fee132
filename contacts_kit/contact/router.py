"""Router of the address book: `/contacts`."""

from typing import TYPE_CHECKING, Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    Header,
    Path,
    Query,
    Request,
    Response,
    status,
)
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import Convertor, register_url_convertor

from contacts_kit.auth.schemas import AuthenticatedUser
from contacts_kit.contact.repository import ContactFilters
from contacts_kit.contact.schemas import (
    ContactBirthday,
    ContactCreate,
    ContactRead,
    ContactUpdate,
    row_serializer,
)
from contacts_kit.contact.service import ContactService, etag
from contacts_kit.errors import (
    MALFORMED_BODY,
    ContactEmailExists,
    ContactNotFound,
    InvalidToken,
    NotAuthenticated,
    PreconditionFailed,
    error_responses,
)
from contacts_kit.fields import CleanStr
from contacts_kit.ratelimit import RateLimited
from contacts_kit.routing import Routes

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit

MAX_ID = 2**63 - 1


class _ContactIdConvertor(Convertor[str]):
    """Any path segment but `birthdays`: so `PUT /contacts/birthdays` is a 405 of the
    birthdays route rather than a bad contact id, while `/contacts/abc` stays a 422."""

    regex = "(?!birthdays$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


register_url_convertor("contact_id", _ContactIdConvertor())
MAX_OFFSET = 1_000_000_000

ContactId = Annotated[int, Path(ge=1, le=MAX_ID, description="The contact's id.")]
IfMatch = Annotated[
    str | None,
    Header(
        description="ETag from a previous read; the write happens only if it is still current.",
        max_length=1024,
    ),
]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
NameQuery = Annotated[CleanStr | None, Query(max_length=100)]
EmailQuery = Annotated[CleanStr | None, Query(max_length=320)]

_AUTH_ERRORS = (NotAuthenticated, InvalidToken, RateLimited)
# Reads serialize database rows straight to JSON (see `row_serializer`).
_CONTACT_ROW = row_serializer(ContactRead)
_CONTACT_ROWS = row_serializer(ContactRead, many=True)
_BIRTHDAY_ROWS = row_serializer(ContactBirthday, many=True)


def _json(body: bytes, headers: dict[str, str] | None = None) -> Response:
    """A JSON response from bytes pydantic already serialized (no second validation pass)."""
    return Response(body, media_type="application/json", headers=headers)


def get_contacts_router(kit: "ContactsKit", routes: Routes | None = None) -> APIRouter:
    """CRUD, search and upcoming birthdays of the current user's contacts."""
    router = (routes or Routes()).within(responses=MALFORMED_BODY)
    SessionDep = Annotated[AsyncSession, Depends(kit.session, scope="function")]
    CurrentUser = Annotated[AuthenticatedUser, Depends(kit.current_user)]

    # Each write depends on one of these: it counts the request against the caller's limit
    # (after authentication: the limits are per user) and hands over the service.
    async def creator(
        request: Request, response: Response, session: SessionDep, user: CurrentUser
    ) -> ContactService:
        await kit.rate_limits.contact_create(request, response)
        return ContactService(kit, user.id, session)

    async def writer(
        request: Request, response: Response, session: SessionDep, user: CurrentUser
    ) -> ContactService:
        await kit.rate_limits.contacts(request, response)
        return ContactService(kit, user.id, session)

    async def reader(request: Request, user: AuthenticatedUser) -> ContactService:
        # Reads are one SELECT: no request transaction, no session. Called by the read routes
        # themselves rather than solved as a dependency: on a read that cheap, one more level
        # of FastAPI's dependency solving is a measurable share of the request
        # (docs/benchmarks.md).
        await kit.rate_limits.contacts.hit(request)
        return ContactService(kit, user.id)

    ContactsCreator = Annotated[ContactService, Depends(creator)]
    Contacts = Annotated[ContactService, Depends(writer)]

    # The reads are declared first: FastAPI tries the routes in order, and they are the busy ones.
    @router.read(
        "",
        name="contacts:list",
        response_model=list[ContactRead],
        responses=error_responses(*_AUTH_ERRORS),
    )
    async def list_contacts(
        request: Request,
        user: CurrentUser,
        q: Annotated[
            CleanStr | None,
            Query(max_length=320, description="Substring of first name, last name or email."),
        ] = None,
        first_name: NameQuery = None,
        last_name: NameQuery = None,
        email: EmailQuery = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Response:
        """Your contacts by last name, first name, id; filters are case-insensitive substrings
        (`%` and `_` match themselves) and combine with AND."""
        contacts = await reader(request, user)
        filters = ContactFilters(q=q, first_name=first_name, last_name=last_name, email=email)
        rows = await contacts.search(filters, limit, offset)
        return _json(_CONTACT_ROWS.dump_json([dict(row) for row in rows]))

    @router.read(
        "/{contact_id:contact_id}",
        name="contacts:get",
        response_model=ContactRead,
        responses=error_responses(*_AUTH_ERRORS, ContactNotFound),
    )
    async def get_contact(contact_id: ContactId, request: Request, user: CurrentUser) -> Response:
        """One contact, with its `ETag`."""
        contacts = await reader(request, user)
        row = await contacts.get(contact_id)
        return _json(_CONTACT_ROW.dump_json(dict(row)), {"ETag": etag(row["version"])})

    @router.read(
        "/birthdays",
        name="contacts:birthdays",
        response_model=list[ContactBirthday],
        responses=error_responses(*_AUTH_ERRORS),
    )
    async def upcoming_birthdays(
        request: Request,
        user: CurrentUser,
        days: Annotated[
            int, Query(ge=0, le=366, description="Window length: today through today + days.")
        ] = 7,
        limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
        offset: Offset = 0,
    ) -> Response:
        """Contacts whose next birthday falls from today through today + `days`, soonest
        first. 29 February is celebrated on 28 February in non-leap years."""
        contacts = await reader(request, user)
        return _json(
            _BIRTHDAY_ROWS.dump_json(await contacts.upcoming_birthdays(days, limit, offset))
        )

    @router.post(
        "",
        name="contacts:create",
        status_code=status.HTTP_201_CREATED,
        response_model=ContactRead,
        responses=error_responses(*_AUTH_ERRORS, ContactEmailExists),
    )
    async def create_contact(
        body: ContactCreate,
        contacts: ContactsCreator,
        user: CurrentUser,
        request: Request,
        response: Response,
        background: BackgroundTasks,
    ) -> ContactRead:
        """Add a contact. Its email must be new in your address book."""
        row = await contacts.create(body)
        contact = ContactRead.model_validate(row)
        response.headers["Location"] = str(request.url_for("contacts:get", contact_id=contact.id))
        response.headers["ETag"] = etag(row.version)
        background.add_task(
            kit.emit, "on_contact_created", contact=contact, owner_id=user.id, settings=kit.settings
        )
        return contact

    @router.put(
        "/{contact_id:contact_id}",
        name="contacts:replace",
        response_model=ContactRead,
        responses=error_responses(
            *_AUTH_ERRORS, ContactNotFound, ContactEmailExists, PreconditionFailed
        ),
    )
    async def replace_contact(
        contact_id: ContactId,
        body: ContactCreate,
        contacts: Contacts,
        response: Response,
        if_match: IfMatch = None,
    ) -> ContactRead:
        """Replace every field. With `If-Match`, only if nobody changed the contact since."""
        contact = await contacts.replace(contact_id, body, if_match)
        response.headers["ETag"] = etag(contact.version)
        return ContactRead.model_validate(contact)

    @router.patch(
        "/{contact_id:contact_id}",
        name="contacts:update",
        response_model=ContactRead,
        responses=error_responses(
            *_AUTH_ERRORS, ContactNotFound, ContactEmailExists, PreconditionFailed
        ),
    )
    async def update_contact(
        contact_id: ContactId,
        body: ContactUpdate,
        contacts: Contacts,
        response: Response,
        if_match: IfMatch = None,
    ) -> ContactRead:
        """Change the fields sent. With `If-Match`, only if nobody changed the contact since."""
        contact = await contacts.patch(contact_id, body, if_match)
        response.headers["ETag"] = etag(contact.version)
        return ContactRead.model_validate(contact)

    @router.delete(
        "/{contact_id:contact_id}",
        name="contacts:delete",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(*_AUTH_ERRORS, ContactNotFound, PreconditionFailed),
    )
    async def delete_contact(
        contact_id: ContactId, contacts: Contacts, if_match: IfMatch = None
    ) -> None:
        """Delete a contact."""
        await contacts.delete(contact_id, if_match)

    return router.router
