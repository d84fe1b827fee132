"""Signing in with identity providers: the sign-in's round trip, the linking rules (written out
in docs/security.md), the one-time codes, and the identities linked to an account."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from contacts_kit.auth.errors import (
    IdentityNotFound,
    InvalidOAuthCode,
    InvalidToken,
    LastLoginMethod,
    OAuthFlowInvalid,
    ProviderAlreadyLinked,
    ProviderNotFound,
    ProviderUnavailable,
    RedirectNotAllowed,
)
from contacts_kit.auth.models import Identity
from contacts_kit.auth.providers import ProviderError, ProviderProfile, Providers
from contacts_kit.auth.repository import IdentityRepository
from contacts_kit.auth.schemas import IdentityRead, MfaChallenge, TokenPair
from contacts_kit.auth.service import NO_CLIENT, AuthService, Client
from contacts_kit.auth.tokens import TokenCodec, TokenType, hash_token
from contacts_kit.backends.protocols import MailMessage
from contacts_kit.settings import Settings
from contacts_kit.users.errors import EmailAlreadyRegistered
from contacts_kit.users.models import User
from contacts_kit.users.repository import UserRepository


@dataclass(frozen=True)
class Flow:
    """A sign-in between its redirect to the provider and the callback, as the browser's
    cookie carries it."""

    provider: str
    redirect_to: str
    link_user: uuid.UUID | None
    session: dict[str, Any]


@dataclass
class Outcome:
    """What a callback ends with: the parameters for `redirect_to` (a `code`, `linked`, or an
    `error`), the mails to send after the commit, and the account it created, if any."""

    params: dict[str, str]
    mails: list[MailMessage] = field(default_factory=list)
    registered: User | None = None


def allowed_redirect(redirect_to: str, allowlist: list[str]) -> bool:
    """Whether `redirect_to` has the scheme, host and port of an allow-listed URL and a path
    under its path (at a `/` boundary). A path with a dot segment (`..`, `.`, written plain
    or percent-encoded) or a backslash is refused: a browser resolves it to another path of
    the origin than the one the allow-list saw."""
    target = urlsplit(redirect_to)
    if target.username is not None or target.password is not None:
        return False
    decoded = unquote(target.path)
    if "\\" in decoded or any(part in (".", "..") for part in decoded.split("/")):
        return False
    for allowed in map(urlsplit, allowlist):
        if (target.scheme, target.netloc.lower()) != (allowed.scheme, allowed.netloc.lower()):
            continue
        base = allowed.path.rstrip("/")
        if target.path == base or target.path.startswith(base + "/") or not base:
            return True
    return False


class IdentityService:
    """Provider sign-ins and linked identities, inside the request's transaction."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        auth: AuthService,
        providers: Providers,
        tokens: TokenCodec,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self.identities = IdentityRepository(session)
        self.users = UserRepository(session)
        self.auth = auth
        self.providers = providers
        self.tokens = tokens
        self.settings = settings
        self.now = clock

    def _provider(self, name: str) -> str:
        if name not in self.providers:
            raise ProviderNotFound()
        return name

    def check_redirect(self, redirect_to: str) -> str:
        """`redirect_to` if the allow-list has it; `RedirectNotAllowed` else."""
        if not allowed_redirect(redirect_to, self.settings.oauth_redirect_allowlist):
            raise RedirectNotAllowed()
        return redirect_to

    def link_token(self, user_id: uuid.UUID, provider: str) -> str:
        """A short-lived token that lets the browser start linking `provider` to the user."""
        token, _ = self.tokens.encode(
            str(user_id),
            TokenType.OAUTH_LINK,
            self.settings.oauth_flow_ttl,
            provider=self._provider(provider),
        )
        return token

    async def start(
        self,
        provider: str,
        request: Request,
        callback: str,
        redirect_to: str,
        link_token: str | None,
    ) -> tuple[str, str]:
        """The provider's authorize URL for a new sign-in (or a link, with `link_token`), and
        the value of the cookie that binds the sign-in to this browser."""
        self._provider(provider)
        self.check_redirect(redirect_to)
        link_user = None
        if link_token is not None:
            claims = self.tokens.decode(link_token, TokenType.OAUTH_LINK)
            if claims.extra.get("provider") != provider:
                raise InvalidToken("This link token is for another provider.")
            # Good once: a link token seen in a log or a history cannot link another account.
            if not await self.providers.store.first_use(f"link:{claims.jti}"):
                raise InvalidToken("This link token was used already; start the link again.")
            link_user = claims.sub
        try:
            url, session = await self.providers.authorize_url(provider, request, callback)
        except ProviderError as exc:
            raise ProviderUnavailable(exc.description) from exc
        cookie, _ = self.tokens.encode(
            "oauth",
            TokenType.OAUTH_FLOW,
            self.settings.oauth_flow_ttl,
            provider=provider,
            redirect_to=redirect_to,
            link=link_user,
            session=session,
        )
        return url, cookie

    def flow(self, provider: str, cookie: str | None) -> Flow:
        """The sign-in this browser started with `provider`; `OAuthFlowInvalid` for none."""
        if not cookie:
            raise OAuthFlowInvalid()
        try:
            claims = self.tokens.decode(cookie, TokenType.OAUTH_FLOW)
            link = claims.extra.get("link")
            flow = Flow(
                provider=str(claims.extra["provider"]),
                redirect_to=str(claims.extra["redirect_to"]),
                link_user=uuid.UUID(link) if isinstance(link, str) else None,
                session=dict(claims.extra["session"]),
            )
        except (InvalidToken, KeyError, ValueError, TypeError) as exc:
            raise OAuthFlowInvalid() from exc
        if flow.provider != provider:
            raise OAuthFlowInvalid()
        return flow

    async def finish(self, flow: Flow, request: Request, verify_url: str) -> Outcome:
        """Complete the sign-in at the callback. Refusals are outcomes with an `error` (the
        browser goes back to `redirect_to` with it), never a half-made account."""
        try:
            profile = await self.providers.profile(flow.provider, request, flow.session)
            if flow.link_user is not None:
                return await self._link(flow.link_user, profile)
            return await self._sign_in(profile, verify_url)
        except ProviderError as exc:
            return Outcome({"error": exc.error, "error_description": exc.description})

    async def _sign_in(self, profile: ProviderProfile, verify_url: str) -> Outcome:
        now = self.now()
        known = await self.identities.find(profile.provider, profile.subject)
        if known is not None:
            user = await self.users.get(known.user_id)
            if user is None:  # pragma: no cover - the identity goes with its user
                raise ProviderError("account_gone", "The linked account no longer exists.")
            await self.identities.touch(known.id, profile.email, now)
            return await self._signed_in(user)
        if profile.email is None:
            raise ProviderError(
                "email_required",
                f"{profile.provider} did not share an email address: allow it, or sign up "
                "with a password.",
            )
        existing = await self.users.get_by_email(profile.email)
        if existing is not None:
            # Linking by email alone is the classic takeover: only when both sides have
            # proved the address.
            if not (profile.email_verified and existing.is_verified):
                raise ProviderError(
                    "account_exists",
                    "An account with this email exists: log in to it, then link "
                    f"{profile.provider} from your account.",
                )
            await self._add_identity(existing.id, profile)
            outcome = await self._signed_in(existing)
            outcome.mails.append(self._linked_notice(existing, profile.provider))
            return outcome
        try:
            user = await self.users.add(profile.email, None, is_verified=profile.email_verified)
        except EmailAlreadyRegistered as exc:  # signed up at this very moment
            raise ProviderError("account_exists", "An account with this email exists.") from exc
        await self._add_identity(user.id, profile)
        if user.is_verified or not self.settings.require_verified_email:
            outcome = await self._signed_in(user)
        else:
            outcome = Outcome(
                {
                    "error": "email_not_verified",
                    "error_description": "Verify your email address: open the link we sent "
                    "you, then sign in again.",
                }
            )
        if not user.is_verified:
            outcome.mails.append(self.auth.verification_message(user, verify_url))
        outcome.registered = user
        return outcome

    async def _signed_in(self, user: User) -> Outcome:
        if self.settings.require_verified_email and not user.is_verified:
            raise ProviderError(
                "email_not_verified",
                "Verify your email address first: open the link we sent you.",
            )
        code = secrets.token_urlsafe(32)
        now = self.now()
        await self.identities.forget_codes(user.id, now)
        await self.identities.add_code(
            hash_token(code), user.id, now + self.settings.oauth_code_ttl
        )
        return Outcome({"code": code})

    async def _link(self, user_id: uuid.UUID, profile: ProviderProfile) -> Outcome:
        user = await self.users.get(user_id)
        if user is None:
            raise ProviderError("account_gone", "The account to link to no longer exists.")
        known = await self.identities.find(profile.provider, profile.subject)
        if known is not None and known.user_id != user_id:
            raise ProviderError(
                "identity_in_use",
                f"This {profile.provider} account is linked to another account of this service.",
            )
        if known is None:
            await self._add_identity(user_id, profile)
            return Outcome(
                {"linked": profile.provider}, [self._linked_notice(user, profile.provider)]
            )
        return Outcome({"linked": profile.provider})

    async def _add_identity(self, user_id: uuid.UUID, profile: ProviderProfile) -> Identity:
        identity = await self.identities.add(
            user_id, profile.provider, profile.subject, profile.email, self.now()
        )
        if identity is None:
            raise ProviderError(
                "provider_already_linked",
                f"Another {profile.provider} account is linked to this account already.",
            )
        return identity

    def _linked_notice(self, user: User, provider: str) -> MailMessage:
        return self.auth.security_notice("provider_linked", user.email, provider=provider)

    async def exchange(self, code: str, client: Client = NO_CLIENT) -> TokenPair | MfaChallenge:
        """Spend a sign-in code (once, before it expires) for a session's tokens, or the
        second step's challenge when the account has two-factor authentication."""
        user_id = await self.identities.spend_code(hash_token(code), self.now())
        user = await self.users.get(user_id) if user_id is not None else None
        if user is None:
            raise InvalidOAuthCode()
        return await self.auth.open_session(user, client)

    async def linked(self, user_id: uuid.UUID) -> list[IdentityRead]:
        """The provider accounts linked to the user."""
        return [IdentityRead.model_validate(i) for i in await self.identities.of_user(user_id)]

    async def start_link(self, user_id: uuid.UUID, provider: str) -> str:
        """A link token for `provider`; `ProviderAlreadyLinked` when the user has one."""
        self._provider(provider)
        if any(i.provider == provider for i in await self.identities.of_user(user_id)):
            raise ProviderAlreadyLinked()
        return self.link_token(user_id, provider)

    async def unlink(self, user_id: uuid.UUID, identity_id: uuid.UUID) -> None:
        """Unlink one of the user's identities, unless it is the only way to sign in."""
        mine = await self.identities.of_user(user_id, lock=True)
        if not any(i.id == identity_id for i in mine):
            raise IdentityNotFound()
        user = await self.users.get(user_id)
        if user is not None and user.hashed_password is None and len(mine) == 1:
            raise LastLoginMethod()
        await self.identities.remove(user_id, identity_id)
