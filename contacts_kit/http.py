"""Errors as HTTP: every error code's status, the JSON body, and the route class that answers
the kit's own errors on the kit's own routes.

The kit installs no exception handler on a host's app. Its routes are `KitRoute`s, which wrap
the handler FastAPI builds (`APIRoute.get_route_handler`, the documented extension point) and
turn the kit's errors, its routes' validation errors and an oversized body into responses.
A host's own route class can be combined with it (`kit_route_class`); the host's handlers
keep answering everything else. Only `create_app`, which owns its app, adds app-wide handlers
(`install_app_handlers`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, NoMatchFound, compile_path
from starlette.types import Message, Receive

from contacts_kit.db.engine import (
    counting_statements,
    database_unavailable,
    lost_connection,
    missing_schema,
)
from contacts_kit.errors import ContactsKitError, ErrorCode, Unprocessable

logger = logging.getLogger("contacts_kit.http")

STATUS: dict[ErrorCode, int] = {code: code.status for code in ErrorCode}
"""The status of every error code."""

# Every 401 names the scheme that would work (RFC 9110, 15.5.2).
_BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
DATABASE_RETRY_AFTER = 5
"""Seconds a client is told to wait when the database is out (`Retry-After`)."""

# Errors whose fix is another route of the kit: the hint names it where it is mounted.
_HINTS: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.EMAIL_NOT_VERIFIED: ("POST", "auth:verify_resend"),
}


class ErrorBody(BaseModel):
    """The JSON body of every contacts-kit error response."""

    __qualname__ = "ContactsKitErrorBody"  # its OpenAPI name: never a host's

    detail: str
    code: ErrorCode


def status_of(error: ContactsKitError | type[ContactsKitError]) -> int:
    """The HTTP status of a domain error."""
    return STATUS[error.code]


def _headers(error: ContactsKitError) -> dict[str, str]:
    unauthorized = STATUS[error.code] == status.HTTP_401_UNAUTHORIZED
    headers = dict(_BEARER_CHALLENGE) if unauthorized else {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return headers


def _detail(request: Request | None, error: ContactsKitError) -> str:
    hint = _HINTS.get(error.code)
    if hint is None or request is None:
        return error.detail
    method, route_name = hint
    try:
        path = request.url_for(route_name).path
    except NoMatchFound:
        return error.detail  # the host did not mount that route
    return f"{error.detail} ({method} {path})"


def error_content(request: Request | None, error: ContactsKitError) -> tuple[int, Any]:
    """The status and the JSON body of a domain error's answer: `{"detail", "code"}`, or,
    for an `Unprocessable` body, a 422 like any other validation error."""
    if isinstance(error, Unprocessable):
        return status.HTTP_422_UNPROCESSABLE_CONTENT, validation_content(error.errors())
    body = ErrorBody(detail=_detail(request, error), code=error.code)
    return status_of(error), body.model_dump(mode="json")


def error_response(request: Request | None, error: ContactsKitError) -> JSONResponse:
    """The response of a domain error: its status, its body and its headers."""
    status_code, content = error_content(request, error)
    return _AsciiJSONResponse(content, status_code, headers=_headers(error))


def method_not_allowed(*allowed: str) -> JSONResponse:
    """The kit's 405, naming the methods its route serves."""
    body = ErrorBody(detail="Method Not Allowed", code=ErrorCode.METHOD_NOT_ALLOWED)
    return JSONResponse(
        body.model_dump(mode="json"),
        status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": ", ".join(allowed)},
    )


class DatabaseUnavailable(ContactsKitError):
    """The database refused, dropped or did not answer the request's statements in time."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    message = "The database is unavailable; try again shortly."
    retry_after = DATABASE_RETRY_AFTER


class DatabaseNotMigrated(ContactsKitError):
    """The database has no contacts-kit tables, or older ones: nobody ran the migrations."""

    code = ErrorCode.DATABASE_NOT_MIGRATED
    message = "The database is not migrated: run `contacts-kit migrate`."


class Answered(Exception):
    """An error a route has turned into its own answer (an atomic batch's failure), raised
    rather than returned: every dependency with `yield` around the endpoint sees a failure,
    so the request's transaction rolls back (a host's own session dependency too), and the
    kit's route class answers with `response`."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class KitHTTPException(HTTPException):
    """A domain error raised where FastAPI, not a kit route, answers it: the current-user
    dependency on a host's own route. The host's handlers see an ordinary `HTTPException`
    with the right status and headers; a kit route still answers it with its `code`."""

    def __init__(self, error: ContactsKitError) -> None:
        super().__init__(status_of(error), error.detail, _headers(error) or None)
        self.error = error


