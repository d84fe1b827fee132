"""Bodies of the webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from contacts_kit.fields import not_null
from contacts_kit.webhooks.addresses import MAX_URL
from contacts_kit.webhooks.outbox import EventType

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL)]
Events = Annotated[
    list[EventType],
    Field(
        min_length=1,
        max_length=20,
        description="The events sent to it: `contact.created`, `contact.updated`, "
        "`contact.deleted` (to the trash), `contact.restored`, `contact.purged`, "
        "`contacts.imported`, `tag.renamed`, `tag.deleted`.",
    ),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _once(events: list[EventType]) -> list[EventType]:
    return list(dict.fromkeys(events))


class WebhookCreate(BaseModel):
    """A new endpoint: where the events go, which ones, and a note for you."""

    __qualname__ = "ContactsKitWebhookCreate"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example.com/hooks/contacts",
                    "events": ["contact.created", "contact.updated"],
                    "description": "CRM sync",
                }
            ]
        },
    )

    url: Url = Field(description="`https`, on a public address; the messages are POSTed there.")
    events: Events
    description: Description = ""

    @field_validator("events")
    @classmethod
    def _events_once(cls, events: list[EventType]) -> list[EventType]:
        return _once(events)


class WebhookUpdate(BaseModel):
    """What changes of an endpoint; `enabled: true` turns a disabled one back on."""

    __qualname__ = "ContactsKitWebhookUpdate"  # its OpenAPI name: never a host's

    model_config = ConfigDict(extra="forbid")

    url: Url | None = Field(None, json_schema_extra=not_null)
    events: Events | None = Field(None, json_schema_extra=not_null)
    description: Description | None = Field(None, json_schema_extra=not_null)
    enabled: bool | None = Field(None, json_schema_extra=not_null)

    @field_validator("events")
    @classmethod
    def _events_once(cls, events: list[EventType] | None) -> list[EventType] | None:
        return None if events is None else _once(events)


class WebhookRead(BaseModel):
    """An endpoint (its secret never shown again after its creation or rotation)."""

    __qualname__ = "ContactsKitWebhookRead"  # its OpenAPI name: never a host's

    id: int
    url: str
    events: list[EventType]
    description: str
    enabled: bool
    disabled_reason: str | None = Field(
        description="Why it is disabled: turned off by you, or failing for too long."
    )
    failing_since: datetime | None = Field(
        description="Since when every attempt to send to it failed; null after a success."
    )
    created_at: datetime
    updated_at: datetime


class WebhookSecret(BaseModel):
    """A signing secret, shown this once: verify the `webhook-signature` of each message
    with it (Standard Webhooks)."""

    __qualname__ = "ContactsKitWebhookSecret"  # its OpenAPI name: never a host's

    secret: str = Field(description="`whsec_` and the key in base64.")
    previous_valid_until: datetime | None = Field(
        None, description="After a rotation: until when the previous secret signs too."
    )


class WebhookCreated(WebhookRead):
    """A new endpoint, with its signing secret shown this once."""

    __qualname__ = "ContactsKitWebhookCreated"  # its OpenAPI name: never a host's

    secret: str = Field(description="`whsec_...`: keep it, it is not shown again.")


class DeliveryAttempt(BaseModel):
    """One attempt to send a message."""

    __qualname__ = "ContactsKitDeliveryAttempt"  # its OpenAPI name: never a host's

    at: datetime
    status_code: int | None = Field(description="The answer's status; null without an answer.")
    duration_ms: int
    error: str | None = Field(description="What went wrong (a timeout, a refused address, ...).")
    response: str | None = Field(description="The start of the answer's body.")


class Delivery(BaseModel):
    """A message for the endpoint, with its attempts."""

    __qualname__ = "ContactsKitDelivery"  # its OpenAPI name: never a host's

    id: int
    msg_id: str = Field(description="Its `webhook-id`: the same on every attempt.")
    event_type: str
    state: Literal["pending", "delivered", "failed"]
    next_attempt_at: datetime | None = Field(description="When it is sent next, while pending.")
    created_at: datetime
    attempts: list[DeliveryAttempt]


class Deliveries(BaseModel):
    """A page of an endpoint's messages, the newest first."""

    __qualname__ = "ContactsKitDeliveries"  # its OpenAPI name: never a host's

    items: list[Delivery]
    next: str | None = Field(description="The `before` of the next page; null on the last.")
