"""SQL of refresh tokens, two-factor authentication and provider identities. No HTTP here:
only rows in, rows out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from contacts_kit.auth.models import Identity, OAuthCode, RecoveryCode, RefreshToken, TotpFactor


@dataclass(frozen=True)
class LiveSession:
    """A refresh family that can still refresh: its live token and when it started."""

    family_id: uuid.UUID
    started_at: datetime
    refreshed_at: datetime
    user_agent: str | None
    client_address: str | None


def _live(user_id: uuid.UUID, now: datetime) -> tuple[ColumnElement[bool], ...]:
    """The user's tokens that can still be spent: one per live session."""
    return (
        RefreshToken.user_id == user_id,
        RefreshToken.used_at.is_(None),
        RefreshToken.revoked_at.is_(None),
        RefreshToken.expires_at > now,
    )


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
        user_agent: str | None = None,
        client_address: str | None = None,
    ) -> None:
        """Record an issued refresh token."""
        self.session.add(
            RefreshToken(
                id=token_id,
                user_id=user_id,
                family_id=family_id,
                token_hash=token_hash,
                expires_at=expires_at,
                user_agent=user_agent,
                client_address=client_address,
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

    async def live_sessions(self, user_id: uuid.UUID, now: datetime) -> list[LiveSession]:
        """The user's sessions that can still refresh, the most recently refreshed first."""
        earlier = aliased(RefreshToken)
        started = (
            select(func.min(earlier.created_at))
            .where(earlier.family_id == RefreshToken.family_id)
            .scalar_subquery()
        )
        result = await self.session.execute(
            select(
                RefreshToken.family_id,
                started,
                RefreshToken.created_at,
                RefreshToken.user_agent,
                RefreshToken.client_address,
            )
            .where(*_live(user_id, now))
            .order_by(RefreshToken.created_at.desc(), RefreshToken.family_id)
        )
        return [LiveSession(*row) for row in result]

    async def end_session(self, user_id: uuid.UUID, family_id: uuid.UUID, now: datetime) -> bool:
        """Revoke one of the user's live sessions; False when it has none with this id."""
        live = await self.session.execute(
            select(RefreshToken.id).where(*_live(user_id, now), RefreshToken.family_id == family_id)
        )
        if live.first() is None:
            return False
        await self.revoke_family(family_id, now)
        return True


class TotpRepository:
    """Reads and writes `contacts_kit_totp_factors` and `contacts_kit_recovery_codes`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> TotpFactor | None:
        """The user's factor, pending or enabled; locked until the transaction ends."""
        statement = select(TotpFactor).where(TotpFactor.user_id == user_id)
        return await self.session.scalar(statement.with_for_update() if lock else statement)

    async def start(self, user_id: uuid.UUID, encrypted_secret: str, now: datetime) -> None:
        """A new pending factor, in place of any pending one."""
        await self.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
        self.session.add(
            TotpFactor(user_id=user_id, encrypted_secret=encrypted_secret, created_at=now)
        )
        await self.session.flush()

    async def spend_step(self, user_id: uuid.UUID, step: int) -> bool:
        """Record the time step of an accepted code; False when that step, or a later one,
        was used already (a replayed code)."""
        result = await self.session.execute(
            update(TotpFactor)
            .where(TotpFactor.user_id == user_id, TotpFactor.last_step < step)
            .values(last_step=step)
            .returning(TotpFactor.user_id)
        )
        return result.first() is not None

    async def enable(self, user_id: uuid.UUID, now: datetime, code_hashes: list[str]) -> None:
        """Turn the pending factor on, with a new set of recovery codes."""
        await self.session.execute(
            update(TotpFactor).where(TotpFactor.user_id == user_id).values(enabled_at=now)
        )
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        self.session.add_all(RecoveryCode(user_id=user_id, code_hash=h) for h in code_hashes)
        await self.session.flush()

    async def spend_recovery_code(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        """Use up an unused recovery code; False when there is none with this hash."""
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .returning(RecoveryCode.code_hash)
        )
        return result.first() is not None

    async def recovery_codes_left(self, user_id: uuid.UUID) -> int:
        """How many of the user's recovery codes are unused."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        return int(count or 0)

    async def remove(self, user_id: uuid.UUID) -> None:
        """Turn two-factor authentication off: the factor and the recovery codes go."""
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        await self.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))


class IdentityRepository:
    """Reads and writes `contacts_kit_identities` and `contacts_kit_oauth_codes`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, provider: str, subject: str) -> Identity | None:
        """The identity of this provider account, whoever it belongs to."""
        return await self.session.scalar(
            select(Identity).where(Identity.provider == provider, Identity.subject == subject)
        )

    async def of_user(self, user_id: uuid.UUID, *, lock: bool = False) -> list[Identity]:
        """The user's identities, oldest first; locked until the transaction ends."""
        statement = (
            select(Identity)
            .where(Identity.user_id == user_id)
            .order_by(Identity.created_at, Identity.id)
        )
        result = await self.session.scalars(statement.with_for_update() if lock else statement)
        return list(result)

    async def add(
        self, user_id: uuid.UUID, provider: str, subject: str, email: str | None, now: datetime
    ) -> Identity | None:
        """Link a provider account to the user; None when the provider account is linked
        already, or the user has an identity of this provider (the unique keys decide)."""
        identity = Identity(
            user_id=user_id,
            provider=provider,
            subject=subject,
            email=email,
            created_at=now,
            last_login_at=now,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(identity)
        except IntegrityError:
            return None
        return identity

    async def touch(self, identity_id: uuid.UUID, email: str | None, now: datetime) -> None:
        """Record a sign-in with the identity, and the email the provider gave this time."""
        await self.session.execute(
            update(Identity)
            .where(Identity.id == identity_id)
            .values(last_login_at=now, email=email)
        )

    async def remove(self, user_id: uuid.UUID, identity_id: uuid.UUID) -> bool:
        """Unlink one of the user's identities; False when the user has none with this id."""
        result = await self.session.execute(
            delete(Identity)
            .where(Identity.id == identity_id, Identity.user_id == user_id)
            .returning(Identity.id)
        )
        return result.first() is not None

    async def add_code(self, code_hash: str, user_id: uuid.UUID, expires_at: datetime) -> None:
        """Record a one-time sign-in code."""
        self.session.add(OAuthCode(code_hash=code_hash, user_id=user_id, expires_at=expires_at))
        await self.session.flush()

    async def spend_code(self, code_hash: str, now: datetime) -> uuid.UUID | None:
        """Use up a live one-time code (one statement, so twice at once still wins once);
        the user it signs in, or None."""
        result = await self.session.execute(
            update(OAuthCode)
            .where(
                OAuthCode.code_hash == code_hash,
                OAuthCode.used_at.is_(None),
                OAuthCode.expires_at > now,
            )
            .values(used_at=now)
            .returning(OAuthCode.user_id)
        )
        return result.scalar_one_or_none()

    async def forget_codes(self, user_id: uuid.UUID, before: datetime) -> None:
        """Delete the user's codes that expired or were spent before `before`."""
        await self.session.execute(
            delete(OAuthCode).where(OAuthCode.user_id == user_id, OAuthCode.expires_at < before)
        )
