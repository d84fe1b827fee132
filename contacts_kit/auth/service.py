"""Signing up and in: accounts, token rotation, logout, verification and password resets."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contacts_kit.auth.errors import (
    EmailNotVerified,
    InvalidMfaCode,
    InvalidResetToken,
    InvalidToken,
    InvalidVerificationToken,
    MfaRequired,
    SessionNotFound,
    TotpAlreadyEnabled,
    TotpNotEnabled,
    TotpNotStarted,
)
from contacts_kit.auth.models import TotpFactor
from contacts_kit.auth.repository import RefreshTokenRepository, TotpRepository
from contacts_kit.auth.schemas import (
    MfaChallenge,
    SecondFactor,
    SessionRead,
    TokenPair,
    TotpEnrolment,
    TwoFactorStatus,
    UserCreate,
)
from contacts_kit.auth.tokens import TokenCodec, TokenType, hash_token
from contacts_kit.auth.totp import (
    SecretBox,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    qr_svg,
    recovery_code_hash,
)
from contacts_kit.backends.protocols import MailMessage
from contacts_kit.mail import MailComposer, describe_duration
from contacts_kit.settings import Settings
from contacts_kit.users.cache import CachedUser, UserCache
from contacts_kit.users.errors import InvalidCredentials
from contacts_kit.users.models import User
from contacts_kit.users.passwords import PasswordHasher
from contacts_kit.users.repository import UserRepository
from contacts_kit.users.schemas import AuthenticatedUser


def _fingerprint(hashed_password: str | None) -> str:
    """A digest of the password hash, so a reset token can be bound to it without carrying it
    (an account without a password has one too: setting a password voids the token)."""
    return hashlib.sha256((hashed_password or "").encode()).hexdigest()[:32]


def _with_token(page: str, token: str) -> str:
    return f"{page}{'&' if '?' in page else '?'}{urlencode({'token': token})}"


USER_AGENT_MAX = 255


def coarse_address(address: str) -> str | None:
    """The network of a client address, as much as a session list should tell: a /24 for
    IPv4 (an IPv4-mapped IPv6 address counts as IPv4), a /48 for IPv6; None when it is not an
    IP address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass(frozen=True)
class Client:
    """Who a token pair is issued to, as the list of sessions shows it."""

    user_agent: str | None = None
    address: str | None = None

    @classmethod
    def of(cls, user_agent: str | None, address: str) -> Client:
        """From a request's `User-Agent` (cut to 255 characters) and client address."""
        return cls(user_agent[:USER_AGENT_MAX] if user_agent else None, coarse_address(address))


NO_CLIENT = Client()


