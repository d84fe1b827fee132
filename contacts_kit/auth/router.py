"""Routers of the account routes: `/auth/*` and `/users/me`."""

import json
import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.auth.schemas import (
    Accepted,
    AuthenticatedUser,
    EmailRequest,
    LoginRequest,
    PasswordChange,
    PasswordConfirm,
    PasswordResetConfirm,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
)
from contacts_kit.auth.service import AuthService
from contacts_kit.auth.tokens import TokenType
from contacts_kit.errors import (
    MALFORMED_BODY,
    EmailAlreadyRegistered,
    EmailNotVerified,
    InvalidCredentials,
    InvalidResetToken,
    InvalidToken,
    InvalidVerificationToken,
    NotAuthenticated,
    error_responses,
)
from contacts_kit.ratelimit import RateLimited
from contacts_kit.routing import Routes

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit

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


def get_auth_router(kit: "ContactsKit", routes: Routes | None = None) -> APIRouter:
    """Signup, login, token refresh and logout."""
    router = (routes or Routes()).within(responses=MALFORMED_BODY)
    SessionDep = Annotated[AsyncSession, Depends(kit.session, scope="function")]

    @router.post(
        "/signup",
        name="auth:signup",
        dependencies=[Depends(kit.rate_limits.auth)],
        status_code=status.HTTP_201_CREATED,
        response_model=UserRead,
        responses=error_responses(EmailAlreadyRegistered, RateLimited),
    )
    async def signup(
        body: UserCreate, session: SessionDep, background: BackgroundTasks
    ) -> UserRead:
        """Create an account. The email is case-insensitively unique."""
        service = AuthService(kit, session)
        row = await service.signup(body)
        user = UserRead.model_validate(row)
        # Both run after the response, so after the commit; a mail failure is only logged.
        background.add_task(kit.send_mail, service.verification_message(row))
        background.add_task(kit.emit, "on_user_registered", user=user, settings=kit.settings)
        return user

    @router.post(
        "/login",
        name="auth:login",
        dependencies=[Depends(kit.rate_limits.auth)],
        response_model=TokenPair,
        responses=error_responses(InvalidCredentials, EmailNotVerified, RateLimited)
        | _VALIDATION_ERROR,
        openapi_extra=_LOGIN_BODY,
    )
    async def login(
        credentials: Annotated[LoginRequest, Depends(_login_request)], session: SessionDep
    ) -> TokenPair:
        """Exchange email and password (JSON, or the OAuth2 form) for a token pair."""
        return await AuthService(kit, session).login(credentials.email, credentials.password)

    @router.post(
        "/refresh",
        name="auth:refresh",
        response_model=TokenPair,
        responses=error_responses(InvalidToken),
    )
    async def refresh(body: RefreshRequest, session: SessionDep) -> TokenPair:
        """Spend a refresh token for a new pair. Presenting a spent one revokes the session."""
        return await AuthService(kit, session).refresh(body.refresh_token)

    @router.post(
        "/logout",
        name="auth:logout",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(InvalidToken),
    )
    async def logout(body: RefreshRequest, session: SessionDep) -> None:
        """Revoke the session of this refresh token."""
        await AuthService(kit, session).logout(body.refresh_token)

    @router.get(
        "/verify",
        name="auth:verify",
        response_model=UserRead,
        responses=error_responses(InvalidVerificationToken),
    )
    async def verify(
        token: Annotated[str, Query(min_length=1, max_length=4096)], session: SessionDep
    ) -> UserRead:
        """Follow the link of the verification email: the account becomes verified."""
        return UserRead.model_validate(await AuthService(kit, session).verify_email(token))

    @router.post(
        "/verify/resend",
        name="auth:verify_resend",
        dependencies=[Depends(kit.rate_limits.auth)],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=error_responses(RateLimited),
    )
    async def resend_verification(
        body: EmailRequest, session: SessionDep, background: BackgroundTasks
    ) -> Accepted:
        """Send the verification email again. The reply is the same for any address."""
        message = await AuthService(kit, session).resend_verification(body.email)
        if message is not None:
            background.add_task(kit.send_mail, message)
        return Accepted(detail="If this address has an unverified account, an email is on its way.")

    @router.post(
        "/password-reset",
        name="auth:password_reset",
        dependencies=[Depends(kit.rate_limits.auth)],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=error_responses(RateLimited),
    )
    async def request_password_reset(
        body: EmailRequest, session: SessionDep, background: BackgroundTasks
    ) -> Accepted:
        """Email a password reset link. The reply is the same for any address."""
        message = await AuthService(kit, session).password_reset_message(body.email)
        if message is not None:
            background.add_task(kit.send_mail, message)
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
        page = kit.mail.environment.get_template("password_reset_form.html").render(
            token=token, action=str(request.url_for("auth:password_reset_confirm"))
        )
        return HTMLResponse(page, headers={"Referrer-Policy": "no-referrer"})

    @router.post(
        "/password-reset/confirm",
        name="auth:password_reset_confirm",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(InvalidResetToken),
    )
    async def confirm_password_reset(body: PasswordResetConfirm, session: SessionDep) -> None:
        """Set a new password with the token of a reset link. Every session ends."""
        await AuthService(kit, session).reset_password(body.token, body.new_password)

    @router.post(
        "/password-change",
        name="auth:password_change",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(NotAuthenticated, InvalidToken, InvalidCredentials),
    )
    async def change_password(
        body: PasswordChange,
        user: Annotated[AuthenticatedUser, Depends(kit.current_user)],
        token: Annotated[str | None, Depends(kit.oauth2_scheme)],
        session: SessionDep,
    ) -> None:
        """Change your password; your other sessions end, this one stays."""
        assert token is not None  # current_user has checked it
        family = kit.tokens.decode(token, TokenType.ACCESS).extra.get("fam")
        await AuthService(kit, session).change_password(
            user.id,
            body.current_password,
            body.new_password,
            keep_family=uuid.UUID(family) if isinstance(family, str) else None,
        )

    return router.router


def get_users_router(kit: "ContactsKit", routes: Routes | None = None) -> APIRouter:
    """The current user's account."""
    router = (routes or Routes()).within(responses=MALFORMED_BODY)
    SessionDep = Annotated[AsyncSession, Depends(kit.session, scope="function")]
    CurrentUser = Annotated[AuthenticatedUser, Depends(kit.current_user)]

    @router.get(
        "/me",
        name="users:me",
        response_model=UserRead,
        responses=error_responses(NotAuthenticated, InvalidToken),
    )
    async def me(user: CurrentUser) -> AuthenticatedUser:
        """The account of the bearer token."""
        return user

    @router.delete(
        "/me",
        name="users:delete_me",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(NotAuthenticated, InvalidCredentials),
    )
    async def delete_me(body: PasswordConfirm, user: CurrentUser, session: SessionDep) -> None:
        """Delete the account, its contacts and its tokens, after checking the password."""
        await AuthService(kit, session).delete_account(user.id, body.password)

    return router.router
