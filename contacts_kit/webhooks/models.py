"""The tables of webhooks: an owner's endpoints, the messages waiting for (or done with)
each, and every attempt to send one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from contacts_kit.contact.models import OWNER_KEY
from contacts_kit.db.base import Base, UTCDateTime

_ID = BigInteger().with_variant(Integer, "sqlite")


class WebhookEndpoint(Base):
    """Where an owner's events go. `event_types`: the subscribed types, each between commas
    (`,contact.created,tag.deleted,`), so that the outbox matches a type with one `LIKE`.
    The signing secrets are kept encrypted (`webhooks.secrets.SecretBox`); after a rotation
    the previous one signs too, until `previous_until`."""

    __tablename__ = "contacts_kit_webhook_endpoints"
    __table_args__ = (
        Index("ix_contacts_kit_webhook_endpoints_owner", "owner_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    previous_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Why it was disabled (by its owner, or after failing too long); None while enabled.
    disabled_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    # Since when every attempt has failed: None after a success.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookMessage(Base):
    """One event for one endpoint (the outbox): written in the transaction of the change
    that caused it, sent by the dispatcher, retried on the Standard Webhooks schedule with
    the same `msg_id`. `state`: `pending`, `delivered` or `failed` (the schedule ran out).
    `lease_until`: a dispatcher is sending it until then; another may take it after (the
    first one died)."""

    __tablename__ = "contacts_kit_webhook_messages"
    __table_args__ = (
        # The dispatcher's question: what is due, oldest first per endpoint.
        Index("ix_contacts_kit_webhook_messages_due", "state", "next_attempt_at"),
        Index("ix_contacts_kit_webhook_messages_endpoint", "endpoint_id", "state", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(
        _ID, ForeignKey("contacts_kit_webhook_endpoints.id", ondelete="CASCADE")
    )
    owner_id: Mapped[str] = mapped_column(OWNER_KEY)
    msg_id: Mapped[str] = mapped_column(String(100), unique=True)
    event_type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    lease_holder: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookAttempt(Base):
    """One attempt to send a message: when, the answer's status (None: no answer), how long
    it took, the error, and the start of the answer's body."""

    __tablename__ = "contacts_kit_webhook_attempts"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(
        _ID, ForeignKey("contacts_kit_webhook_messages.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300), default=None)
    response: Mapped[str | None] = mapped_column(String(500), default=None)
