"""Routers of the current user's account: `/users/me` and its deletion, the sessions,
two-factor authentication and the avatar. Each factory returns a router without a prefix
(`kit.router` includes the first three at `/users`, the avatar's at the API root)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# aliases local to the factory.
import uuid
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, BackgroundTasks, Depends, File, Request, Response, status
from fastapi.staticfiles import StaticFiles

from contacts_kit.auth.deps import AccountDependencies
from contacts_kit.auth.errors import (
    InvalidMfaCode,
    InvalidToken,
    NotAuthenticated,
    SessionNotFound,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    TotpNotStarted,
)
from contacts_kit.auth.schemas import (
    SessionRead,
    TotpConfirm,
    TotpDisable,
    TotpEnrolment,
    TwoFactorEnabled,
    TwoFactorStatus,
)
from contacts_kit.auth.service import AuthService
from contacts_kit.http import BODY_ERRORS, DatabaseUnavailable, error_responses, mount_path
from contacts_kit.ratelimit import RateLimited
from contacts_kit.users.errors import (
    FileTooLarge,
    InvalidCredentials,
    StorageFailed,
    UnsupportedImage,
)
from contacts_kit.users.schemas import AuthenticatedUser, AvatarUpload, PasswordConfirm, UserRead
from contacts_kit.users.service import UserService

MEDIA_ROUTE = "contacts_kit:media"
"""The name of the kit's route that serves the local-disk storage's files."""


def _router(deps: AccountDependencies) -> APIRouter:
    return APIRouter(route_class=deps.route_class, responses=error_responses(DatabaseUnavailable))


def get_users_router(deps: AccountDependencies) -> APIRouter:
    """The current user's account (`/me`) and its deletion."""
    router = _router(deps)
    events = deps.events
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    Users = Annotated[UserService, Depends(deps.user_service)]

    @router.get(
        "/me",
        name="users:me",
        summary="Get your account",
        response_model=UserRead,
        responses=error_responses(NotAuthenticated, InvalidToken),
    )
    async def me(user: User) -> AuthenticatedUser:
        """The account of the bearer token."""
        return user

    @router.delete(
        "/me",
        name="users:delete_me",
        summary="Delete your account",
        dependencies=[Depends(deps.limit_auth("delete_me")), Depends(deps.limit_password)],
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(
            NotAuthenticated, InvalidToken, InvalidCredentials, RateLimited, *BODY_ERRORS
        ),
    )
    async def delete_me(
        body: PasswordConfirm, user: User, users: Users, background: BackgroundTasks
    ) -> Response:
        """Delete the account, its contacts and its tokens, after checking the password."""
        deleted = await users.delete_account(user.id, body.password)
        background.add_task(events.user_deleted, UserRead.model_validate(deleted))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


