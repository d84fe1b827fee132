"""Account logic: signup, login, token rotation, logout, deletion and the current user."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.auth.models import User
from contacts_kit.auth.repository import RefreshTokenRepository, UserRepository
from contacts_kit.auth.schemas import AuthenticatedUser, TokenPair, UserCreate
from contacts_kit.auth.tokens import TokenType, hash_token
from contacts_kit.backends.protocols import MailMessage
from contacts_kit.db.session import after_commit
from contacts_kit.errors import (
    EmailNotVerified,
    InvalidCredentials,
    InvalidResetToken,
    InvalidToken,
    InvalidVerificationToken,
)
from contacts_kit.mail import describe_duration

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit


def _fingerprint(hashed_password: str) -> str:
    """A digest of the password hash, so a reset token can be bound to it without carrying it."""
    return hashlib.sha256(hashed_password.encode()).hexdigest()[:32]


def user_cache_key(user_id: uuid.UUID | str) -> str:
    """Cache key of one user's `AuthenticatedUser` JSON."""
    return f"contacts_kit:user:{user_id}"


def _subject(kit: ContactsKit, access_token: str) -> tuple[uuid.UUID, object]:
    claims = kit.tokens.decode(access_token, TokenType.ACCESS)
    try:
        return uuid.UUID(claims.sub), claims.extra.get("ver")
    except ValueError as exc:
        raise InvalidToken() from exc


async def cached_user(
    kit: ContactsKit, user_id: uuid.UUID, version: object
) -> AuthenticatedUser | None:
    """The cached user if the entry matches the token's version; None means ask the database."""
    cached = await kit.cache.get(user_cache_key(user_id))
    if cached is None:
        return None
    user = AuthenticatedUser.model_validate_json(cached)
    return user if user.token_version == version else None


async def authenticate(kit: ContactsKit, access_token: str) -> AuthenticatedUser:
    """The current user of a token; a database session is opened only when the cache misses."""
    user_id, version = _subject(kit, access_token)
    user = await cached_user(kit, user_id, version)
    if user is not None:
        return user
    async with kit.read_session_factory() as session:
        return await AuthService(kit, session).load_user(user_id, version)


