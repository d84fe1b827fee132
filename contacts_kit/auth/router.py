"""Router of signing up and in: `/auth/*`."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# aliases local to the factory.
import json
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from contacts_kit.auth.errors import (
    EmailNotVerified,
    InvalidResetToken,
    InvalidToken,
    InvalidVerificationToken,
    NotAuthenticated,
)
from contacts_kit.auth.schemas import (
    Accepted,
    EmailRequest,
    LoginRequest,
    PasswordChange,
    PasswordResetConfirm,
    RefreshRequest,
    TokenPair,
    UserCreate,
)
from contacts_kit.auth.service import AuthService
from contacts_kit.deps import KitDependencies
from contacts_kit.http import MALFORMED_BODY, error_responses
from contacts_kit.ratelimit import RateLimited
from contacts_kit.users.errors import EmailAlreadyRegistered, InvalidCredentials
from contacts_kit.users.schemas import AuthenticatedUser, UserRead

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "The account's email."},
                        "password": {"type": "string"},
                    },
                }
            },
        },
    }
}

# The login body is read by hand (JSON or form), so FastAPI does not document its 422.
_VALIDATION_ERROR: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "Validation Error",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
        },
    }
}

_PAGES = Environment(
    loader=PackageLoader("contacts_kit.auth", "templates"),
    autoescape=select_autoescape(["html"]),
)


async def _login_request(request: Request) -> LoginRequest:
    """Read the credentials from a JSON body or from an OAuth2 password form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in _FORM_TYPES:
            form = await request.form()
            data: Any = {"email": form.get("username"), "password": form.get("password")}
        else:
            data = json.loads(await request.body())
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    except ValueError as exc:  # invalid JSON, or bytes that are not UTF-8
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "Body is not valid UTF-8 JSON"}]
        ) from exc


