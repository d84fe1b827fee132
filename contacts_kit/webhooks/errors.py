"""Errors of webhooks."""

from __future__ import annotations

from contacts_kit.errors import ContactsKitError, ErrorCode


class WebhookNotFound(ContactsKitError):
    """No endpoint with this id among the owner's."""

    code = ErrorCode.WEBHOOK_NOT_FOUND
    message = "No webhook endpoint with this id among yours."


class DeliveryNotFound(ContactsKitError):
    """No message with this id for the endpoint."""

    code = ErrorCode.DELIVERY_NOT_FOUND
    message = "No message with this id for this webhook endpoint."


class TooManyWebhooks(ContactsKitError):
    """The owner has as many endpoints as one may."""

    code = ErrorCode.WEBHOOK_LIMIT_REACHED
    message = "You have 20 webhook endpoints, the most an owner may have; delete one first."


class WebhooksNotConfigured(ContactsKitError):
    """The kit has no key to seal signing secrets with."""

    code = ErrorCode.WEBHOOKS_NOT_CONFIGURED
    message = (
        "The server has no key to keep webhook secrets with; its operator sets "
        "CONTACTS_KIT_WEBHOOK_SECRET_KEY."
    )