class AuthService:
    """Account operations of one request, inside that request's transaction."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        settings: Settings,
        passwords: PasswordHasher,
        tokens: TokenCodec,
        secret_box: SecretBox,
        user_cache: UserCache,
        mail: MailComposer,
        clock: Callable[[], datetime],
    ) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.refresh_tokens = RefreshTokenRepository(session)
        self.totp = TotpRepository(session)
        self.settings = settings
        self.passwords = passwords
        self.tokens = tokens
        self.secret_box = secret_box
        self.user_cache = user_cache
        self.mail = mail
        self.now = clock

    async def signup(self, data: UserCreate) -> User:
        """Create an account; `EmailAlreadyRegistered` when the email is taken."""
        hashed = await self.passwords.hash(data.password)
        return await self.users.add(data.email, hashed)

    async def login(
        self, email: str, password: str, client: Client = NO_CLIENT
    ) -> TokenPair | MfaChallenge:
        """A new token pair (a new family) for valid credentials, or, when the account has
        two-factor authentication, the challenge of the second step; one 401 for every
        mismatch."""
        user = await self.users.get_by_email(email)
        valid = await self.passwords.verify(password, user.hashed_password if user else None)
        if user is None or not valid:
            raise InvalidCredentials()
        # Checked after the password, so only the owner learns the account is unverified.
        if self.settings.require_verified_email and not user.is_verified:
            raise EmailNotVerified()
        return await self.open_session(user, client)

    async def open_session(
        self, user: User, client: Client = NO_CLIENT
    ) -> TokenPair | MfaChallenge:
        """After a first factor (a password, a provider): a new session's token pair, or the
        challenge of the second step when the account has two-factor authentication."""
        factor = await self.totp.get(user.id)
        if factor is not None and factor.enabled_at is not None:
            token, _ = self.tokens.encode(
                str(user.id),
                TokenType.MFA,
                self.settings.mfa_token_ttl,
                pwd=_fingerprint(user.hashed_password),
            )
            return MfaChallenge(mfa_token=token)
        return await self._issue_pair(user, family_id=uuid.uuid4(), client=client)

    async def password_login(
        self, email: str, password: str, client: Client = NO_CLIENT
    ) -> TokenPair:
        """`login` for the OAuth2 password form, which has no second step: `MfaRequired`."""
        answer = await self.login(email, password, client)
        if isinstance(answer, MfaChallenge):
            raise MfaRequired()
        return answer

    def mfa_user(self, mfa_token: str) -> uuid.UUID:
        """The user a login's `mfa_token` is for; `InvalidToken` for anything else."""
        claims = self.tokens.decode(mfa_token, TokenType.MFA)
        try:
            return uuid.UUID(claims.sub)
        except ValueError as exc:
            raise InvalidToken() from exc

    async def login_second_factor(
        self, mfa_token: str, second: SecondFactor, client: Client = NO_CLIENT
    ) -> tuple[TokenPair, User, int | None]:
        """The second step of a login: its token pair, the user, and the recovery codes left
        when one was used (None for an authenticator code)."""
        claims = self.tokens.decode(mfa_token, TokenType.MFA)
        user = await self.users.get(self.mfa_user(mfa_token))
        # Bound to the password that passed the first step: a change or a reset voids it.
        if user is None or claims.extra.get("pwd") != _fingerprint(user.hashed_password):
            raise InvalidToken()
        try:
            left = await self._second_factor(user.id, second.code, second.recovery_code)
        except TotpNotEnabled as exc:  # turned off since the first step: log in again
            raise InvalidToken() from exc
        pair = await self._issue_pair(user, family_id=uuid.uuid4(), client=client)
        return pair, user, left

    async def _second_factor(
        self, user_id: uuid.UUID, code: str | None, recovery_code: str | None
    ) -> int | None:
        """Check and spend an authenticator code or a recovery code of the user: None, or
        the recovery codes left after the one used; `InvalidMfaCode` or `TotpNotEnabled`."""
        factor = await self.totp.get(user_id, lock=True)
        if factor is None or factor.enabled_at is None:
            raise TotpNotEnabled()
        if code is not None:
            await self._spend_code(factor, code)
            return None
        hashed = recovery_code_hash(recovery_code or "")
        if not await self.totp.spend_recovery_code(user_id, hashed, self.now()):
            raise InvalidMfaCode()
        return await self.totp.recovery_codes_left(user_id)

    async def _spend_code(self, factor: TotpFactor, code: str) -> None:
        secret = self.secret_box.open(factor.encrypted_secret, str(factor.user_id))
        step = None if secret is None else matching_step(secret, code, self.now())
        if step is None or not await self.totp.spend_step(factor.user_id, step):
            raise InvalidMfaCode()

    async def start_totp(self, user: AuthenticatedUser) -> TotpEnrolment:
        """A new authenticator secret for the user, pending until a code confirms it (a new
        start replaces a pending one); `TotpAlreadyEnabled` when one is on."""
        factor = await self.totp.get(user.id, lock=True)
        if factor is not None and factor.enabled_at is not None:
            raise TotpAlreadyEnabled()
        secret = new_secret()
        await self.totp.start(user.id, self.secret_box.seal(secret, str(user.id)), self.now())
        uri = provisioning_uri(secret, user.email, self.settings.totp_issuer)
        return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg(uri))

    async def confirm_totp(self, user_id: uuid.UUID, code: str) -> list[str]:
        """Turn the pending authenticator on with its first code; the new recovery codes,
        which are stored only hashed."""
        factor = await self.totp.get(user_id, lock=True)
        if factor is None:
            raise TotpNotStarted()
        if factor.enabled_at is not None:
            raise TotpAlreadyEnabled()
        await self._spend_code(factor, code)
        codes = new_recovery_codes()
        await self.totp.enable(user_id, self.now(), [recovery_code_hash(c) for c in codes])
        return codes

    async def disable_totp(
        self, user_id: uuid.UUID, password: str, code: str | None, recovery_code: str | None
    ) -> User:
        """Turn two-factor authentication off, after checking the password and a code."""
        user = await self.users.get(user_id)
        hashed = user.hashed_password if user else None
        if user is None or not await self.passwords.verify(password, hashed):
            raise InvalidCredentials("Incorrect password.")
        await self._second_factor(user_id, code, recovery_code)
        await self.totp.remove(user_id)
        return user

    async def two_factor(self, user_id: uuid.UUID) -> TwoFactorStatus:
        """Whether the user has two-factor authentication on, and the recovery codes left."""
        factor = await self.totp.get(user_id)
        enabled = factor is not None and factor.enabled_at is not None
        left = await self.totp.recovery_codes_left(user_id) if enabled else 0
        return TwoFactorStatus(totp_enabled=enabled, recovery_codes_left=left)

    def security_notice(self, name: str, email: str, **context: object) -> MailMessage:
        """A mail telling the user of a change to how their account is protected."""
        return self.mail.compose(name, email, email=email, **context)

    async def refresh(self, refresh_token: str, client: Client = NO_CLIENT) -> TokenPair:
        """Rotate: the presented token is spent and a new pair of the same family returned.

        A token presented a second time revokes its whole family (reuse detection).
        """
        self.tokens.decode(refresh_token, TokenType.REFRESH)
        stored = await self.refresh_tokens.get_by_hash(hash_token(refresh_token))
        if stored is None:
            raise InvalidToken()
        now = self.now()
        if not await self.refresh_tokens.consume(stored.id, now):
            if stored.revoked_at is None and stored.expires_at > now:
                # Spent already: someone replayed it. Kill the session and keep that decision
                # even though this request fails.
                await self.refresh_tokens.revoke_family(stored.family_id, now)
                await self.session.commit()
                await self.user_cache.forget(stored.user_id)
                raise InvalidToken("This refresh token was already used; the session is revoked.")
            raise InvalidToken()
        user = await self.users.get(stored.user_id)
        if user is None:
            raise InvalidToken()
        return await self._issue_pair(user, family_id=stored.family_id, client=client)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the login session the refresh token belongs to."""
        self.tokens.decode(refresh_token, TokenType.REFRESH)
        stored = await self.refresh_tokens.get_by_hash(hash_token(refresh_token))
        if stored is not None:
            await self.refresh_tokens.revoke_family(stored.family_id, self.now())
            self.user_cache.forget_after_commit(self.session, stored.user_id)

    async def sessions(self, user_id: uuid.UUID, access_token: str | None) -> list[SessionRead]:
        """The user's live sessions, the one of `access_token` marked current."""
        current = self._family(access_token)
        return [
            SessionRead(
                id=live.family_id,
                created_at=live.started_at,
                last_used_at=live.refreshed_at,
                user_agent=live.user_agent,
                client_address=live.client_address,
                current=live.family_id == current,
            )
            for live in await self.refresh_tokens.live_sessions(user_id, self.now())
        ]

    async def end_session(self, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
        """End one of the user's sessions: its refresh token and its access tokens die."""
        if not await self.refresh_tokens.end_session(user_id, session_id, self.now()):
            raise SessionNotFound()
        self.user_cache.forget_after_commit(self.session, user_id)

    async def logout_all(self, user_id: uuid.UUID) -> None:
        """End every session of the user, the caller's included."""
        await self.refresh_tokens.revoke_user(user_id, self.now())
        self.user_cache.forget_after_commit(self.session, user_id)

    def verification_message(self, user: User, verify_url: str) -> MailMessage:
        """The email with the link (to `verify_url`) that verifies `user`'s address."""
        settings = self.settings
        token, _ = self.tokens.encode(
            str(user.id), TokenType.VERIFY_EMAIL, settings.verify_token_ttl, email=user.email
        )
        link = _with_token(verify_url, token)
        return self.mail.compose(
            "verify_email",
            user.email,
            email=user.email,
            link=link,
            valid_for=describe_duration(settings.verify_token_ttl),
        )

    async def verify_email(self, token: str) -> tuple[User, bool]:
        """Mark the account of a verification token verified; idempotent. The account, and
        whether this call verified it."""
        try:
            claims = self.tokens.decode(token, TokenType.VERIFY_EMAIL)
            user = await self.users.get(uuid.UUID(claims.sub))
        except (InvalidToken, ValueError) as exc:
            raise InvalidVerificationToken() from exc
        # The link is bound to the address it was sent to.
        if user is None or claims.extra.get("email") != user.email:
            raise InvalidVerificationToken()
        if user.is_verified:
            return user, False
        await self.users.mark_verified(user.id)
        user.is_verified = True
        self.user_cache.forget_after_commit(self.session, user.id)
        return user, True

    async def resend_verification(self, email: str, verify_url: str) -> MailMessage | None:
        """A new verification email, or None when there is nothing to verify (kept secret)."""
        user = await self.users.get_by_email(email)
        if user is None or user.is_verified:
            return None
        return self.verification_message(user, verify_url)

    async def password_reset_message(self, email: str, form_url: str) -> MailMessage | None:
        """The email with a reset link, or None for an unknown address (kept secret). The link
        points to `PASSWORD_RESET_URL` when set, to `form_url` (the kit's form) otherwise."""
        user = await self.users.get_by_email(email)
        if user is None:
            return None
        settings = self.settings
        token, _ = self.tokens.encode(
            str(user.id),
            TokenType.RESET_PASSWORD,
            settings.reset_token_ttl,
            pwd=_fingerprint(user.hashed_password),
        )
        link = _with_token(settings.password_reset_url or form_url, token)
        return self.mail.compose(
            "reset_password",
            user.email,
            email=user.email,
            link=link,
            valid_for=describe_duration(settings.reset_token_ttl),
        )

    async def reset_password(self, token: str, new_password: str) -> User:
        """Set a new password from a reset link; every session and access token ends."""
        try:
            claims = self.tokens.decode(token, TokenType.RESET_PASSWORD)
            user = await self.users.get(uuid.UUID(claims.sub))
        except (InvalidToken, ValueError) as exc:
            raise InvalidResetToken() from exc
        # Bound to the password hash of the moment it was issued: it dies once used.
        if user is None or claims.extra.get("pwd") != _fingerprint(user.hashed_password):
            raise InvalidResetToken()
        new_hash = await self.passwords.hash(new_password)
        if not await self.users.replace_password(
            user.id, user.hashed_password, new_hash, end_sessions=True
        ):
            raise InvalidResetToken()
        await self.refresh_tokens.revoke_user(user.id, self.now())
        self.user_cache.forget_after_commit(self.session, user.id)
        return user

    async def change_password(
        self,
        user_id: uuid.UUID,
        current_password: str,
        new_password: str,
        access_token: str | None,
    ) -> User:
        """Change the password after checking the current one; the other sessions end, the
        one of `access_token` stays."""
        keep_family = self._family(access_token)
        user = await self.users.get(user_id)
        hashed = user.hashed_password if user else None
        if user is None or not await self.passwords.verify(current_password, hashed):
            raise InvalidCredentials("Incorrect current password.")
        new_hash = await self.passwords.hash(new_password)
        if not await self.users.replace_password(
            user.id, user.hashed_password, new_hash, end_sessions=False
        ):
            raise InvalidCredentials("The password was changed meanwhile; try again.")
        await self.refresh_tokens.revoke_user(user.id, self.now(), keep_family=keep_family)
        self.user_cache.forget_after_commit(self.session, user.id)
        return user

    def _family(self, access_token: str | None) -> uuid.UUID | None:
        """The session (refresh family) an access token belongs to, if it names one."""
        if access_token is None:
            return None
        try:
            family = self.tokens.decode(access_token, TokenType.ACCESS).extra.get("fam")
            return uuid.UUID(family) if isinstance(family, str) else None
        except (InvalidToken, ValueError):
            return None

    async def _issue_pair(
        self, user: User, *, family_id: uuid.UUID, client: Client = NO_CLIENT
    ) -> TokenPair:
        settings = self.settings
        access, _ = self.tokens.encode(
            str(user.id),
            TokenType.ACCESS,
            settings.access_token_ttl,
            ver=user.token_version,
            fam=str(family_id),
        )
        refresh, claims = self.tokens.encode(
            str(user.id), TokenType.REFRESH, settings.refresh_token_ttl
        )
        await self.refresh_tokens.add(
            token_id=uuid.UUID(claims.jti),
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_token(refresh),
            expires_at=datetime.fromtimestamp(claims.exp, UTC),
            user_agent=client.user_agent,
            client_address=client.address,
        )
        return TokenPair(access_token=access, refresh_token=refresh)


class Authenticator:
    """Turns an access token into the current user: the cache first, the database on a miss.

    An access token names its session (`fam`, the refresh family it was issued with). It is
    refused once that session has ended (logout, a replayed refresh token, a password
    change): the ended sessions of the last access-token lifetime travel with the cached
    user, and ending one forgets that entry, so a warm request needs no SQL to know.
    """

    def __init__(
        self,
        tokens: TokenCodec,
        user_cache: UserCache,
        sessions: async_sessionmaker[AsyncSession],
        access_token_ttl: timedelta,
        clock: Callable[[], datetime],
        also: Callable[[uuid.UUID], list[str]] | None = None,
    ) -> None:
        self.tokens = tokens
        self.also = also
        """The cache keys to read with a user, for another module (`read_with`)."""
        self.user_cache = user_cache
        self.sessions = sessions
        # Sessions ended longer ago than this have no live access token left (plus leeway
        # for the clock skew tokens are allowed).
        self.remembered = access_token_ttl + timedelta(minutes=1)
        self.now = clock

    async def user(self, access_token: str) -> AuthenticatedUser:
        """The user of a valid access token whose version is current and whose session is
        live; `InvalidToken` else."""
        claims = self.tokens.decode(access_token, TokenType.ACCESS)
        try:
            user_id = uuid.UUID(claims.sub)
            family = claims.extra.get("fam")
            session_id = uuid.UUID(family) if isinstance(family, str) else None
        except ValueError as exc:
            raise InvalidToken() from exc
        version = claims.extra.get("ver")
        also = self.also(user_id) if self.also is not None else None
        cached, read_with = await self.user_cache.get(user_id, also)
        if cached is None or cached.user.token_version != version:
            cached = await self._load(user_id, version)
        if session_id is not None and session_id in cached.ended_sessions:
            raise InvalidToken("This session has ended; log in again.")
        user = cached.user
        user.read_with = read_with
        return user

    async def _load(self, user_id: uuid.UUID, version: object) -> CachedUser:
        async with self.sessions() as session:
            row = await UserRepository(session).get(user_id)
            if row is None or row.token_version != version:
                raise InvalidToken()
            ended = await RefreshTokenRepository(session).ended_families(
                user_id, self.now() - self.remembered
            )
        entry = CachedUser(
            user=AuthenticatedUser.model_validate(row), ended_sessions=frozenset(ended)
        )
        await self.user_cache.put(entry)
        return entry
