"""SQL of refresh tokens. No HTTP here: only rows in, rows out."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.auth.models import RefreshToken


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

    async def ended_families(self, user_id: uuid.UUID, since: datetime) -> list[uuid.UUID]:
        """The user's sessions (refresh families) revoked at or after `since`."""
        result = await self.session.execute(
            select(RefreshToken.family_id)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at >= since)
            .distinct()
        )
        return list(result.scalars())
