"""SQL of accounts and refresh tokens. No HTTP here: only rows in, rows or domain errors out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.auth.models import RefreshToken, User
from contacts_kit.db.base import utcnow
from contacts_kit.errors import EmailAlreadyRegistered


class UserRepository:
    """Reads and writes `contacts_kit_users`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, email: str, hashed_password: str) -> User:
        """Insert an account; the unique index, not a prior SELECT, decides on duplicates."""
        user = User(email=email, hashed_password=hashed_password)
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise EmailAlreadyRegistered() from exc
        return user

    async def get(self, user_id: uuid.UUID) -> User | None:
        """The account with this id, if any."""
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        """The account with this (lower-cased) email, if any."""
        result = await self.session.execute(select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def replace_password(
        self, user_id: uuid.UUID, old_hash: str, new_hash: str, *, end_sessions: bool
    ) -> bool:
        """Swap the password hash if it is still `old_hash` (one statement, so a reset link
        cannot be used twice, even concurrently). `end_sessions` also bumps the token version,
        which kills every access token, and marks the email verified (the link proved it)."""
        values: dict[str, Any] = {"hashed_password": new_hash, "updated_at": utcnow()}
        if end_sessions:
            values |= {"token_version": User.token_version + 1, "is_verified": True}
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id, User.hashed_password == old_hash)
            .values(**values)
            .returning(User.id)
        )
        return result.first() is not None

    async def set_avatar(self, user_id: uuid.UUID, url: str) -> User | None:
        """Point the account at a new avatar URL; the updated row, or None if it is gone."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(avatar_url=url, updated_at=utcnow())
            .returning(User)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def mark_verified(self, user_id: uuid.UUID) -> None:
        """Set the verified flag."""
        await self.session.execute(
            update(User).where(User.id == user_id).values(is_verified=True, updated_at=utcnow())
        )

    async def delete(self, user_id: uuid.UUID) -> None:
        """Delete the account; its tokens and contacts go with it (ON DELETE CASCADE)."""
        await self.session.execute(delete(User).where(User.id == user_id))


class RefreshTokenRepository:
    """Reads and writes `contacts_kit_refresh_tokens`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        token_id: uuid.UUID,
        user_id: uuid.UUID,
        family_id: uuid.UUID,
        token_hash: str,
        expires_at: datetime,
    ) -> None:
        """Record an issued refresh token."""
        self.session.add(
            RefreshToken(
                id=token_id,
                user_id=user_id,
                family_id=family_id,
                token_hash=token_hash,
                expires_at=expires_at,
            )
        )
        await self.session.flush()

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        """The stored token with this hash, if any."""
        result = await self.session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        return result.scalar_one_or_none()

    async def consume(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Mark a live token used; False when it was already used, revoked or expired.

        A single conditional UPDATE, so two concurrent refreshes cannot both win.
        """
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(RefreshToken.id)
        )
        return result.first() is not None

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        """Revoke every token of one login session."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user(
        self, user_id: uuid.UUID, now: datetime, *, keep_family: uuid.UUID | None = None
    ) -> None:
        """Revoke every token of a user, except those of `keep_family`."""
        stmt = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if keep_family is not None:
            stmt = stmt.where(RefreshToken.family_id != keep_family)
        await self.session.execute(stmt.values(revoked_at=now))
