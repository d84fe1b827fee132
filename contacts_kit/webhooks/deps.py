"""The webhook routes' dependencies: the current owner's endpoints in the request's
transaction, through the contacts module's owner and session."""

# No `from __future__ import annotations`: FastAPI reads the annotations of the closure below
# at run time, and it names local aliases.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from contacts_kit.contact.deps import ContactDependencies
from contacts_kit.contact.owner import Owner
from contacts_kit.webhooks.repository import WebhookRepository
from contacts_kit.webhooks.secrets import WebhookSecrets
from contacts_kit.webhooks.service import WebhookService


class WebhookDependencies:
    """The dependencies of one kit's webhook routes: the contacts module's owner, session,
    clock and rate limit, and what gives the key of the signing secrets (None: no key)."""

    def __init__(
        self, contacts: ContactDependencies, secrets: Callable[[], WebhookSecrets | None]
    ) -> None:
        self.contacts = contacts
        self.secrets = secrets
        self.route_class = contacts.route_class
        self.owner_errors = contacts.owner_errors
        self.limit = contacts.limit_contacts
        self.webhook_writes = _webhook_writes(self)


def _webhook_writes(deps: WebhookDependencies) -> Any:
    contacts = deps.contacts
    CurrentOwner = Annotated[Owner, Depends(contacts.current_owner)]
    SessionDep = Annotated[AsyncSession, Depends(contacts.plumbing.session, scope="function")]
    allow_private = contacts.settings.webhook_allow_private_urls

    async def webhook_writes(session: SessionDep, owner: CurrentOwner) -> WebhookService:
        """The owner's webhook endpoints in the request's transaction."""
        return WebhookService(
            WebhookRepository(session, owner.key),
            deps.secrets(),
            clock=contacts.clock,
            allow_private=allow_private,
        )

    return webhook_writes
