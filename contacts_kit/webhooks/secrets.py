"""The signing secrets of endpoints: sealed at rest (`contacts_kit.secretbox`), opened to
sign; a rotated-out secret keeps signing beside the new one for a while."""

from __future__ import annotations

from datetime import datetime

from contacts_kit.secretbox import SecretBox
from contacts_kit.webhooks.models import WebhookEndpoint

PURPOSE = b"contacts-kit webhook secrets"


class WebhookSecrets:
    """Seals and opens endpoints' secrets with the kit's key."""

    def __init__(self, secret: bytes) -> None:
        self._box = SecretBox(secret, PURPOSE)

    def seal(self, plain: str, owner_id: str) -> str:
        """A secret as its endpoint row keeps it."""
        return self._box.seal(plain, owner_id)

    def signing(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        """The secrets that sign the endpoint's messages now: its own, and the one it had
        before a rotation until `previous_until`. One that does not open (the kit's key
        changed) signs nothing."""
        sealed = [endpoint.secret]
        if endpoint.previous_secret and endpoint.previous_until and now < endpoint.previous_until:
            sealed.append(endpoint.previous_secret)
        opened = [self._box.open(value, endpoint.owner_id) for value in sealed]
        return [value for value in opened if value is not None]
