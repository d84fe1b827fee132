"""Domain exceptions, their error codes and the one handler that maps them to responses."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, ClassVar

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match


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
    STORAGE_FAILED = "STORAGE_FAILED"


class ErrorBody(BaseModel):
    """The JSON body of every contacts-kit error response."""

    detail: str
    code: ErrorCode


class ContactsKitError(HTTPException):
    """Base of the domain exceptions.

    It is an `HTTPException`, so a host app that did not install our handler still answers
    with the right status; `ContactsKit.install` adds the `code` field to the body.
    """

    http_status: ClassVar[int] = status.HTTP_400_BAD_REQUEST
    code: ClassVar[ErrorCode]
    message: ClassVar[str]

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(type(self).http_status, detail or type(self).message, headers)


class EmailAlreadyRegistered(ContactsKitError):
    """Signup with an email that already has an account."""

    http_status = status.HTTP_409_CONFLICT
    code = ErrorCode.EMAIL_ALREADY_REGISTERED
    message = "An account with this email already exists."


class InvalidCredentials(ContactsKitError):
    """Wrong email or password."""

    http_status = status.HTTP_401_UNAUTHORIZED
    code = ErrorCode.INVALID_CREDENTIALS
    message = "Incorrect email or password."


class InvalidToken(ContactsKitError):
    """A token that is missing, malformed, expired, revoked or of the wrong type."""

    http_status = status.HTTP_401_UNAUTHORIZED
    code = ErrorCode.INVALID_TOKEN
    message = "The token is invalid, expired or revoked."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer"})


class NotAuthenticated(ContactsKitError):
    """No bearer token on a route that needs one."""

    http_status = status.HTTP_401_UNAUTHORIZED
    code = ErrorCode.NOT_AUTHENTICATED
    message = "Not authenticated: send an access token as `Authorization: Bearer <token>`."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer"})


class EmailNotVerified(ContactsKitError):
    """Login refused until the email address is verified."""

    http_status = status.HTTP_403_FORBIDDEN
    code = ErrorCode.EMAIL_NOT_VERIFIED
    message = (
        "Verify your email address first: open the link we sent you, or ask for a new one "
        "with POST /auth/verify/resend."
    )


class InvalidVerificationToken(ContactsKitError):
    """A verification link that is malformed, expired or not for this account."""

    http_status = status.HTTP_400_BAD_REQUEST
    code = ErrorCode.INVALID_VERIFICATION_TOKEN
    message = "This verification link is invalid or has expired; ask for a new one."


class InvalidResetToken(ContactsKitError):
    """A password reset link that is malformed, expired or already used."""

    http_status = status.HTTP_400_BAD_REQUEST
    code = ErrorCode.INVALID_RESET_TOKEN
    message = "This password reset link is invalid, expired or already used; ask for a new one."


class ContactNotFound(ContactsKitError):
    """No contact with this id in the caller's address book."""

    http_status = status.HTTP_404_NOT_FOUND
    code = ErrorCode.CONTACT_NOT_FOUND
    message = "Contact not found."


class ContactEmailExists(ContactsKitError):
    """Another contact in the same address book has this email."""

    http_status = status.HTTP_409_CONFLICT
    code = ErrorCode.CONTACT_EMAIL_EXISTS
    message = "A contact with this email already exists in your address book."


class PreconditionFailed(ContactsKitError):
    """`If-Match` does not match the current version of the resource."""

    http_status = status.HTTP_412_PRECONDITION_FAILED
    code = ErrorCode.PRECONDITION_FAILED
    message = "The contact was changed by someone else; fetch it again and retry."


class UnsupportedImage(ContactsKitError):
    """An upload that is not a PNG, JPEG, WebP or GIF image."""

    http_status = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    code = ErrorCode.UNSUPPORTED_IMAGE
    message = "The file is not a PNG, JPEG, WebP or GIF image."


class FileTooLarge(ContactsKitError):
    """An upload over the size limit."""

    http_status = status.HTTP_413_CONTENT_TOO_LARGE
    code = ErrorCode.FILE_TOO_LARGE
    message = "The file is larger than allowed."


class StorageFailed(ContactsKitError):
    """The storage backend (Cloudinary, disk) refused or failed to keep the file."""

    http_status = status.HTTP_502_BAD_GATEWAY
    code = ErrorCode.STORAGE_FAILED
    message = "The avatar could not be stored; the previous one is kept. Try again later."


class ConfigurationError(RuntimeError):
    """Settings or plugins that cannot work; raised at start-up, never during a request."""


async def _handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ContactsKitError)
    body = ErrorBody(detail=str(exc.detail), code=exc.code)
    return JSONResponse(body.model_dump(mode="json"), exc.status_code, headers=exc.headers)


class _AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so any echoed input (even a lone surrogate) encodes."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


_SECRET_FIELDS = ("password", "token", "secret")


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    # Never echo a password or a token back (it would end up in proxies' and clients' logs).
    if any(secret in str(part) for part in error.get("loc", ()) for secret in _SECRET_FIELDS):
        error = {key: value for key, value in error.items() if key not in ("input", "ctx")}
    return error


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_safe_error(error) for error in exc.errors()]
    return _AsciiJSONResponse(
        {"detail": jsonable_encoder(errors)}, status.HTTP_422_UNPROCESSABLE_CONTENT
    )


_GENERIC_CODES = {
    status.HTTP_400_BAD_REQUEST: ErrorCode.MALFORMED_REQUEST,
    status.HTTP_404_NOT_FOUND: ErrorCode.NOT_FOUND,
    status.HTTP_405_METHOD_NOT_ALLOWED: ErrorCode.METHOD_NOT_ALLOWED,
}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.routes
        )
    ]
    return ", ".join(allowed)


def install_exception_handlers(app: FastAPI, prefix: str) -> None:
    """Answer errors under `prefix` with `{"detail": ..., "code": ...}` and their status, and
    validation errors without echoing secrets. The host app's other paths keep FastAPI's
    default error responses."""

    async def handle_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not request.url.path.startswith(prefix + "/"):
            return await http_exception_handler(request, exc)
        headers = dict(exc.headers or {})
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            headers["Allow"] = _allowed_methods(request)
        code = _GENERIC_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
        body = ErrorBody(detail=str(exc.detail), code=code)
        return JSONResponse(body.model_dump(mode="json"), exc.status_code, headers=headers)

    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(ContactsKitError, _handle_domain_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)


MALFORMED_BODY: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {
        "model": ErrorBody,
        "description": "The body could not be parsed (not UTF-8, or not the declared type).",
    }
}


def error_responses(*errors: type[ContactsKitError]) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` entries documenting the given errors of a route."""
    responses: dict[int | str, dict[str, object]] = {}
    for error in errors:
        entry = responses.setdefault(
            error.http_status, {"model": ErrorBody, "description": error.message}
        )
        if entry["description"] != error.message:
            entry["description"] = f"{entry['description']} / {error.message}"
    return responses