def get_auth_router(deps: KitDependencies) -> APIRouter:
    """Signup, login, token refresh and logout, email verification and password resets."""
    router = APIRouter(route_class=deps.route_class)
    settings = deps.settings
    events = deps.events
    Auth = Annotated[AuthService, Depends(deps.auth_service)]
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]

    def link(request: Request, route_name: str) -> str:
        # Where the route is mounted (prefixes and root path included), on the public host:
        # the request's own Host header is the client's to choose.
        return settings.public_url + request.url_for(route_name).path

    @router.post(
        "/signup",
        name="auth:signup",
        dependencies=[Depends(deps.limit_auth("signup"))],
        status_code=status.HTTP_201_CREATED,
        response_model=UserRead,
        responses=error_responses(EmailAlreadyRegistered, RateLimited) | MALFORMED_BODY,
    )
    async def signup(
        body: UserCreate, auth: Auth, request: Request, background: BackgroundTasks
    ) -> UserRead:
        """Create an account. The email is case-insensitively unique."""
        row = await auth.signup(body)
        user = UserRead.model_validate(row)
        message = auth.verification_message(row, link(request, "auth:verify"))
        # Both run after the response, so after the commit; a mail failure is only logged.
        background.add_task(events.context.send_mail, message)
        background.add_task(events.user_registered, user)
        return user

    @router.post(
        "/login",
        name="auth:login",
        dependencies=[Depends(deps.limit_auth("login"))],
        response_model=TokenPair,
        responses=error_responses(InvalidCredentials, EmailNotVerified, RateLimited)
        | _VALIDATION_ERROR
        | MALFORMED_BODY,
        openapi_extra=_LOGIN_BODY,
    )
    async def login(
        credentials: Annotated[LoginRequest, Depends(_login_request)], auth: Auth
    ) -> TokenPair:
        """Exchange email and password (JSON, or the OAuth2 form) for a token pair."""
        return await auth.login(credentials.email, credentials.password)

    @router.post(
        "/refresh",
        name="auth:refresh",
        response_model=TokenPair,
        responses=error_responses(InvalidToken) | MALFORMED_BODY,
    )
    async def refresh(body: RefreshRequest, auth: Auth) -> TokenPair:
        """Spend a refresh token for a new pair. Presenting a spent one revokes the session."""
        return await auth.refresh(body.refresh_token)

    @router.post(
        "/logout",
        name="auth:logout",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(InvalidToken) | MALFORMED_BODY,
    )
    async def logout(body: RefreshRequest, auth: Auth) -> None:
        """Revoke the session of this refresh token."""
        await auth.logout(body.refresh_token)

    @router.get(
        "/verify",
        name="auth:verify",
        response_model=UserRead,
        responses=error_responses(InvalidVerificationToken),
    )
    async def verify(
        token: Annotated[str, Query(min_length=1, max_length=4096)],
        auth: Auth,
        background: BackgroundTasks,
    ) -> UserRead:
        """Follow the link of the verification email: the account becomes verified."""
        row, verified_now = await auth.verify_email(token)
        user = UserRead.model_validate(row)
        if verified_now:
            background.add_task(events.user_verified, user)
        return user

    @router.post(
        "/verify/resend",
        name="auth:verify_resend",
        dependencies=[Depends(deps.limit_auth("verify_resend"))],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=error_responses(RateLimited) | MALFORMED_BODY,
    )
    async def resend_verification(
        body: EmailRequest, auth: Auth, request: Request, background: BackgroundTasks
    ) -> Accepted:
        """Send the verification email again. The reply is the same for any address."""
        message = await auth.resend_verification(body.email, link(request, "auth:verify"))
        if message is not None:
            background.add_task(events.context.send_mail, message)
        return Accepted(detail="If this address has an unverified account, an email is on its way.")

    @router.post(
        "/password-reset",
        name="auth:password_reset",
        dependencies=[Depends(deps.limit_auth("password_reset"))],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=error_responses(RateLimited) | MALFORMED_BODY,
    )
    async def request_password_reset(
        body: EmailRequest, auth: Auth, request: Request, background: BackgroundTasks
    ) -> Accepted:
        """Email a password reset link. The reply is the same for any address."""
        form = link(request, "auth:password_reset_form")
        message = await auth.password_reset_message(body.email, form)
        if message is not None:
            background.add_task(events.context.send_mail, message)
        return Accepted(detail="If this address has an account, an email is on its way.")

    @router.get(
        "/password-reset/confirm",
        name="auth:password_reset_form",
        response_class=HTMLResponse,
    )
    async def password_reset_form(
        request: Request, token: Annotated[str, Query(min_length=1, max_length=4096)]
    ) -> HTMLResponse:
        """A small page to choose a new password, for services without a front end."""
        # A path, not a URL: the page posts back to the host it was loaded from, whatever
        # the request's Host header claimed.
        page = _PAGES.get_template("password_reset_form.html").render(
            token=token, action=request.url_for("auth:password_reset_confirm").path
        )
        return HTMLResponse(page, headers={"Referrer-Policy": "no-referrer"})

    @router.post(
        "/password-reset/confirm",
        name="auth:password_reset_confirm",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(InvalidResetToken) | MALFORMED_BODY,
    )
    async def confirm_password_reset(
        body: PasswordResetConfirm, auth: Auth, background: BackgroundTasks
    ) -> None:
        """Set a new password with the token of a reset link. Every session ends."""
        row = await auth.reset_password(body.token, body.new_password)
        background.add_task(events.password_changed, UserRead.model_validate(row), reset=True)

    @router.post(
        "/password-change",
        name="auth:password_change",
        dependencies=[Depends(deps.limit_auth("password_change")), Depends(deps.limit_password)],
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(NotAuthenticated, InvalidToken, InvalidCredentials, RateLimited)
        | MALFORMED_BODY,
    )
    async def change_password(
        body: PasswordChange,
        user: User,
        token: Annotated[str | None, Depends(deps.bearer_token)],
        auth: Auth,
        background: BackgroundTasks,
    ) -> None:
        """Change your password; your other sessions end, this one stays."""
        row = await auth.change_password(user.id, body.current_password, body.new_password, token)
        background.add_task(events.password_changed, UserRead.model_validate(row), reset=False)

    return router
