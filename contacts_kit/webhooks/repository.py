"""SQL of webhooks: an owner's endpoints and their messages (`WebhookRepository`, in the
request's transaction), and the dispatcher's claims and outcomes across owners."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from contacts_kit.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage

MAX_ENDPOINTS = 20
"""Endpoints one owner may have."""


class WebhookRepository:
    """One owner's endpoints and messages, in the request's transaction."""

    def __init__(self, session: AsyncSession, owner_id: str) -> None:
        self.session = session
        self.owner_id = owner_id

    async def count(self) -> int:
        """How many endpoints the owner has."""
        found = await self.session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.owner_id == self.owner_id)
        )
        return int(found or 0)

    async def add(self, endpoint: WebhookEndpoint) -> WebhookEndpoint:
        """Save a new endpoint of the owner's."""
        endpoint.owner_id = self.owner_id
        self.session.add(endpoint)
        await self.session.flush()
        return endpoint

    async def endpoints(self) -> Sequence[WebhookEndpoint]:
        """The owner's endpoints, oldest first."""
        found = await self.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.owner_id == self.owner_id)
            .order_by(WebhookEndpoint.id)
        )
        return found.all()

    async def endpoint(self, endpoint_id: int) -> WebhookEndpoint | None:
        """The owner's endpoint, locked until the transaction ends."""
        found: WebhookEndpoint | None = await self.session.scalar(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.owner_id == self.owner_id)
            .with_for_update()
        )
        return found

    async def save(self) -> None:
        """Write the changes made to the endpoints read."""
        await self.session.flush()

    async def remove(self, endpoint: WebhookEndpoint) -> None:
        """Delete an endpoint, with its messages and their attempts."""
        await self.session.execute(
            delete(WebhookAttempt).where(
                WebhookAttempt.message_id.in_(
                    select(WebhookMessage.id).where(WebhookMessage.endpoint_id == endpoint.id)
                )
            )
        )
        await self.session.execute(
            delete(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id)
        )
        await self.session.delete(endpoint)
        await self.session.flush()

    async def add_message(self, message: WebhookMessage) -> None:
        """Queue a message (a test ping)."""
        message.owner_id = self.owner_id
        self.session.add(message)
        await self.session.flush()

    async def messages(
        self, endpoint_id: int, limit: int, before: int | None
    ) -> list[tuple[WebhookMessage, list[WebhookAttempt]]]:
        """A page of the endpoint's messages, newest first, each with its attempts."""
        query = (
            select(WebhookMessage)
            .where(WebhookMessage.endpoint_id == endpoint_id)
            .order_by(WebhookMessage.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(WebhookMessage.id < before)
        messages = (await self.session.scalars(query)).all()
        attempts: dict[int, list[WebhookAttempt]] = {message.id: [] for message in messages}
        if messages:
            found = await self.session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.message_id.in_(list(attempts)))
                .order_by(WebhookAttempt.id)
            )
            for attempt in found:
                attempts[attempt.message_id].append(attempt)
        return [(message, attempts[message.id]) for message in messages]

    async def message(self, endpoint_id: int, message_id: int) -> WebhookMessage | None:
        """One message of the endpoint, locked until the transaction ends."""
        found: WebhookMessage | None = await self.session.scalar(
            select(WebhookMessage)
            .where(WebhookMessage.id == message_id, WebhookMessage.endpoint_id == endpoint_id)
            .with_for_update()
        )
        return found


async def erase_webhooks(session: AsyncSession, owner: str) -> dict[str, int]:
    """Delete every endpoint, message and attempt of the owner; the rows deleted, per table."""
    mine = select(WebhookMessage.id).where(WebhookMessage.owner_id == owner)
    counts = {}
    for table, condition in (
        (WebhookAttempt, WebhookAttempt.message_id.in_(mine.scalar_subquery())),
        (WebhookMessage, WebhookMessage.owner_id == owner),
        (WebhookEndpoint, WebhookEndpoint.owner_id == owner),
    ):
        result = await session.execute(delete(table).where(condition))
        counts[str(table.__tablename__)] = int(getattr(result, "rowcount", 0) or 0)
    return counts


# The dispatcher's side: across owners, each statement its own short transaction.

_EARLIER = aliased(WebhookMessage)


async def due(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Messages to send now: pending, due, not leased, the oldest pending one of an enabled
    endpoint (an endpoint's messages go in order)."""
    earlier_pending = exists().where(
        _EARLIER.endpoint_id == WebhookMessage.endpoint_id,
        _EARLIER.state == "pending",
        _EARLIER.id < WebhookMessage.id,
    )
    found = await session.scalars(
        select(WebhookMessage.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(
            WebhookMessage.state == "pending",
            WebhookMessage.next_attempt_at <= now,
            or_(WebhookMessage.lease_until.is_(None), WebhookMessage.lease_until < now),
            WebhookEndpoint.enabled.is_(True),
            ~earlier_pending,
        )
        .order_by(WebhookMessage.next_attempt_at, WebhookMessage.id)
        .limit(limit)
    )
    return list(found)


async def lease(
    session: AsyncSession, message_id: int, holder: str, now: datetime, until: datetime
) -> bool:
    """Take the message for sending until `until`, unless another dispatcher holds it: one
    atomic update, so two dispatchers never send one message at once."""
    result = await session.execute(
        update(WebhookMessage)
        .where(
            WebhookMessage.id == message_id,
            WebhookMessage.state == "pending",
            or_(WebhookMessage.lease_until.is_(None), WebhookMessage.lease_until < now),
        )
        .values(lease_until=until, lease_holder=holder)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def leased(
    session: AsyncSession, message_id: int
) -> tuple[WebhookMessage, WebhookEndpoint] | None:
    """A message and its endpoint."""
    row = (
        await session.execute(
            select(WebhookMessage, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
            .where(WebhookMessage.id == message_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def record(
    session: AsyncSession,
    message_id: int,
    holder: str,
    attempt: dict[str, Any],
    message: dict[str, Any],
    endpoint: dict[str, Any],
) -> bool:
    """Write an attempt's outcome, if this dispatcher still holds the message's lease (a
    lease that ran out may have gone to another one, whose outcome then counts)."""
    result = await session.execute(
        update(WebhookMessage)
        .where(WebhookMessage.id == message_id, WebhookMessage.lease_holder == holder)
        .values(**message, lease_until=None, lease_holder=None)
        .returning(WebhookMessage.endpoint_id)
    )
    endpoint_id = result.scalar()
    if endpoint_id is None:
        return False
    session.add(WebhookAttempt(message_id=message_id, **attempt))
    if endpoint:
        await session.execute(
            update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**endpoint)
        )
    return True


async def failing_since(session: AsyncSession, endpoint_id: int) -> datetime | None:
    """Since when the endpoint has failed (None: its last attempt succeeded)."""
    found: datetime | None = await session.scalar(
        select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == endpoint_id)
    )
    return found
