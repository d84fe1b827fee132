"""Router of signing up and in: `/auth/*`."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# aliases local to the factory.
import secrets
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from contacts_kit.auth.deps import AccountDependencies
from contacts_kit.auth.errors import (
    EmailNotVerified,
    InvalidMfaCode,
    InvalidResetToken,
    InvalidToken,
    InvalidVerificationToken,
    MfaRequired,
    NotAuthenticated,
)
from contacts_kit.auth.schemas import (
    Accepted,
    EmailRequest,
    LoginRequest,
    MfaChallenge,
    PasswordChange,
    PasswordResetConfirm,
    RefreshRequest,
    SecondFactor,
    TokenForm,
    TokenPair,
    UserCreate,
)
from contacts_kit.auth.service import AuthService, Client
from contacts_kit.http import BODY_ERRORS, DatabaseUnavailable, error_responses, mount_path
from contacts_kit.ratelimit import RateLimited
from contacts_kit.settings import Settings
from contacts_kit.users.errors import EmailAlreadyRegistered, InvalidCredentials
from contacts_kit.users.schemas import AuthenticatedUser, UserRead

_PAGES = Environment(
    loader=PackageLoader("contacts_kit.auth", "templates"),
    autoescape=select_autoescape(["html"]),
)


def reset_form_headers(nonce: str) -> dict[str, str]:
    """The reset form's headers: it runs its own script only, talks to its own origin only,
    posts nowhere else and is framed by no page (clickjacking); its token goes to no one."""
    policy = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def get_auth_router(deps: AccountDependencies) -> APIRouter:
    """Signup, login, token refresh and logout, email verification and password resets.
    `kit.router` includes it at `/auth`."""
    router = APIRouter(route_class=deps.route_class)
    _add_signup_route(router, deps)
    _add_login_routes(router, deps)
    _add_session_routes(router, deps)
    _add_verify_routes(router, deps)
    _add_password_routes(router, deps)
    _add_password_change_route(router, deps)
    return router


def _link(settings: Settings, request: Request, route_path: str, target_path: str) -> str:
    """`target_path` beside the route that serves the request (prefixes and root path
    included), on the public host: the request's own Host header is the client's to choose."""
    return settings.public_url + mount_path(request, route_path) + target_path


def _add_signup_route(router: APIRouter, deps: AccountDependencies) -> None:
    events = deps.events
    Auth = Annotated[AuthService, Depends(deps.auth_service)]

    @router.post(
        "/signup",
        name="auth:signup",
        summary="Sign up",
        dependencies=[Depends(deps.limit_auth("signup"))],
        status_code=status.HTTP_201_CREATED,
        response_model=UserRead,
        responses=error_responses(
            EmailAlreadyRegistered, RateLimited, *BODY_ERRORS, DatabaseUnavailable
        ),
    )
    async def signup(
        body: UserCreate, auth: Auth, request: Request, background: BackgroundTasks
    ) -> UserRead:
        """Create an account. The email is case-insensitively unique."""
        row = await auth.signup(body)
        user = UserRead.model_validate(row)
        message = auth.verification_message(
            row, _link(deps.settings, request, "/signup", "/verify")
        )
        # Both run after the response, so after the commit; a mail failure is only logged.
        background.add_task(events.context.send_mail, message)
        background.add_task(events.user_registered, user)
        return user


def _add_login_routes(router: APIRouter, deps: AccountDependencies) -> None:
    events = deps.events
    Auth = Annotated[AuthService, Depends(deps.auth_service)]
    Caller = Annotated[Client, Depends(deps.client)]

    # Both ways in count against one budget per client address.
    login_limit = Depends(deps.limit_auth("login"))

    @router.post(
        "/login",
        name="auth:login",
        summary="Log in",
        dependencies=[login_limit],
        response_model=TokenPair | MfaChallenge,
        responses=error_responses(
            InvalidCredentials, EmailNotVerified, RateLimited, *BODY_ERRORS, DatabaseUnavailable
        ),
    )
    async def login(
        credentials: LoginRequest, auth: Auth, client: Caller
    ) -> TokenPair | MfaChallenge:
        """Exchange an email and a password for a token pair: a new session. An account with
        two-factor authentication gets `{"mfa_required": true, "mfa_token"}` instead: send
        the token with a code to `POST /auth/login/2fa`."""
        return await auth.login(credentials.email, credentials.password, client)

    @router.post(
        "/login/2fa",
        name="auth:login_second_factor",
        summary="Log in with the second factor",
        dependencies=[Depends(deps.limit_auth("login_2fa"))],
        response_model=TokenPair,
        responses=error_responses(
            InvalidToken, InvalidMfaCode, RateLimited, *BODY_ERRORS, DatabaseUnavailable
        ),
    )
    async def login_second_factor(
        body: SecondFactor,
        auth: Auth,
        client: Caller,
        request: Request,
        background: BackgroundTasks,
    ) -> TokenPair:
        """The second step of a login with two-factor authentication: the `mfa_token` of the
        first step and the authenticator's current code, or one of the recovery codes (each
        works once; the account's email hears of it). Attempts are limited per user."""
        await deps.count_second_factor(request, auth.mfa_user(body.mfa_token))
        pair, user, left = await auth.login_second_factor(body.mfa_token, body, client)
        if left is not None:
            notice = auth.security_notice("recovery_code_used", user.email, left=left)
            background.add_task(events.context.send_mail, notice)
        return pair

    @router.post(
        "/token",
        name="auth:token",
        summary="Log in with the OAuth2 password form",
        dependencies=[login_limit],
        response_model=TokenPair,
        responses=error_responses(
            InvalidCredentials,
            EmailNotVerified,
            MfaRequired,
            RateLimited,
            *BODY_ERRORS,
            DatabaseUnavailable,
        ),
    )
    async def token(form: Annotated[TokenForm, Form()], auth: Auth, client: Caller) -> TokenPair:
        """The OAuth2 password flow's token endpoint (`username` is the email): what Swagger
        UI's Authorize button and OAuth2 clients post. Applications use `POST /auth/login`.
        It has no second step: an account with two-factor authentication gets a 403."""
        return await auth.password_login(form.username, form.password, client)


