"""A third-party contacts-kit plugin.

- `provide_mailer`: every email becomes an `.eml` file in `$EML_MAILER_DIR` (default
  `./outbox`) instead of being sent.
- `on_contact_created`: appends a line per new contact to `contacts.log` in the same folder.
"""

from __future__ import annotations

import os
import uuid
from email.message import EmailMessage
from pathlib import Path

import anyio

from contacts_kit import Settings, hookimpl
from contacts_kit.backends.protocols import MailMessage
from contacts_kit.contact.schemas import ContactRead


def outbox() -> Path:
    """The folder the plugin writes to."""
    return Path(os.environ.get("EML_MAILER_DIR", "outbox"))


class EmlMailer:
    """Writes each message as a standard `.eml` file (plain text and HTML parts)."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender

    async def send(self, message: MailMessage) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        path = self.folder / f"{uuid.uuid4().hex}.eml"

        def _write() -> None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(email.as_bytes())

        await anyio.to_thread.run_sync(_write)


@hookimpl
def provide_mailer(settings: Settings) -> EmlMailer:
    """Replace the default mailer, whatever the settings."""
    return EmlMailer(outbox(), settings.mail_from)


@hookimpl
async def on_contact_created(contact: ContactRead, owner_id: uuid.UUID) -> None:
    """Keep a line per new contact (an implementation takes only the arguments it needs)."""
    line = f"{owner_id} {contact.id} {contact.email}\n"

    def _append() -> None:
        outbox().mkdir(parents=True, exist_ok=True)
        with (outbox() / "contacts.log").open("a") as log:
            log.write(line)

    await anyio.to_thread.run_sync(_append)