def get_sessions_router(deps: AccountDependencies) -> APIRouter:
    """The sessions of the current user's account: list them, end one."""
    router = _router(deps)
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    Auth = Annotated[AuthService, Depends(deps.auth_service)]
    Bearer = Annotated[str | None, Depends(deps.bearer_token)]

    @router.get(
        "/me/sessions",
        name="users:sessions",
        summary="List your sessions",
        response_model=list[SessionRead],
        responses=error_responses(NotAuthenticated, InvalidToken),
    )
    async def sessions(user: User, token: Bearer, auth: Auth) -> list[SessionRead]:
        """Every session of your account that can still refresh its tokens (one per login),
        the most recently used first; `current` marks the one you are using."""
        return await auth.sessions(user.id, token)

    @router.delete(
        "/me/sessions/{session_id}",
        name="users:end_session",
        summary="End a session",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(NotAuthenticated, InvalidToken, SessionNotFound),
    )
    async def end_session(session_id: uuid.UUID, user: User, auth: Auth) -> Response:
        """Log a session out (a lost phone, a shared computer): its refresh token and its
        access tokens stop working at once. Ending your own is a logout."""
        await auth.end_session(user.id, session_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


def get_two_factor_router(deps: AccountDependencies) -> APIRouter:
    """Two-factor authentication of the current user's account: status, enrolment, off."""
    router = _router(deps)
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    Auth = Annotated[AuthService, Depends(deps.auth_service)]

    @router.get(
        "/me/2fa",
        name="users:two_factor",
        summary="Two-factor authentication status",
        response_model=TwoFactorStatus,
        responses=error_responses(NotAuthenticated, InvalidToken),
    )
    async def two_factor(user: User, auth: Auth) -> TwoFactorStatus:
        """Whether logins need a second factor, and how many recovery codes are left."""
        return await auth.two_factor(user.id)

    @router.post(
        "/me/2fa/totp",
        name="users:totp_start",
        summary="Start two-factor enrolment",
        response_model=TotpEnrolment,
        responses=error_responses(NotAuthenticated, InvalidToken, TotpAlreadyEnabled),
    )
    async def start_totp(user: User, auth: Auth) -> TotpEnrolment:
        """A new authenticator secret: scan the QR code (or type the secret) in an
        authenticator app, then confirm with its code. Nothing changes for logins until
        then; starting again replaces the secret."""
        return await auth.start_totp(user)

    _add_two_factor_changes(router, deps)
    return router


def _add_two_factor_changes(router: APIRouter, deps: AccountDependencies) -> None:
    """Turning two-factor authentication on (with a code) and off."""
    events = deps.events
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    Auth = Annotated[AuthService, Depends(deps.auth_service)]

    @router.post(
        "/me/2fa/totp/confirm",
        name="users:totp_confirm",
        summary="Turn two-factor authentication on",
        dependencies=[Depends(deps.limit_mfa)],
        response_model=TwoFactorEnabled,
        responses=error_responses(
            NotAuthenticated,
            InvalidToken,
            TotpNotStarted,
            TotpAlreadyEnabled,
            InvalidMfaCode,
            RateLimited,
            *BODY_ERRORS,
        ),
    )
    async def confirm_totp(
        body: TotpConfirm, user: User, auth: Auth, background: BackgroundTasks
    ) -> TwoFactorEnabled:
        """Confirm the authenticator with its current code: from now on, logins ask for a
        code. The answer holds 10 recovery codes, shown this once."""
        codes = await auth.confirm_totp(user.id, body.code)
        background.add_task(
            events.context.send_mail, auth.security_notice("totp_enabled", user.email)
        )
        return TwoFactorEnabled(recovery_codes=codes)

    @router.delete(
        "/me/2fa/totp",
        name="users:totp_disable",
        summary="Turn two-factor authentication off",
        dependencies=[Depends(deps.limit_password), Depends(deps.limit_mfa)],
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(
            NotAuthenticated,
            InvalidToken,
            InvalidCredentials,
            TotpNotEnabled,
            InvalidMfaCode,
            RateLimited,
            *BODY_ERRORS,
        ),
    )
    async def disable_totp(
        body: TotpDisable, user: User, auth: Auth, background: BackgroundTasks
    ) -> Response:
        """Turn two-factor authentication off, with the password and a code (or a recovery
        code); the recovery codes go too."""
        await auth.disable_totp(user.id, body.password, body.code, body.recovery_code)
        background.add_task(
            events.context.send_mail, auth.security_notice("totp_disabled", user.email)
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)


_AVATAR = "/users/me/avatar"


def get_avatar_router(deps: AccountDependencies, media_dir: Path | None = None) -> APIRouter:
    """The current user's avatar upload (`/users/me/avatar`) and, when the files are on the
    local disk (`media_dir`), the route serving them (`CONTACTS_KIT_MEDIA_URL_PATH`), both
    relative to where it is included (`kit.router`: the API root)."""
    router = _router(deps)
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    Users = Annotated[UserService, Depends(deps.user_service)]
    media = deps.settings.media_url_path

    async def upload_avatar(
        body: Annotated[AvatarUpload, File()],
        user: User,
        users: Users,
        request: Request,
    ) -> UserRead:
        """Replace your avatar. The bytes decide the type, not the declared content type."""
        data = await body.file.read(deps.settings.avatar_max_bytes + 1)

        def url_of(stored: str) -> str:
            if urlsplit(stored).scheme:
                return stored
            # A file the kit's media route serves: on the public host, where that is mounted.
            return f"{deps.settings.public_url}{mount_path(request, _AVATAR)}{media}/{stored}"

        return UserRead.model_validate(await users.replace_avatar(user.id, data, url_of))

    router.add_api_route(
        _AVATAR,
        upload_avatar,
        methods=["PATCH"],
        name="users:avatar",
        summary="Upload your avatar",
        dependencies=[Depends(deps.limit_avatar)],
        response_model=UserRead,
        responses=error_responses(
            NotAuthenticated,
            InvalidToken,
            FileTooLarge,
            UnsupportedImage,
            StorageFailed,
            RateLimited,
            *BODY_ERRORS,
        ),
        # The avatar's own limit, with room for the multipart framing around the image.
        route_class_override=deps.plumbing.upload_route_class(deps.settings.avatar_max_bytes),
    )
    if media_dir is not None:
        media_dir.mkdir(parents=True, exist_ok=True)
        router.mount(media, StaticFiles(directory=media_dir), name=MEDIA_ROUTE)
    return router
