"""The tables of refresh tokens, two-factor authentication and identity-provider logins."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from contacts_kit.db.base import Base, UTCDateTime, utcnow


class RefreshToken(Base):
    """One issued refresh token, kept only as a hash; tokens of one login share a family."""

    __tablename__ = "contacts_kit_refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_kit_users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Of the client the token was issued to: what the list of sessions shows.
    user_agent: Mapped[str | None] = mapped_column(String(255), default=None)
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)


class TotpFactor(Base):
    """A user's TOTP authenticator: pending until a first code confirms it (`enabled_at`).
    The secret is kept encrypted (see `contacts_kit.auth.totp.SecretBox`)."""

    __tablename__ = "contacts_kit_totp_factors"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_kit_users.id", ondelete="CASCADE"), primary_key=True
    )
    encrypted_secret: Mapped[str] = mapped_column(String(255))
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The time step of the last code accepted: a code is good once (RFC 6238, 5.2).
    last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(Base):
    """One single-use recovery code of a user with TOTP, kept only as a hash."""

    __tablename__ = "contacts_kit_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_kit_users.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Identity(Base):
    """A provider account linked to a user: signing in with it signs in as the user. One per
    provider and user; a provider account (`provider`, `subject`) belongs to one user."""

    __tablename__ = "contacts_kit_identities"
    __table_args__ = (
        UniqueConstraint("provider", "subject"),
        UniqueConstraint("user_id", "provider"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_kit_users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(40))
    # The provider's stable id of the account (OIDC `sub`, GitHub's numeric user id).
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class OAuthCode(Base):
    """The one-time code a provider sign-in hands to the front end, kept only as a hash;
    `POST /auth/oauth/exchange` spends it once for the tokens."""

    __tablename__ = "contacts_kit_oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("contacts_kit_users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
