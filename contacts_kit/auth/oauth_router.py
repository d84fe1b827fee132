"""Routers of signing in with identity providers (`/auth/oauth/*`) and of the identities linked
to an account (`/users/me/identities`). Mounted only when providers are configured."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which name
# aliases local to the factory.
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Cookie, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from contacts_kit.auth.deps import AccountDependencies
from contacts_kit.auth.errors import (
    IdentityNotFound,
    InvalidOAuthCode,
    InvalidToken,
    LastLoginMethod,
    NotAuthenticated,
    OAuthFlowInvalid,
    ProviderAlreadyLinked,
    ProviderNotFound,
    ProviderUnavailable,
    RedirectNotAllowed,
)
from contacts_kit.auth.linking import IdentityService
from contacts_kit.auth.schemas import (
    IdentityRead,
    LinkRequest,
    LinkStart,
    MfaChallenge,
    OAuthCodeExchange,
    TokenPair,
)
from contacts_kit.auth.service import Client
from contacts_kit.fields import not_null
from contacts_kit.http import BODY_ERRORS, DatabaseUnavailable, error_responses, mount_path
from contacts_kit.ratelimit import RateLimited
from contacts_kit.settings import Settings
from contacts_kit.users.schemas import AuthenticatedUser, UserRead

FLOW_COOKIE = "contacts_kit_oauth"
"""The cookie that binds a sign-in to the browser that started it (path: its callback)."""

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _with_params(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


_AUTHORIZE = "/auth/oauth/{provider}/authorize"
_CALLBACK = "/auth/oauth/{provider}/callback"
_VERIFY = "/auth/verify"
_LINK = "/users/me/identities/{provider}"


def get_oauth_router(deps: AccountDependencies) -> APIRouter:
    """Provider sign-in: the round trip through the provider (`/auth/oauth/...`), the
    exchange of its one-time code, and the provider accounts linked to the current user's
    (`/users/me/identities`). Relative to where it is included (`kit.router`: the API root),
    with the account routes at `/auth` beside it (the verification link names them)."""
    router = APIRouter(route_class=deps.route_class)
    _add_sign_in_routes(router, deps)
    _add_callback_route(router, deps)
    _add_exchange_route(router, deps)
    _add_identity_routes(router, deps)
    return router


def _callback_path(request: Request, provider: str) -> str:
    """The path of `provider`'s callback, beside the route serving the request (the
    authorize or the callback route)."""
    served = _CALLBACK if request.url.path.endswith("/callback") else _AUTHORIZE
    return mount_path(request, served) + _CALLBACK.format(provider=provider)


def _cookie_scope(settings: Settings, request: Request, provider: str) -> dict[str, Any]:
    """Where the flow cookie lives: only the callback of its provider gets it back."""
    return {
        "path": _callback_path(request, provider),
        "secure": settings.public_url.startswith("https://"),
        "httponly": True,
        "samesite": "lax",
    }


RedirectTo = Annotated[
    str,
    Query(
        min_length=1,
        max_length=2000,
        description="Where the browser comes back to: under a URL of "
        "`CONTACTS_KIT_OAUTH_REDIRECT_ALLOWLIST`.",
    ),
]
LinkToken = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=4096,
        description="From `POST /users/me/identities/{provider}`: link, not sign in.",
        json_schema_extra=not_null,
    ),
]


def _add_sign_in_routes(router: APIRouter, deps: AccountDependencies) -> None:
    settings = deps.settings
    Identities = Annotated[IdentityService, Depends(deps.identity_service)]

    @router.get(
        _AUTHORIZE,
        tags=["auth"],
        name="auth:oauth_authorize",
        summary="Sign in with an identity provider",
        dependencies=[Depends(deps.limit_auth("oauth_authorize"))],
        status_code=status.HTTP_302_FOUND,
        response_class=RedirectResponse,
        responses=error_responses(
            ProviderNotFound,
            RedirectNotAllowed,
            InvalidToken,
            ProviderUnavailable,
            RateLimited,
            DatabaseUnavailable,
        ),
    )
    async def authorize(
        provider: str,
        request: Request,
        identities: Identities,
        redirect_to: RedirectTo,
        link_token: LinkToken = None,
    ) -> RedirectResponse:
        """Open this in the browser (a link or a redirect, not a fetch). It sends the browser
        to the provider (with `state`, a `nonce` and PKCE), whose callback returns it to
        `redirect_to` (on the allow-list) with `?code=` for `POST /auth/oauth/exchange`, or
        `?error=` and `error_description`. `link_token` (from `POST
        /users/me/identities/{provider}`) links the provider account to yours instead."""
        callback = settings.public_url + _callback_path(request, provider)
        url, cookie = await identities.start(provider, request, callback, redirect_to, link_token)
        response = RedirectResponse(url, status_code=status.HTTP_302_FOUND, headers=NO_STORE)
        response.set_cookie(
            FLOW_COOKIE,
            cookie,
            max_age=int(settings.oauth_flow_ttl.total_seconds()),
            **_cookie_scope(settings, request, provider),
        )
        return response


def _add_callback_route(router: APIRouter, deps: AccountDependencies) -> None:
    settings = deps.settings
    events = deps.events
    Identities = Annotated[IdentityService, Depends(deps.identity_service)]

    @router.get(
        _CALLBACK,
        tags=["auth"],
        name="auth:oauth_callback",
        summary="Return from an identity provider",
        status_code=status.HTTP_303_SEE_OTHER,
        response_class=RedirectResponse,
        responses=error_responses(OAuthFlowInvalid, DatabaseUnavailable),
    )
    async def callback(
        provider: str,
        request: Request,
        identities: Identities,
        background: BackgroundTasks,
        flow_cookie: Annotated[
            str | None,
            Cookie(
                alias=FLOW_COOKIE,
                description="Set by the authorize route: binds the sign-in to this browser.",
                json_schema_extra=not_null,
            ),
        ] = None,
    ) -> RedirectResponse:
        """Where the provider sends the browser back. It checks the sign-in (the browser's
        cookie, `state`, the ID token's signature, issuer, audience, expiry and `nonce`),
        applies the linking rules, and redirects to the sign-in's `redirect_to`."""
        flow = identities.flow(provider, flow_cookie)
        verify = settings.public_url + mount_path(request, _CALLBACK) + _VERIFY
        outcome = await identities.finish(flow, request, verify)
        for message in outcome.mails:
            background.add_task(events.context.send_mail, message)
        if outcome.registered is not None:
            background.add_task(events.user_registered, UserRead.model_validate(outcome.registered))
        response = RedirectResponse(
            _with_params(flow.redirect_to, outcome.params),
            status_code=status.HTTP_303_SEE_OTHER,
            headers=NO_STORE,
        )
        response.delete_cookie(FLOW_COOKIE, **_cookie_scope(settings, request, provider))
        return response


def _add_exchange_route(router: APIRouter, deps: AccountDependencies) -> None:
    Identities = Annotated[IdentityService, Depends(deps.identity_service)]
    Caller = Annotated[Client, Depends(deps.client)]

    @router.post(
        "/auth/oauth/exchange",
        tags=["auth"],
        name="auth:oauth_exchange",
        summary="Exchange a sign-in code for tokens",
        dependencies=[Depends(deps.limit_auth("oauth_exchange"))],
        response_model=TokenPair | MfaChallenge,
        responses=error_responses(InvalidOAuthCode, RateLimited, *BODY_ERRORS, DatabaseUnavailable),
    )
    async def exchange(
        body: OAuthCodeExchange, identities: Identities, client: Caller
    ) -> TokenPair | MfaChallenge:
        """Swap the `code` a provider sign-in appended to `redirect_to` (once, within
        `CONTACTS_KIT_OAUTH_CODE_TTL`) for a token pair, or, when the account has two-factor
        authentication, for `{"mfa_required": true, "mfa_token"}` (then `POST
        /auth/login/2fa`)."""
        return await identities.exchange(body.code, client)


def _add_identity_routes(router: APIRouter, deps: AccountDependencies) -> None:
    """The provider accounts linked to the current user's."""
    signed_in = error_responses(NotAuthenticated, InvalidToken, DatabaseUnavailable)
    User = Annotated[AuthenticatedUser, Depends(deps.current_user)]
    Identities = Annotated[IdentityService, Depends(deps.identity_service)]

    @router.get(
        "/users/me/identities",
        tags=["users"],
        name="users:identities",
        summary="List your linked provider accounts",
        response_model=list[IdentityRead],
        responses=signed_in,
    )
    async def identities(user: User, service: Identities) -> list[IdentityRead]:
        """The identity-provider accounts you can sign in with."""
        return await service.linked(user.id)

    @router.post(
        _LINK,
        tags=["users"],
        name="users:identity_link",
        summary="Link a provider account",
        response_model=LinkStart,
        responses=signed_in
        | error_responses(
            ProviderNotFound, ProviderAlreadyLinked, RedirectNotAllowed, *BODY_ERRORS
        ),
    )
    async def link(
        provider: str, body: LinkRequest, user: User, service: Identities, request: Request
    ) -> LinkStart:
        """Start linking an account of `provider` to yours: open the returned URL in the
        browser. After signing in with the provider, the browser comes back to
        `redirect_to` with `?linked=<provider>` (or `?error=`); your email hears of it."""
        service.check_redirect(body.redirect_to)
        token = await service.start_link(user.id, provider)
        url = (
            deps.settings.public_url
            + mount_path(request, _LINK)
            + _AUTHORIZE.format(provider=provider)
        )
        query = urlencode({"redirect_to": body.redirect_to, "link_token": token})
        return LinkStart(authorize_url=f"{url}?{query}")

    @router.delete(
        "/users/me/identities/{identity_id}",
        tags=["users"],
        name="users:identity_unlink",
        summary="Unlink a provider account",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=signed_in | error_responses(IdentityNotFound, LastLoginMethod),
    )
    async def unlink(identity_id: uuid.UUID, user: User, service: Identities) -> Response:
        """Stop signing in with this provider account. Refused when it is the only way into
        your account (no password, no other provider)."""
        await service.unlink(user.id, identity_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)
