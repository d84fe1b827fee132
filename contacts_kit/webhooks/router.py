"""The endpoints of webhooks, served by `webhooks.routers` with one kit's dependencies."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.
from typing import Annotated

from fastapi import Path, Query, Response
from fastapi import status as http_status

from contacts_kit.contact.http import DIGITS_ONLY, MAX_ID, json_answer
from contacts_kit.fields import not_null
from contacts_kit.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from contacts_kit.webhooks.schemas import (
    Deliveries,
    Delivery,
    DeliveryAttempt,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)
from contacts_kit.webhooks.service import WebhookService, event_types

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="The endpoint's id."), DIGITS_ONLY]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="The message's id."), DIGITS_ONLY]


def _read(endpoint: WebhookEndpoint) -> WebhookRead:
    return WebhookRead(
        id=endpoint.id,
        url=endpoint.url,
        events=event_types(endpoint),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _delivery(message: WebhookMessage, attempts: list[WebhookAttempt]) -> Delivery:
    return Delivery(
        id=message.id,
        msg_id=message.msg_id,
        event_type=message.event_type,
        state=message.state,
        next_attempt_at=message.next_attempt_at if message.state == "pending" else None,
        created_at=message.created_at,
        attempts=[
            DeliveryAttempt(
                at=attempt.at,
                status_code=attempt.status_code,
                duration_ms=attempt.duration_ms,
                error=attempt.error,
                response=attempt.response,
            )
            for attempt in attempts
        ],
    )


async def create_webhook(body: WebhookCreate, webhooks: WebhookService) -> Response:
    """A new endpoint for your events. The answer shows its signing secret this once: with
    it, verify each message's `webhook-signature` (Standard Webhooks). The URL is `https`
    on a public address (a 422 says why one is refused)."""
    endpoint, secret = await webhooks.create(body)
    created = WebhookCreated(**_read(endpoint).model_dump(), secret=secret)
    return json_answer(created.model_dump_json().encode(), None, http_status.HTTP_201_CREATED)


async def list_webhooks(webhooks: WebhookService) -> list[WebhookRead]:
    """Your endpoints, oldest first."""
    return [_read(endpoint) for endpoint in await webhooks.all()]


async def get_webhook(webhook_id: WebhookId, webhooks: WebhookService) -> WebhookRead:
    """One of your endpoints."""
    return _read(await webhooks.get(webhook_id))


async def update_webhook(
    webhook_id: WebhookId, body: WebhookUpdate, webhooks: WebhookService
) -> WebhookRead:
    """Change an endpoint's URL, events or description; `enabled` turns it off or back on
    (what waits for it is sent once it is on)."""
    return _read(await webhooks.update(webhook_id, body))


async def delete_webhook(webhook_id: WebhookId, webhooks: WebhookService) -> Response:
    """Delete an endpoint, and what waits for it."""
    await webhooks.delete(webhook_id)
    return Response(status_code=http_status.HTTP_204_NO_CONTENT)


async def rotate_secret(webhook_id: WebhookId, webhooks: WebhookService) -> WebhookSecret:
    """A new signing secret, shown this once; the previous one signs too for 24 hours
    (each message then carries both signatures), so receivers can switch without a gap."""
    secret, until = await webhooks.rotate(webhook_id)
    return WebhookSecret(secret=secret, previous_valid_until=until)


async def test_webhook(webhook_id: WebhookId, webhooks: WebhookService) -> Delivery:
    """Send the endpoint a `webhook.test` message, as any other (signed, retried)."""
    return _delivery(await webhooks.test(webhook_id), [])


async def list_deliveries(
    webhook_id: WebhookId,
    webhooks: WebhookService,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="`next` of the page before.",
            json_schema_extra=not_null,
        ),
    ] = None,
) -> Deliveries:
    """The endpoint's messages, the newest first, each with every attempt: when, the
    answer's status, how long it took, what went wrong."""
    found = await webhooks.deliveries(webhook_id, limit + 1, before)
    page = [_delivery(message, attempts) for message, attempts in found[:limit]]
    more = len(found) > limit
    return Deliveries(items=page, next=str(page[-1].id) if more and page else None)


async def retry_delivery(
    webhook_id: WebhookId, delivery_id: DeliveryId, webhooks: WebhookService
) -> Delivery:
    """Send a message again now, with the same `webhook-id`."""
    message = await webhooks.retry(webhook_id, delivery_id)
    return _delivery(message, [])
