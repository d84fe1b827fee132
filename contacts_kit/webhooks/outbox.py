"""The outbox: an owner's events, written as messages for each endpoint subscribed to them
in the transaction of the change that causes them. A rolled-back change leaves none; a
committed one leaves them for the dispatcher however the process ends after the commit."""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Executable, String, Table, bindparam, cast, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.webhooks.models import WebhookEndpoint, WebhookMessage

EventType = Literal[
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "contact.restored",
    "contact.purged",
    "contacts.imported",
    "tag.renamed",
    "tag.deleted",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
TEST_EVENT = "webhook.test"
"""The type of the message `POST /webhooks/{id}/test` sends."""


def envelope(event_type: str, data: bytes, now: datetime) -> str:
    """A message's body, as Standard Webhooks suggests: `{"type", "timestamp", "data"}`,
    `data` already JSON (a contact as the API shows it)."""
    head = json.dumps({"type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z")})
    return f'{head[:-1]}, "data": {data.decode()}}}'


@functools.cache
def _fan_out() -> Executable:
    """One message per enabled endpoint of the owner subscribed to the type, with its own
    id (`msg_<event key>_<endpoint id>`), in one statement: an owner without endpoints
    costs the write this one statement and no row."""
    now = bindparam("now", type_=WebhookMessage.created_at.type)
    rows = select(
        WebhookEndpoint.id,
        WebhookEndpoint.owner_id,
        literal("msg_", String())
        + bindparam("key", type_=String())
        + literal("_", String())
        + cast(WebhookEndpoint.id, String()),
        bindparam("event_type", type_=String()),
        bindparam("payload", type_=String()),
        literal("pending", String()),
        literal(0),
        now,
        now,
    ).where(
        WebhookEndpoint.owner_id == bindparam("owner_id", type_=String()),
        WebhookEndpoint.enabled.is_(True),
        WebhookEndpoint.event_types.like(bindparam("pattern", type_=String())),
    )
    # The table, not the mapped class: a plain INSERT ... SELECT, not the ORM's bulk insert.
    table = WebhookMessage.__table__
    assert isinstance(table, Table)
    names = (
        "endpoint_id",
        "owner_id",
        "msg_id",
        "event_type",
        "payload",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
    )
    return insert(table).from_select([table.c[name] for name in names], rows)


class Outbox:
    """The events of one owner's changes, written in the request's transaction (`session`).
    The first event of the transaction reads which types the owner's endpoints take; an
    event no endpoint takes then costs no statement (a batch of a hundred changes by an
    owner without webhooks: one read)."""

    def __init__(self, session: AsyncSession, owner_id: str, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.owner_id = owner_id
        self.clock = clock
        self._taken: str | None = None

    async def _types_taken(self) -> str:
        if self._taken is None:
            found = await self.session.scalars(
                select(WebhookEndpoint.event_types).where(
                    WebhookEndpoint.owner_id == self.owner_id, WebhookEndpoint.enabled.is_(True)
                )
            )
            self._taken = "".join(found)
        return self._taken

    async def add(self, event_type: EventType, data: bytes | dict[str, Any]) -> None:
        """An event for the endpoints subscribed to its type: `data` is its JSON (bytes) or
        a value to make JSON."""
        if f",{event_type}," not in await self._types_taken():
            return
        now = self.clock()
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        params = {
            "now": now,
            "key": secrets.token_hex(12),
            "event_type": event_type,
            "payload": envelope(event_type, raw, now),
            "owner_id": self.owner_id,
            "pattern": f"%,{event_type},%",
        }
        await self.session.execute(_fan_out(), params)
