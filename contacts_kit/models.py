"""Imports every table module, so `Base.metadata` is complete (used by migrations)."""

from contacts_kit.auth.models import RefreshToken
from contacts_kit.contact.models import Contact
from contacts_kit.db.stale_keys import StaleKey
from contacts_kit.users.models import User
from contacts_kit.webhooks.models import WebhookEndpoint

__all__ = ["Contact", "RefreshToken", "StaleKey", "User", "WebhookEndpoint"]
