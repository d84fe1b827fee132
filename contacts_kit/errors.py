"""The base of every contacts-kit error and the machine-readable codes they carry.

The errors themselves live with their domain (`contact/errors.py`, `auth/errors.py`, ...);
each carries its code, and the code its HTTP status and meaning: a new error is a code here
and its class there. `contacts_kit.http` turns them into JSON answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """Machine-readable `code` of every error body contacts-kit returns."""

    # Each code is (its value, the HTTP status it is answered with, what it means: the error
    # codes page shows both).
    __qualname__ = "ContactsKitErrorCode"  # its OpenAPI name: never a host's

    status: int
    meaning: str

    def __new__(cls, value: str, status: int, meaning: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.meaning = meaning
        return member

    EMAIL_ALREADY_REGISTERED = (
        "EMAIL_ALREADY_REGISTERED",
        409,
        "Signup with an email that has an account (in any "
        "letter case). Log in, or reset the password.",
    )
    INVALID_CREDENTIALS = (
        "INVALID_CREDENTIALS",
        401,
        "Wrong email or password (the answer does not say which).",
    )
    INVALID_TOKEN = (
        "INVALID_TOKEN",
        401,
        "The access or refresh token is malformed, expired, of the wrong "
        "kind, or revoked (logout, password change, reuse of a spent refresh token). Refresh, or "
        "log in again.",
    )
    NOT_AUTHENTICATED = (
        "NOT_AUTHENTICATED",
        401,
        "No `Authorization: Bearer <access_token>` header.",
    )
    EMAIL_NOT_VERIFIED = (
        "EMAIL_NOT_VERIFIED",
        403,
        "Login before the email is verified (when "
        "`CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL` is on). Open the emailed link, or ask for a new "
        "one.",
    )
    INVALID_VERIFICATION_TOKEN = (
        "INVALID_VERIFICATION_TOKEN",
        400,
        "The verification link is malformed or expired.",
    )
    INVALID_RESET_TOKEN = (
        "INVALID_RESET_TOKEN",
        400,
        "The reset link is malformed, expired or already used.",
    )
    SESSION_NOT_FOUND = (
        "SESSION_NOT_FOUND",
        404,
        "No live session with this id among yours: it ended already "
        "(logout, expiry, a replayed refresh token) or is another user's.",
    )
    MFA_REQUIRED = (
        "MFA_REQUIRED",
        403,
        "The account has two-factor authentication, which the OAuth2 "
        "password form cannot carry: log in with `POST /auth/login`, then `POST /auth/login/2fa`.",
    )
    INVALID_MFA_CODE = (
        "INVALID_MFA_CODE",
        401,
        "The authenticator code is wrong, expired or already used, or "
        "the recovery code is wrong or spent. Wait for the next code and retry.",
    )
    TOTP_ALREADY_ENABLED = (
        "TOTP_ALREADY_ENABLED",
        409,
        "Two-factor authentication is on already; turn it off first "
        "to enrol another authenticator.",
    )
    TOTP_NOT_STARTED = (
        "TOTP_NOT_STARTED",
        409,
        "No enrolment to confirm: start one with `POST /users/me/2fa/totp`.",
    )
    TOTP_NOT_ENABLED = (
        "TOTP_NOT_ENABLED",
        409,
        "Two-factor authentication is not on for this account.",
    )
    OAUTH_PROVIDER_NOT_FOUND = (
        "OAUTH_PROVIDER_NOT_FOUND",
        404,
        "No identity provider of this name in `CONTACTS_KIT_OAUTH_PROVIDERS`.",
    )
    OAUTH_REDIRECT_NOT_ALLOWED = (
        "OAUTH_REDIRECT_NOT_ALLOWED",
        400,
        "`redirect_to` is not under a URL of "
        "`CONTACTS_KIT_OAUTH_REDIRECT_ALLOWLIST` (same scheme, host and port, a path under it).",
    )
    OAUTH_FLOW_INVALID = (
        "OAUTH_FLOW_INVALID",
        400,
        "The provider's callback came without the cookie of a "
        "sign-in started in this browser, or after `CONTACTS_KIT_OAUTH_FLOW_TTL`: start again.",
    )
    INVALID_OAUTH_CODE = (
        "INVALID_OAUTH_CODE",
        400,
        "The `code` of `POST /auth/oauth/exchange` is unknown, older "
        "than `CONTACTS_KIT_OAUTH_CODE_TTL` or spent: sign in with the provider again.",
    )
    IDENTITY_NOT_FOUND = (
        "IDENTITY_NOT_FOUND",
        404,
        "No linked provider account with this id among yours.",
    )
    LAST_LOGIN_METHOD = (
        "LAST_LOGIN_METHOD",
        409,
        "The identity is the only way into the account: set a "
        "password (the reset email) or link another provider before unlinking it.",
    )
    PROVIDER_ALREADY_LINKED = (
        "PROVIDER_ALREADY_LINKED",
        409,
        "An account of this provider is linked to yours already; unlink it before linking another.",
    )
    OAUTH_PROVIDER_UNAVAILABLE = (
        "OAUTH_PROVIDER_UNAVAILABLE",
        502,
        "The identity provider did not answer (its discovery "
        "document, for one); nothing was changed. Try again later.",
    )
    CONTACT_NOT_FOUND = (
        "CONTACT_NOT_FOUND",
        404,
        "No contact with this id in your book (another user's contacts are not found either).",
    )
    CONTACT_EMAIL_EXISTS = (
        "CONTACT_EMAIL_EXISTS",
        409,
        "Another contact of yours has this email (in any letter case).",
    )
    PRECONDITION_FAILED = (
        "PRECONDITION_FAILED",
        412,
        "`If-Match` names an older version: someone changed the "
        "contact since you read it. Read it again, then retry; nothing was written.",
    )
    TAG_NOT_FOUND = (
        "TAG_NOT_FOUND",
        404,
        "No tag with this id among yours (another user's tags are not found either).",
    )
    MERGE_NOT_FOUND = (
        "MERGE_NOT_FOUND",
        404,
        "No merge with this id among yours (`GET /contacts/merges` lists them).",
    )
    MERGE_NOT_UNDOABLE = (
        "MERGE_NOT_UNDOABLE",
        409,
        "The merge was undone already, or a contact it merged away left the trash (restored "
        "or purged), or the merged contact is in the trash: restore it first.",
    )
    MERGE_CHANGED = (
        "MERGE_CHANGED",
        409,
        "The merged contact changed since the merge (the detail names the fields): undo "
        "with `?force=true` to keep those changes on it.",
    )
    WEBHOOK_NOT_FOUND = (
        "WEBHOOK_NOT_FOUND",
        404,
        "No webhook endpoint with this id among yours.",
    )
    DELIVERY_NOT_FOUND = (
        "DELIVERY_NOT_FOUND",
        404,
        "No message with this id for this webhook endpoint.",
    )
    WEBHOOK_LIMIT_REACHED = (
        "WEBHOOK_LIMIT_REACHED",
        409,
        "You have 20 webhook endpoints, the most an owner may have; delete one first.",
    )
    WEBHOOKS_NOT_CONFIGURED = (
        "WEBHOOKS_NOT_CONFIGURED",
        503,
        "The server has no key to keep webhook secrets with (`CONTACTS_KIT_WEBHOOK_SECRET_KEY` "
        "or `CONTACTS_KIT_JWT_SECRET`): ask its operator.",
    )
    CALENDAR_NOT_FOUND = (
        "CALENDAR_NOT_FOUND",
        404,
        "No birthday calendar feed has this secret: it was "
        "rotated or revoked. Ask for a new address with `POST /users/me/calendar-token`.",
    )
    IMPORT_UNREADABLE = (
        "IMPORT_UNREADABLE",
        415,
        "The file of an import is neither vCard nor CSV with a name "
        "column: send a .vcf or a .csv export of an address book.",
    )
    INVALID_SYNC_TOKEN = (
        "INVALID_SYNC_TOKEN",
        400,
        "`since` is not a token of `GET /contacts/changes`, or is "
        "another user's. Sync from the start, without `since`.",
    )
    SYNC_TOKEN_EXPIRED = (
        "SYNC_TOKEN_EXPIRED",
        410,
        "`since` is older than the deletions the server keeps "
        "(`CONTACTS_KIT_TOMBSTONE_RETENTION`): drop the local copy and sync from the start.",
    )
    TAG_EXISTS = (
        "TAG_EXISTS",
        409,
        "You have a tag with this name already, in some letter case: use it, "
        "or choose another name.",
    )
    TAG_LIMIT_REACHED = (
        "TAG_LIMIT_REACHED",
        409,
        "An address book has at most 200 tags; the write would create "
        "more. Delete unused tags (`GET /tags` shows each one's count) and retry; nothing was "
        "written.",
    )
    MALFORMED_REQUEST = (
        "MALFORMED_REQUEST",
        400,
        "The request cannot be read: a body that is not UTF-8 or not "
        "of its declared type, a malformed `If-Match` or `If-None-Match`, a `Content-Length` that "
        "is not a number.",
    )
    NOT_FOUND = (
        "NOT_FOUND",
        404,
        "No route at this path.",
    )
    METHOD_NOT_ALLOWED = (
        "METHOD_NOT_ALLOWED",
        405,
        "The path exists, not with this method; `Allow` lists those that do.",
    )
    HTTP_ERROR = (
        "HTTP_ERROR",
        400,
        "Any other HTTP error the framework raised; the status says which.",
    )
    RATE_LIMITED = (
        "RATE_LIMITED",
        429,
        "Too many requests for this limit; wait `Retry-After` seconds.",
    )
    RATE_LIMIT_UNAVAILABLE = (
        "RATE_LIMIT_UNAVAILABLE",
        503,
        "The rate-limit store (Redis) is down and "
        "`CONTACTS_KIT_RATE_LIMIT_FAIL_OPEN` is off; retry after `Retry-After` seconds.",
    )
    UNSUPPORTED_IMAGE = (
        "UNSUPPORTED_IMAGE",
        415,
        "The avatar is not a PNG, JPEG, WebP or GIF image that decodes.",
    )
    FILE_TOO_LARGE = (
        "FILE_TOO_LARGE",
        413,
        "The avatar is over `CONTACTS_KIT_AVATAR_MAX_BYTES`.",
    )
    BODY_TOO_LARGE = (
        "BODY_TOO_LARGE",
        413,
        "The body is over `CONTACTS_KIT_MAX_BODY_BYTES` (the avatar route has its own limit).",
    )
    STORAGE_FAILED = (
        "STORAGE_FAILED",
        502,
        "The file store (Cloudinary, the disk) failed, or this server keeps no contact "
        "photos (the detail says which); the previous avatar or photo is kept.",
    )
    SERVICE_UNAVAILABLE = (
        "SERVICE_UNAVAILABLE",
        503,
        "The database did not answer in time or refused; retry "
        "after `Retry-After` seconds. Nothing was half-written.",
    )
    DATABASE_NOT_MIGRATED = (
        "DATABASE_NOT_MIGRATED",
        503,
        "The database lacks contacts-kit's tables or columns: the "
        "operator has to run `contacts-kit migrate` (the log says so too).",
    )


ERROR_CODE_MEANINGS: dict[ErrorCode, str] = {code: code.meaning for code in ErrorCode}
"""What each error code means, for the docs."""
"""What each code means and what a client can do about it (the routes reference lists it)."""


class ContactsKitError(Exception):
    """Base of the domain errors: a `code`, and a `detail` meant for the API's client.

    A domain error knows nothing of HTTP; `contacts_kit.http` gives each code its status.
    """

    code: ClassVar[ErrorCode]
    message: ClassVar[str]
    retry_after: int | None = None
    """Seconds after which the same request may succeed, when the error says so."""

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or type(self).message
        super().__init__(self.detail)


class ConfigurationError(RuntimeError):
    """Settings or plugins that cannot work; raised at start-up, never during a request."""


class Unprocessable(ContactsKitError):
    """A body that is well-formed JSON but does not validate, found after FastAPI's own
    validation; answered as a 422 in the shape of FastAPI's validation errors."""

    code = ErrorCode.MALFORMED_REQUEST
    message = "The body is invalid."

    def errors(self) -> list[dict[str, Any]]:
        """The errors, as pydantic reports them, each `loc` starting at `"body"`."""
        raise NotImplementedError


class InvalidField(Unprocessable):
    """A field of the request's body that is well-formed but refused by a rule that needs the
    settings (a phone number of the configured region, for instance)."""

    message = "A field of the body is invalid."

    def __init__(self, field: str, detail: str, value: object) -> None:
        super().__init__(detail)
        self.field = field
        self.value = value

    def errors(self) -> list[dict[str, Any]]:
        """The one error, on `field`."""
        return [
            {
                "type": "value_error",
                "loc": ("body", self.field),
                "msg": self.detail,
                "input": self.value,
            }
        ]


class InvalidData(Unprocessable):
    """A part of the body that is validated on its own (the data of one operation of a batch)
    and does not validate."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__()
        self._errors = [dict(error, loc=("body", *error["loc"])) for error in errors]

    def errors(self) -> list[dict[str, Any]]:
        """pydantic's errors of the part."""
        return self._errors