class _AsciiJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped, so any echoed input (even a lone surrogate) encodes."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, separators=(",", ":"), allow_nan=False
        ).encode()


_SECRET_FIELDS = ("password", "token", "secret")


ECHO_LIMIT = 100
"""Characters of a refused value echoed back in a 422."""


def _echo(value: Any) -> Any:
    """A refused value as a 422 may show it: valid JSON (no NaN or Infinity), and short (a
    1 MB field is not sent back whole)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= ECHO_LIMIT else value[:ECHO_LIMIT] + "..."
    if isinstance(value, dict | list | tuple):
        try:
            shown = json.dumps(jsonable_encoder(value), allow_nan=False)
        except (TypeError, ValueError):
            shown = None
        if shown is None or len(shown) > ECHO_LIMIT:
            return f"<{type(value).__name__} of {len(value)} items, not shown>"
        return value
    return value


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    # Never echo a password or a token back (it would end up in proxies' and clients' logs).
    if any(secret in str(part) for part in error.get("loc", ()) for secret in _SECRET_FIELDS):
        return {key: value for key, value in error.items() if key not in ("input", "ctx")}
    error = dict(error)
    if "input" in error:
        error["input"] = _echo(error["input"])
    if isinstance(error.get("ctx"), dict):
        error["ctx"] = {key: _echo(value) for key, value in error["ctx"].items()}
    return error


def validation_response(exc: RequestValidationError) -> JSONResponse:
    """The 422 of a request that does not validate, without echoing secrets or long values.
    A body that is not JSON where JSON is expected says so."""
    return _AsciiJSONResponse(
        validation_content(exc.errors()), status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def validation_content(errors: Sequence[Any]) -> dict[str, Any]:
    """The body of a 422: pydantic's errors, without secrets or long values."""
    safe = [_safe_error(error) for error in errors]
    for error in safe:
        if error.get("type") == "model_attributes_type" and error.get("loc") == ("body",):
            error["msg"] = "The body must be a JSON object (send `Content-Type: application/json`)."
    return {"detail": jsonable_encoder(safe)}


def _too_large(limit: int | None) -> JSONResponse:
    detail = f"The body is larger than {limit} bytes." if limit else "The body is too large."
    body = ErrorBody(detail=detail, code=ErrorCode.BODY_TOO_LARGE)
    return JSONResponse(
        body.model_dump(mode="json"),
        status.HTTP_413_CONTENT_TOO_LARGE,
        headers={"Connection": "close"},
    )


def _replayable(request: Request) -> bool:
    # A multipart body was streamed into files that FastAPI closes after the first attempt.
    return not request.headers.get("content-type", "").lower().startswith("multipart/")


Handler = Callable[[Request], Coroutine[Any, Any, Response]]

_ATTEMPT = "contacts_kit.attempt"
_FAILED_ATTEMPTS = "contacts_kit.failed_attempts"


def failed_attempt(request: Request) -> Callable[[], bool]:
    """Whether the attempt now running on `request` ends in an error response. A kit route
    turns its errors into responses inside FastAPI's handler, so a dependency with `yield`
    that exits after it (the request's transaction) asks this instead of seeing the error."""
    attempt = request.scope.get(_ATTEMPT, 0)
    return lambda: attempt in request.scope.get(_FAILED_ATTEMPTS, ())


def _fail(request: Request, attempt: int) -> None:
    request.scope.setdefault(_FAILED_ATTEMPTS, set()).add(attempt)


_ATTEMPTS = 3
"""Runs of a request whose first statement keeps meeting dropped connections."""


