"""The identity providers users sign in with, through authlib's Starlette client.

authlib keeps the state of a sign-in (state, nonce, PKCE verifier) in the kit's cache, and a
marker of it in `request.session`. The kit adds no session middleware to its host: the
"session" of one sign-in is a small dict that travels in a signed cookie of the kit's own,
scoped to the callback path, and is handed to authlib in a copy of the request's scope (RFC
6749, 10.12: the callback must come from the browser that started the sign-in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from starlette.requests import Request

from contacts_kit.backends.protocols import Cache
from contacts_kit.oauth_config import OAuthProvider
from contacts_kit.settings import Settings

PROVIDER_TIMEOUT = 10.0
"""Seconds the kit waits for a provider's endpoints (token, keys, user info)."""


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """Who the provider says signed in: its stable id of the account and the email."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool


class ProviderError(Exception):
    """A sign-in the provider refused or that failed a check; `error` is the short code the
    front end receives (`?error=...`)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class StateStore:
    """authlib's cache interface over the kit's cache (shared by every worker with Redis)."""

    def __init__(self, cache: Cache, ttl: int) -> None:
        self.cache = cache
        self.ttl = ttl

    async def get(self, key: str) -> str | None:
        return await self.cache.get(f"oauth:{key}")

    async def set(self, key: str, value: str, expires: int | None = None) -> None:
        await self.cache.set(f"oauth:{key}", value, min(expires or self.ttl, self.ttl))

    async def delete(self, key: str) -> None:
        await self.cache.delete(f"oauth:{key}")

    async def first_use(self, key: str) -> bool:
        """True the first time `key` is presented within the flow lifetime, False after."""
        if await self.get(key) is not None:
            return False
        await self.set(key, "1")
        return True


def _with_session(request: Request, session: dict[str, Any]) -> Request:
    """The request as authlib reads it, with `session` as its session."""
    return Request({**request.scope, "session": session}, request.receive)


class Providers:
    """The configured providers, each an authlib client."""

    def __init__(self, settings: Settings, cache: Cache) -> None:
        self.configs = {p.name: p for p in settings.oauth_providers}
        self.store = StateStore(cache, int(settings.oauth_flow_ttl.total_seconds()))
        self.oauth = OAuth(cache=self.store)
        for config in settings.oauth_providers:
            self._register(config)

    def _register(self, config: OAuthProvider) -> None:
        client_kwargs = {
            "scope": config.scopes,
            "code_challenge_method": "S256",
            "timeout": PROVIDER_TIMEOUT,
        }
        secret = config.client_secret.get_secret_value()
        if config.kind == "oidc":
            self.oauth.register(
                config.name,
                client_id=config.client_id,
                client_secret=secret,
                server_metadata_url=config.server_metadata_url,
                client_kwargs=client_kwargs,
            )
        else:
            self.oauth.register(
                config.name,
                client_id=config.client_id,
                client_secret=secret,
                authorize_url=config.authorize_url,
                access_token_url=config.token_url,
                api_base_url=config.api_url.rstrip("/") + "/",
                client_kwargs=client_kwargs,
            )

    def __contains__(self, name: str) -> bool:
        return name in self.configs

    async def authorize_url(
        self, name: str, request: Request, callback: str
    ) -> tuple[str, dict[str, Any]]:
        """Where to send the browser to sign in with `name`, and the sign-in's session (to
        keep in the browser until the callback)."""
        session: dict[str, Any] = {}
        try:
            response = await self.oauth.create_client(name).authorize_redirect(
                _with_session(request, session), callback
            )
        except (httpx2.HTTPError, ValueError, KeyError) as exc:
            # The discovery document is fetched on first use.
            raise ProviderError(
                "provider_unavailable", f"The provider {name!r} cannot be reached: {exc}"
            ) from exc
        return str(response.headers["location"]), session

    async def profile(
        self, name: str, request: Request, session: dict[str, Any]
    ) -> ProviderProfile:
        """Complete the sign-in at the callback: check the state against the session, swap
        the code for the provider's tokens (with the PKCE verifier), check the ID token
        (signature, issuer, audience, expiry, nonce) and say who signed in."""
        client = self.oauth.create_client(name)
        try:
            token = await client.authorize_access_token(_with_session(request, session))
            if self.configs[name].kind == "github":
                return await self._github_profile(name, client, token)
        except MismatchingStateError as exc:
            raise ProviderError(
                "invalid_state",
                "The sign-in's state does not match this browser's: start the sign-in again.",
            ) from exc
        except OAuthError as exc:
            if exc.error == "access_denied":
                raise ProviderError(
                    "access_denied", "The sign-in was declined at the provider."
                ) from exc
            raise ProviderError(
                "provider_error",
                f"The provider refused the sign-in: {exc.error} {exc.description or ''}".strip(),
            ) from exc
        except JoseError as exc:
            raise ProviderError(
                "invalid_id_token", f"The provider's ID token failed a check: {exc}"
            ) from exc
        except httpx2.HTTPError as exc:
            raise ProviderError(
                "provider_unavailable", f"The provider {name!r} did not answer: {exc}"
            ) from exc
        claims = token.get("userinfo")
        if not claims or not claims.get("sub"):
            raise ProviderError("invalid_id_token", "The provider sent no ID token.")
        email = claims.get("email")
        return ProviderProfile(
            provider=name,
            subject=str(claims["sub"]),
            email=email.lower() if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
        )

    async def _github_profile(
        self, name: str, client: Any, token: dict[str, Any]
    ) -> ProviderProfile:
        """GitHub has no ID token: the account from `GET /user`, the email from
        `GET /user/emails` (the primary one, with GitHub's word on its verification)."""
        user = await client.get("user", token=token)
        user.raise_for_status()
        account = user.json()
        emails = await client.get("user/emails", token=token)
        emails.raise_for_status()
        primary = next((e for e in emails.json() if e.get("primary")), None)
        if not isinstance(account, dict) or account.get("id") is None:
            raise ProviderError("provider_error", "GitHub sent no account id.")
        email = primary.get("email") if primary else None
        return ProviderProfile(
            provider=name,
            subject=str(account["id"]),
            email=email.lower() if isinstance(email, str) and email else None,
            email_verified=bool(primary and primary.get("verified") is True),
        )
