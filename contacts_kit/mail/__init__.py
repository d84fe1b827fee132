"""Composing emails from the templates in this package (or a folder of the host's), and sending
them without ever failing a request."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from contacts_kit.backends.protocols import Mailer, MailMessage
from contacts_kit.settings import Settings

logger = logging.getLogger("contacts_kit.mail")


def template_environment(settings: Settings) -> Environment:
    """Templates from `mail_template_dir` first, then the ones shipped in the package."""
    loaders: list[Any] = []
    if settings.mail_template_dir is not None:
        loaders.append(FileSystemLoader(settings.mail_template_dir))
    loaders.append(PackageLoader("contacts_kit.mail", "templates"))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def describe_duration(duration: timedelta) -> str:
    """'2 days', '1 hour', '30 minutes': how long a link lives, in words."""
    seconds = int(duration.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


class MailComposer:
    """Renders `email/<name>.subject.txt`, `.txt` and `.html` into a `MailMessage`."""

    def __init__(self, settings: Settings) -> None:
        self.environment = template_environment(settings)

    def compose(self, name: str, to: str, **context: Any) -> MailMessage:
        """The message `name` for `to`, both parts rendered with `context`."""

        def render(suffix: str) -> str:
            return self.environment.get_template(f"email/{name}.{suffix}").render(**context)

        return MailMessage(
            to=to, subject=render("subject.txt").strip(), text=render("txt"), html=render("html")
        )


async def deliver(mailer: Mailer, message: MailMessage) -> bool:
    """Send `message`; a failure is logged (never raised) and reported as False."""
    try:
        await mailer.send(message)
    except Exception as exc:
        logger.error(
            "could not send %r to %s (%s: %s); the user can ask for it again",
            message.subject,
            message.to,
            type(exc).__name__,
            exc,
        )
        return False
    return True