class KitRoute(APIRoute):
    """The route class of every kit route: FastAPI's handler, wrapped.

    - The kit's domain errors and its routes' validation errors become the kit's JSON errors.
    - A body over `body_limit` bytes is refused with a JSON 413: at once when its
      `Content-Length` says so, as soon as the count passes the limit otherwise (a chunked
      body is never held whole). The limit is the route's own, wherever the host mounts it.
      (FastAPI's `max_body_size` would answer a declared oversized body with Starlette's
      plain-text 413, which no route class or handler can change.)
    - A request whose first SQL statement met a connection the server had dropped (a
      restart, a failover) runs again, twice at most: nothing it did has reached the
      database (a second loss: the node stopped between the two), and
      SQLAlchemy has already replaced the stale connections.
    """

    body_limit: int | None = None

    def get_route_handler(self) -> Handler:
        """FastAPI's handler with the kit's error answers around it."""
        handler = super().get_route_handler()
        limit = self.body_limit

        async def handle(request: Request) -> Response:
            if limit is not None:
                refused = _over_limit(request, limit)
                if refused is not None:
                    return refused
                if "content-length" not in request.headers:
                    request = Request(request.scope, _counting(request.receive, limit))
            for attempt in range(_ATTEMPTS):
                request.scope[_ATTEMPT] = attempt
                with counting_statements() as statements:
                    try:
                        return await handler(request)
                    except ContactsKitError as error:
                        _fail(request, attempt)
                        return error_response(request, error)
                    except KitHTTPException as exc:
                        _fail(request, attempt)
                        return error_response(request, exc.error)
                    except Answered as exc:
                        _fail(request, attempt)
                        return exc.response
                    except RequestValidationError as exc:
                        _fail(request, attempt)
                        return validation_response(exc)
                    except StarletteHTTPException as exc:
                        _fail(request, attempt)
                        if exc.status_code == status.HTTP_413_CONTENT_TOO_LARGE:
                            return _too_large(limit)
                        raise
                    except Exception as exc:
                        _fail(request, attempt)
                        retry = (
                            attempt < _ATTEMPTS - 1
                            and lost_connection(exc)
                            and statements.completed == 0
                            and _replayable(request)
                        )
                        if retry:
                            logger.warning(
                                "%s %s met a lost database connection; retrying on a new one",
                                request.method,
                                request.url.path,
                            )
                            continue
                        if missing_schema(exc):
                            logger.error(
                                "%s %s: the database lacks contacts-kit's tables (%s); run "
                                "`contacts-kit migrate` against CONTACTS_KIT_DATABASE_URL",
                                request.method,
                                request.url.path,
                                str(exc).splitlines()[0][:200],
                            )
                            return error_response(request, DatabaseNotMigrated())
                        if database_unavailable(exc):
                            # One line, not a traceback per request, while the database is out.
                            logger.warning(
                                "%s %s: database unavailable (%s: %s)",
                                request.method,
                                request.url.path,
                                type(exc).__name__,
                                str(exc).splitlines()[0][:200] if str(exc) else "no answer",
                            )
                            return error_response(request, DatabaseUnavailable())
                        raise
            raise AssertionError("unreachable: the last attempt returns or raises")

        return handle


def _over_limit(request: Request, limit: int) -> Response | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        body = ErrorBody(detail="Content-Length is not a number.", code=ErrorCode.MALFORMED_REQUEST)
        return JSONResponse(body.model_dump(mode="json"), status.HTTP_400_BAD_REQUEST)
    return _too_large(limit) if int(declared) > limit else None


def _counting(receive: Receive, limit: int) -> Receive:
    """`receive`, raising a 413 once more than `limit` body bytes have arrived."""
    received = 0

    async def counting_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise StarletteHTTPException(status.HTTP_413_CONTENT_TOO_LARGE)
        return message

    return counting_receive


_ROUTE_CLASSES: dict[tuple[type[APIRoute], int | None], type[APIRoute]] = {}


def kit_route_class(
    host_route_class: type[APIRoute] = APIRoute, body_limit: int | None = None
) -> type[APIRoute]:
    """The route class of the kit's routes on top of a host's own, refusing bodies over
    `body_limit` bytes. The host's wrapper runs outside the kit's, so it sees the kit's
    responses, errors included."""
    known = _ROUTE_CLASSES.get((host_route_class, body_limit))
    if known is not None:
        return known
    bases: tuple[type[APIRoute], ...] = (
        (KitRoute,) if host_route_class is APIRoute else (host_route_class, KitRoute)
    )
    name = f"Kit{'' if host_route_class is APIRoute else host_route_class.__name__}Route"
    route_class = type(name, bases, {"body_limit": body_limit})
    _ROUTE_CLASSES[host_route_class, body_limit] = route_class
    return route_class


# ---------------------------------------------------------------------------------------------
# The standalone app's handlers: only `create_app`, which owns its app, installs these.

