"""The base of every contacts-kit error and the machine-readable codes they carry.

The errors themselves live with their domain (`contact/errors.py`, `auth/errors.py`, ...);
`contacts_kit.http` maps them to status codes and JSON bodies in one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Machine-readable `code` of every error body contacts-kit returns."""

    EMAIL_ALREADY_REGISTERED = "EMAIL_ALREADY_REGISTERED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    INVALID_VERIFICATION_TOKEN = "INVALID_VERIFICATION_TOKEN"
    INVALID_RESET_TOKEN = "INVALID_RESET_TOKEN"
    CONTACT_NOT_FOUND = "CONTACT_NOT_FOUND"
    CONTACT_EMAIL_EXISTS = "CONTACT_EMAIL_EXISTS"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    HTTP_ERROR = "HTTP_ERROR"
    RATE_LIMITED = "RATE_LIMITED"
    RATE_LIMIT_UNAVAILABLE = "RATE_LIMIT_UNAVAILABLE"
    UNSUPPORTED_IMAGE = "UNSUPPORTED_IMAGE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    STORAGE_FAILED = "STORAGE_FAILED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


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


class InvalidField(ContactsKitError):
    """A field of the request's body that is well-formed but refused by a rule that needs the
    settings (a phone number of the configured region, for instance). Answered as a 422 in
    the shape of FastAPI's validation errors."""

    code = ErrorCode.MALFORMED_REQUEST
    message = "A field of the body is invalid."

    def __init__(self, field: str, detail: str, value: object) -> None:
        super().__init__(detail)
        self.field = field
        self.value = value
