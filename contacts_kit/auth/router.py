"""Routers of the account routes: `/auth/*` and `/users/me`."""

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.auth.schemas import (
    AuthenticatedUser,
    LoginRequest,
    PasswordConfirm,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserRead,
)
from contacts_kit.auth.service import AuthService
from contacts_kit.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidToken,
    NotAuthenticated,
    error_responses,
)

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
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "Body is not valid JSON"}]
        ) from exc
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


def get_auth_router(kit: "ContactsKit") -> APIRouter:
    """Signup, login, token refresh and logout."""
    router = APIRouter()
    SessionDep = Annotated[AsyncSession, Depends(kit.session, scope="function")]

    @router.post(
        "/signup",
        name="auth:signup",
        status_code=status.HTTP_201_CREATED,
        response_model=UserRead,
        responses=error_responses(EmailAlreadyRegistered),
    )
    async def signup(
        body: UserCreate, session: SessionDep, background: BackgroundTasks
    ) -> UserRead:
        """Create an account. The email is case-insensitively unique."""
        user = UserRead.model_validate(await AuthService(kit, session).signup(body))
        background.add_task(kit.emit, "on_user_registered", user=user, settings=kit.settings)
        return user

    @router.post(
        "/login",
        name="auth:login",
        response_model=TokenPair,
        responses=error_responses(InvalidCredentials),
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

    return router


def get_users_router(kit: "ContactsKit") -> APIRouter:
    """The current user's account."""
    router = APIRouter()
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

    return router