_GENERIC_CODES = {
    status.HTTP_400_BAD_REQUEST: ErrorCode.MALFORMED_REQUEST,
    status.HTTP_404_NOT_FOUND: ErrorCode.NOT_FOUND,
    status.HTTP_405_METHOD_NOT_ALLOWED: ErrorCode.METHOD_NOT_ALLOWED,
    status.HTTP_413_CONTENT_TOO_LARGE: ErrorCode.BODY_TOO_LARGE,
}

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""

    def probe(method: str) -> dict[str, Any]:
        # A fresh scope: the request's own carries what routing left in it for this request.
        scope = request.scope
        return {
            "type": "http",
            "method": method,
            "path": scope["path"],
            "root_path": scope.get("root_path", ""),
            "headers": scope.get("headers", []),
            "query_string": b"",
        }

    allowed = [
        method
        for method in _METHODS
        if any(route.matches(probe(method))[0] == Match.FULL for route in request.app.routes)
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, KitHTTPException):
        return error_response(request, exc.error)
    headers = dict(exc.headers or {})
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers["Allow"] = _allowed_methods(request)
    code = _GENERIC_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
    body = ErrorBody(detail=str(exc.detail), code=code)
    return JSONResponse(body.model_dump(mode="json"), exc.status_code, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ContactsKitError)
    return error_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return validation_response(exc)


def install_app_handlers(app: FastAPI) -> None:
    """Answer every error of the standalone app in the kit's JSON: 404 and 405 of unknown
    paths and methods included. `create_app` calls it; a host app keeps its own handlers."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ContactsKitError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


# ---------------------------------------------------------------------------------------------
# Links


def mount_path(request: Request, route_path: str) -> str:
    """Where the router of the route serving `request` is mounted, whatever prefixes the host
    put around it: the request's path without the route's own `route_path` (as its router
    declares it, `{parameters}` included). Two kits in one app, or one kit at two prefixes,
    each build links to the mount that answered (route names are global to an app, so
    `request.url_for` would name the first)."""
    path = request.url.path
    route = compile_path(route_path)[0]
    for start in range(len(path), -1, -1):
        if (start == len(path) or path[start] == "/") and route.match(path[start:]):
            return path[:start]
    raise ValueError(f"{path!r} is not served by a route at {route_path!r}")


# ---------------------------------------------------------------------------------------------
# OpenAPI


def operation_id(route: APIRoute) -> str:
    """A route's operation id in the OpenAPI document: its name (`contacts:list` becomes
    `contacts_list`), so a generated client reads like an SDK. `kit.router` names its routes
    so; a host including a router of the kit may pass it (or its own) as
    `include_router(..., generate_unique_id_function=...)`."""
    return route.name.replace(":", "_")


Responses = dict[int | str, dict[str, Any]]


class MalformedBody(ContactsKitError):
    """The body is not UTF-8, or not of the declared content type."""

    code = ErrorCode.MALFORMED_REQUEST
    message = "The body could not be parsed (not UTF-8, or not the declared type)."


class BodyTooLarge(ContactsKitError):
    """The body is larger than the route accepts."""

    code = ErrorCode.BODY_TOO_LARGE
    message = "The body is larger than the route accepts."


BODY_ERRORS = (MalformedBody, BodyTooLarge)
"""The errors of any route with a body."""


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": _header(
        "The entity tag of this answer: send it back as `If-None-Match` to read again only "
        "if it changed, and a contact's as `If-Match` to change it safely."
    ),
    "Location": _header("The URL of the new contact."),
    "Retry-After": _header("Seconds to wait before trying again."),
    "WWW-Authenticate": _header("`Bearer`: the access token to send."),
}


def success_headers(status_code: int, *names: str) -> Responses:
    """OpenAPI `responses=` entry declaring the headers of a route's success response."""
    return {status_code: {"headers": {name: RESPONSE_HEADERS[name] for name in names}}}


def error_responses(*errors: type[ContactsKitError]) -> Responses:
    """OpenAPI `responses=` entries documenting the given errors of a route: per status, each
    `code` with its meaning in the description (and as the list `x-error-codes`), and the
    headers the status carries."""
    responses: Responses = {}
    for error in errors:
        status_code = status_of(error)
        entry = responses.setdefault(
            status_code, {"model": ErrorBody, "description": "", "x-error-codes": []}
        )
        if error.code not in entry["x-error-codes"]:
            entry["x-error-codes"].append(error.code.value)
            line = f"`{error.code.value}`: {error.message}"
            entry["description"] = f"{entry['description']}\n\n{line}".strip()
        if status_code == status.HTTP_401_UNAUTHORIZED:
            entry.setdefault("headers", {})["WWW-Authenticate"] = RESPONSE_HEADERS[
                "WWW-Authenticate"
            ]
        if status_code in (status.HTTP_429_TOO_MANY_REQUESTS, status.HTTP_503_SERVICE_UNAVAILABLE):
            entry.setdefault("headers", {})["Retry-After"] = RESPONSE_HEADERS["Retry-After"]
    return responses
