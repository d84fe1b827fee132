"""The table of accounts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from contacts_kit.db.base import Base, UTCDateTime, utcnow


class User(Base):
    """An account. `email` is stored lower-cased, so the unique index is case-insensitive."""

    __tablename__ = "contacts_kit_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # None for an account made by signing in with an identity provider, until the user sets a
    # password through the reset flow.
    hashed_password: Mapped[str | None] = mapped_column(String(255), default=None)
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    avatar_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    # Where the storage keeps the avatar, so that replacing or deleting it removes the file.
    avatar_key: Mapped[str | None] = mapped_column(String(300), default=None)
    # Bumped when every outstanding access token must die (password reset, for example).
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