class AuthService:
    """Account operations of one request, inside that request's transaction."""

    def __init__(self, kit: ContactsKit, session: AsyncSession) -> None:
        self.kit = kit
        self.session = session
        self.users = UserRepository(session)
        self.tokens = RefreshTokenRepository(session)

    async def signup(self, data: UserCreate) -> User:
        """Create an account; `EmailAlreadyRegistered` when the email is taken."""
        hashed = await self.kit.passwords.hash(data.password)
        return await self.users.add(data.email, hashed)

    async def login(self, email: str, password: str) -> TokenPair:
        """A new token pair (a new family) for valid credentials; one 401 for every mismatch."""
        user = await self.users.get_by_email(email)
        valid = await self.kit.passwords.verify(password, user.hashed_password if user else None)
        if user is None or not valid:
            raise InvalidCredentials()
        # Checked after the password, so only the owner learns the account is unverified.
        if self.kit.settings.require_verified_email and not user.is_verified:
            raise EmailNotVerified()
        return await self._issue_pair(user, family_id=uuid.uuid4())

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate: the presented token is spent and a new pair of the same family returned.

        A token presented a second time revokes its whole family (reuse detection).
        """
        self.kit.tokens.decode(refresh_token, TokenType.REFRESH)
        stored = await self.tokens.get_by_hash(hash_token(refresh_token))
        if stored is None:
            raise InvalidToken()
        now = self.kit.now()
        if not await self.tokens.consume(stored.id, now):
            if stored.revoked_at is None and stored.expires_at > now:
                # Spent already: someone replayed it. Kill the session and keep that decision
                # even though this request fails.
                await self.tokens.revoke_family(stored.family_id, now)
                await self.session.commit()
                raise InvalidToken("This refresh token was already used; the session is revoked.")
            raise InvalidToken()
        user = await self.users.get(stored.user_id)
        if user is None:
            raise InvalidToken()
        return await self._issue_pair(user, family_id=stored.family_id)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the login session the refresh token belongs to."""
        self.kit.tokens.decode(refresh_token, TokenType.REFRESH)
        stored = await self.tokens.get_by_hash(hash_token(refresh_token))
        if stored is not None:
            await self.tokens.revoke_family(stored.family_id, self.kit.now())

    async def delete_account(self, user_id: uuid.UUID, password: str) -> None:
        """Delete the account and everything it owns, after checking its password."""
        user = await self.users.get(user_id)
        hashed = user.hashed_password if user else None
        if user is None or not await self.kit.passwords.verify(password, hashed):
            raise InvalidCredentials("Incorrect password.")
        await self.users.delete(user.id)
        self.invalidate_user(user.id)

    def verification_message(self, user: User) -> MailMessage:
        """The email with the link that verifies `user`'s address."""
        settings = self.kit.settings
        token, _ = self.kit.tokens.encode(
            str(user.id), TokenType.VERIFY_EMAIL, settings.verify_token_ttl, email=user.email
        )
        link = (
            f"{settings.public_url}{settings.api_prefix}/auth/verify?{urlencode({'token': token})}"
        )
        return self.kit.mail.compose(
            "verify_email",
            user.email,
            email=user.email,
            link=link,
            valid_for=describe_duration(settings.verify_token_ttl),
        )

    async def verify_email(self, token: str) -> User:
        """Mark the account of a verification token verified; idempotent."""
        try:
            claims = self.kit.tokens.decode(token, TokenType.VERIFY_EMAIL)
            user = await self.users.get(uuid.UUID(claims.sub))
        except (InvalidToken, ValueError) as exc:
            raise InvalidVerificationToken() from exc
        # The link is bound to the address it was sent to.
        if user is None or claims.extra.get("email") != user.email:
            raise InvalidVerificationToken()
        if not user.is_verified:
            await self.users.mark_verified(user.id)
            user.is_verified = True
            self.invalidate_user(user.id)
        return user

    async def resend_verification(self, email: str) -> MailMessage | None:
        """A new verification email, or None when there is nothing to verify (kept secret)."""
        user = await self.users.get_by_email(email)
        if user is None or user.is_verified:
            return None
        return self.verification_message(user)

    async def password_reset_message(self, email: str) -> MailMessage | None:
        """The email with a reset link, or None for an unknown address (kept secret)."""
        user = await self.users.get_by_email(email)
        if user is None:
            return None
        settings = self.kit.settings
        token, _ = self.kit.tokens.encode(
            str(user.id),
            TokenType.RESET_PASSWORD,
            settings.reset_token_ttl,
            pwd=_fingerprint(user.hashed_password),
        )
        page = settings.password_reset_url or (
            f"{settings.public_url}{settings.api_prefix}/auth/password-reset/confirm"
        )
        link = f"{page}{'&' if '?' in page else '?'}{urlencode({'token': token})}"
        return self.kit.mail.compose(
            "reset_password",
            user.email,
            email=user.email,
            link=link,
            valid_for=describe_duration(settings.reset_token_ttl),
        )

    async def reset_password(self, token: str, new_password: str) -> None:
        """Set a new password from a reset link; every session and access token ends."""
        try:
            claims = self.kit.tokens.decode(token, TokenType.RESET_PASSWORD)
            user = await self.users.get(uuid.UUID(claims.sub))
        except (InvalidToken, ValueError) as exc:
            raise InvalidResetToken() from exc
        # Bound to the password hash of the moment it was issued: it dies once used.
        if user is None or claims.extra.get("pwd") != _fingerprint(user.hashed_password):
            raise InvalidResetToken()
        new_hash = await self.kit.passwords.hash(new_password)
        if not await self.users.replace_password(
            user.id, user.hashed_password, new_hash, end_sessions=True
        ):
            raise InvalidResetToken()
        await self.tokens.revoke_user(user.id, self.kit.now())
        self.invalidate_user(user.id)

    async def change_password(
        self,
        user_id: uuid.UUID,
        current_password: str,
        new_password: str,
        keep_family: uuid.UUID | None,
    ) -> None:
        """Change the password after checking the current one; other sessions end."""
        user = await self.users.get(user_id)
        hashed = user.hashed_password if user else None
        if user is None or not await self.kit.passwords.verify(current_password, hashed):
            raise InvalidCredentials("Incorrect current password.")
        new_hash = await self.kit.passwords.hash(new_password)
        if not await self.users.replace_password(
            user.id, user.hashed_password, new_hash, end_sessions=False
        ):
            raise InvalidCredentials("The password was changed meanwhile; try again.")
        await self.tokens.revoke_user(user.id, self.kit.now(), keep_family=keep_family)
        self.invalidate_user(user.id)

    async def load_user(self, user_id: uuid.UUID, version: object) -> AuthenticatedUser:
        """The user of a verified token from the database, then cached for the next requests."""
        row = await self.users.get(user_id)
        if row is None or row.token_version != version:
            raise InvalidToken()
        user = AuthenticatedUser.model_validate(row)
        await self.kit.cache.set(
            user_cache_key(user_id), user.model_dump_json(), self.kit.settings.user_cache_ttl
        )
        return user

    def invalidate_user(self, user_id: uuid.UUID) -> None:
        """Drop the cached user once the current transaction has committed."""
        after_commit(self.session, lambda: self.kit.cache.delete(user_cache_key(user_id)))

    async def _issue_pair(self, user: User, *, family_id: uuid.UUID) -> TokenPair:
        settings = self.kit.settings
        access, _ = self.kit.tokens.encode(
            str(user.id),
            TokenType.ACCESS,
            settings.access_token_ttl,
            ver=user.token_version,
            fam=str(family_id),
        )
        refresh, claims = self.kit.tokens.encode(
            str(user.id), TokenType.REFRESH, settings.refresh_token_ttl
        )
        await self.tokens.add(
            token_id=uuid.UUID(claims.jti),
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_token(refresh),
            expires_at=datetime.fromtimestamp(claims.exp, UTC),
        )
        return TokenPair(access_token=access, refresh_token=refresh)