def _add_session_routes(router: APIRouter, deps: AccountDependencies) -> None:
    Auth = Annotated[AuthService, Depends(deps.auth_service)]
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    Caller = Annotated[Client, Depends(deps.client)]

    @router.post(
        "/refresh",
        name="auth:refresh",
        summary="Refresh the tokens",
        response_model=TokenPair,
        responses=error_responses(InvalidToken, *BODY_ERRORS, DatabaseUnavailable),
    )
    async def refresh(body: RefreshRequest, auth: Auth, client: Caller) -> TokenPair:
        """Spend a refresh token for a new pair. Presenting a spent one revokes the session."""
        return await auth.refresh(body.refresh_token, client)

    @router.post(
        "/logout",
        name="auth:logout",
        summary="Log out",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(InvalidToken, *BODY_ERRORS, DatabaseUnavailable),
    )
    async def logout(body: RefreshRequest, auth: Auth) -> Response:
        """Revoke the session of this refresh token; its access tokens stop working at once."""
        await auth.logout(body.refresh_token)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/logout-all",
        name="auth:logout_all",
        summary="Log out everywhere",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(NotAuthenticated, InvalidToken, DatabaseUnavailable),
    )
    async def logout_all(user: User, auth: Auth) -> Response:
        """End every session of your account, this one included: every refresh token and
        every access token stops working at once."""
        await auth.logout_all(user.id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


def _add_verify_routes(router: APIRouter, deps: AccountDependencies) -> None:
    settings = deps.settings
    events = deps.events
    Auth = Annotated[AuthService, Depends(deps.auth_service)]

    @router.get(
        "/verify",
        name="auth:verify",
        summary="Verify an email address",
        response_model=UserRead,
        responses=error_responses(InvalidVerificationToken, DatabaseUnavailable),
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
        summary="Send the verification email again",
        dependencies=[Depends(deps.limit_auth("verify_resend"))],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=error_responses(RateLimited, *BODY_ERRORS, DatabaseUnavailable),
    )
    async def resend_verification(
        body: EmailRequest, auth: Auth, request: Request, background: BackgroundTasks
    ) -> Accepted:
        """Send the verification email again. The reply is the same for any address."""
        message = await auth.resend_verification(
            body.email, _link(settings, request, "/verify/resend", "/verify")
        )
        if message is not None:
            background.add_task(events.context.send_mail, message)
        return Accepted(detail="If this address has an unverified account, an email is on its way.")


def _add_password_routes(router: APIRouter, deps: AccountDependencies) -> None:
    settings = deps.settings
    events = deps.events
    Auth = Annotated[AuthService, Depends(deps.auth_service)]

    @router.post(
        "/password-reset",
        name="auth:password_reset",
        summary="Ask for a password reset",
        dependencies=[Depends(deps.limit_auth("password_reset"))],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses=error_responses(RateLimited, *BODY_ERRORS, DatabaseUnavailable),
    )
    async def request_password_reset(
        body: EmailRequest, auth: Auth, request: Request, background: BackgroundTasks
    ) -> Accepted:
        """Email a password reset link. The reply is the same for any address."""
        form = _link(settings, request, "/password-reset", "/password-reset/confirm")
        message = await auth.password_reset_message(body.email, form)
        if message is not None:
            background.add_task(events.context.send_mail, message)
        return Accepted(detail="If this address has an account, an email is on its way.")

    @router.get(
        "/password-reset/confirm",
        name="auth:password_reset_form",
        summary="Password reset form",
        response_class=HTMLResponse,
    )
    async def password_reset_form(
        request: Request, token: Annotated[str, Query(min_length=1, max_length=4096)]
    ) -> HTMLResponse:
        """A small page to choose a new password, for services without a front end."""
        # A path, not a URL: the page posts back to the host it was loaded from, whatever
        # the request's Host header claimed.
        nonce = secrets.token_urlsafe(16)
        page = _PAGES.get_template("password_reset_form.html").render(
            token=token, action=request.url.path, nonce=nonce
        )
        return HTMLResponse(page, headers=reset_form_headers(nonce))

    @router.post(
        "/password-reset/confirm",
        name="auth:password_reset_confirm",
        summary="Reset the password",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(InvalidResetToken, *BODY_ERRORS, DatabaseUnavailable),
    )
    async def confirm_password_reset(
        body: PasswordResetConfirm, auth: Auth, background: BackgroundTasks
    ) -> Response:
        """Set a new password with the token of a reset link. Every session ends."""
        row = await auth.reset_password(body.token, body.new_password)
        background.add_task(events.password_changed, UserRead.model_validate(row), reset=True)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


def _add_password_change_route(router: APIRouter, deps: AccountDependencies) -> None:
    events = deps.events
    Auth = Annotated[AuthService, Depends(deps.auth_service)]
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]

    @router.post(
        "/password-change",
        name="auth:password_change",
        summary="Change the password",
        dependencies=[Depends(deps.limit_auth("password_change")), Depends(deps.limit_password)],
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(
            NotAuthenticated,
            InvalidToken,
            InvalidCredentials,
            RateLimited,
            *BODY_ERRORS,
            DatabaseUnavailable,
        ),
    )
    async def change_password(
        body: PasswordChange,
        user: User,
        token: Annotated[str | None, Depends(deps.bearer_token)],
        auth: Auth,
        background: BackgroundTasks,
    ) -> Response:
        """Change your password; your other sessions end, this one stays."""
        row = await auth.change_password(user.id, body.current_password, body.new_password, token)
        background.add_task(events.password_changed, UserRead.model_validate(row), reset=False)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
