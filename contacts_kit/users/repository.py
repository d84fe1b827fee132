"""SQL of accounts. No HTTP here: only rows in, rows or domain errors out."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.db.base import utcnow
from contacts_kit.users.errors import EmailAlreadyRegistered
from contacts_kit.users.models import User


class UserRepository:
    """Reads and writes `contacts_kit_users` in the request's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, email: str, hashed_password: str | None, *, is_verified: bool = False
    ) -> User:
        """Insert an account; the unique index, not a prior SELECT, decides on duplicates."""
        user = User(email=email, hashed_password=hashed_password, is_verified=is_verified)
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
        self, user_id: uuid.UUID, old_hash: str | None, new_hash: str, *, end_sessions: bool
    ) -> bool:
        """Swap the password hash if it is still `old_hash` (one statement, so a reset link
        cannot be used twice, even concurrently). `end_sessions` also bumps the token version,
        which kills every access token, and marks the email verified (the link proved it)."""
        values: dict[str, Any] = {"hashed_password": new_hash, "updated_at": utcnow()}
        if end_sessions:
            values |= {"token_version": User.token_version + 1, "is_verified": True}
        result = await self.session.execute(
            update(User)
            .where(
                User.id == user_id,
                User.hashed_password.is_(None)
                if old_hash is None
                else User.hashed_password == old_hash,
            )
            .values(**values)
            .returning(User.id)
        )
        return result.first() is not None

    async def hold(self, user_id: uuid.UUID) -> User | None:
        """The account, its row locked until the transaction ends, or None if it is gone.
        A write (its `updated_at`), so that SQLite takes its write lock as PostgreSQL takes
        the row's: a second writer of the account waits here, then reads what the first
        committed."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(updated_at=utcnow())
            .returning(User)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def set_avatar(self, user_id: uuid.UUID, url: str, key: str) -> User | None:
        """Point the account at a new avatar; the updated row, or None if it is gone."""
        result = await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(avatar_url=url, avatar_key=key, updated_at=utcnow())
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
        """Delete the account; its tokens go with it (ON DELETE CASCADE)."""
        await self.session.execute(delete(User).where(User.id == user_id))
