"""An owner's webhook endpoints: saved after their URL is checked, their secrets sealed and
rotated, test messages, the delivery log and its retries."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from contacts_kit.errors import InvalidField
from contacts_kit.webhooks.addresses import RefusedUrl, checked_url, resolved
from contacts_kit.webhooks.errors import (
    DeliveryNotFound,
    TooManyWebhooks,
    WebhookNotFound,
    WebhooksNotConfigured,
)
from contacts_kit.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from contacts_kit.webhooks.outbox import TEST_EVENT, envelope
from contacts_kit.webhooks.repository import MAX_ENDPOINTS, WebhookRepository
from contacts_kit.webhooks.schemas import WebhookCreate, WebhookUpdate
from contacts_kit.webhooks.secrets import WebhookSecrets
from contacts_kit.webhooks.signing import new_secret

ROTATION_OVERLAP = timedelta(hours=24)
"""How long a rotated-out secret keeps signing beside the new one."""


def event_types(endpoint: WebhookEndpoint) -> list[str]:
    """The event types an endpoint is subscribed to, in the order given."""
    return [name for name in endpoint.event_types.split(",") if name]


def _stored(events: list[str]) -> str:
    return "," + ",".join(events) + ","


class WebhookService:
    """One owner's endpoints, in the request's transaction."""

    def __init__(
        self,
        endpoints: WebhookRepository,
        secrets_: WebhookSecrets | None,
        *,
        clock: Callable[[], datetime],
        allow_private: bool,
    ) -> None:
        self.endpoints = endpoints
        self._secrets = secrets_
        self.now = clock
        self.allow_private = allow_private

    @property
    def secrets(self) -> WebhookSecrets:
        if self._secrets is None:
            raise WebhooksNotConfigured()
        return self._secrets

    async def _checked(self, url: str) -> str:
        """`url` if messages may go there (its host resolved now, as at each send)."""
        try:
            parts = checked_url(url, allow_private=self.allow_private)
            await resolved(parts, allow_private=self.allow_private)
        except RefusedUrl as refused:
            raise InvalidField("url", str(refused), url) from refused
        return url

    async def create(self, data: WebhookCreate) -> tuple[WebhookEndpoint, str]:
        """A new endpoint and its secret (shown once); `TooManyWebhooks`, or an
        `InvalidField` naming why the URL is refused."""
        box = self.secrets
        url = await self._checked(data.url)
        if await self.endpoints.count() >= MAX_ENDPOINTS:
            raise TooManyWebhooks()
        secret, now = new_secret(), self.now()
        owner = self.endpoints.owner_id
        endpoint = WebhookEndpoint(
            url=url,
            event_types=_stored(list(data.events)),
            description=data.description,
            secret=box.seal(secret, owner),
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        return await self.endpoints.add(endpoint), secret

    async def all(self) -> list[WebhookEndpoint]:
        """The owner's endpoints, oldest first."""
        return list(await self.endpoints.endpoints())

    async def get(self, endpoint_id: int) -> WebhookEndpoint:
        """The owner's endpoint; `WebhookNotFound`."""
        found = await self.endpoints.endpoint(endpoint_id)
        if found is None:
            raise WebhookNotFound()
        return found

    async def update(self, endpoint_id: int, data: WebhookUpdate) -> WebhookEndpoint:
        """Change what was sent; `enabled: true` turns it back on (its failures forgotten),
        `false` off (nothing is sent; what waits is sent once it is on again)."""
        endpoint = await self.get(endpoint_id)
        if data.url is not None:
            endpoint.url = await self._checked(data.url)
        if data.events is not None:
            endpoint.event_types = _stored(list(data.events))
        if data.description is not None:
            endpoint.description = data.description
        if data.enabled is True:
            endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
        elif data.enabled is False and endpoint.enabled:
            endpoint.enabled, endpoint.disabled_reason = False, "disabled by its owner"
        endpoint.updated_at = self.now()
        await self.endpoints.save()
        return endpoint

    async def delete(self, endpoint_id: int) -> None:
        """Delete the endpoint and what waits for it."""
        await self.endpoints.remove(await self.get(endpoint_id))

    async def rotate(self, endpoint_id: int) -> tuple[str, datetime]:
        """A new secret; the one before signs too for `ROTATION_OVERLAP`. The new secret
        and until when the previous one signs."""
        box = self.secrets
        endpoint = await self.get(endpoint_id)
        secret, now = new_secret(), self.now()
        until = now + ROTATION_OVERLAP
        endpoint.previous_secret, endpoint.previous_until = endpoint.secret, until
        endpoint.secret = box.seal(secret, endpoint.owner_id)
        endpoint.updated_at = now
        await self.endpoints.save()
        return secret, until

    async def test(self, endpoint_id: int) -> WebhookMessage:
        """Queue a `webhook.test` message for the endpoint, to be sent as any other."""
        endpoint = await self.get(endpoint_id)
        now = self.now()
        data = b'{"endpoint_id": %d}' % endpoint.id
        message = WebhookMessage(
            endpoint_id=endpoint.id,
            msg_id=f"msg_{secrets.token_hex(12)}_{endpoint.id}",
            event_type=TEST_EVENT,
            payload=envelope(TEST_EVENT, data, now),
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        await self.endpoints.add_message(message)
        return message

    async def deliveries(
        self, endpoint_id: int, limit: int, before: int | None
    ) -> list[tuple[WebhookMessage, list[WebhookAttempt]]]:
        """A page of the endpoint's messages, newest first, with their attempts."""
        endpoint = await self.get(endpoint_id)
        return await self.endpoints.messages(endpoint.id, limit, before)

    async def retry(self, endpoint_id: int, message_id: int) -> WebhookMessage:
        """Send a message again now, with the same id, on a new schedule of attempts."""
        endpoint = await self.get(endpoint_id)
        message = await self.endpoints.message(endpoint.id, message_id)
        if message is None:
            raise DeliveryNotFound()
        message.state, message.attempts, message.next_attempt_at = "pending", 0, self.now()
        await self.endpoints.save()
        return message
