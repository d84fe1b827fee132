"""The table of refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
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
