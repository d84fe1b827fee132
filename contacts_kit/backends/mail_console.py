"""Console mailer: the embedded default. It logs every message, links included, at INFO."""

from __future__ import annotations

import logging

from contacts_kit.backends.protocols import MailMessage
from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings

logger = logging.getLogger("contacts_kit.mail")


class ConsoleMailer:
    """Writes each message to the `contacts_kit.mail` logger instead of sending it."""

    async def send(self, message: MailMessage) -> None:
        """Log the recipient, the subject and the plain-text body."""
        logger.info("mail to=%s subject=%r\n%s", message.to, message.subject, message.text)


@hookimpl(trylast=True)
def provide_mailer(settings: Settings) -> ConsoleMailer:
    """The fallback mailer when no other plugin provides one."""
    return ConsoleMailer()
