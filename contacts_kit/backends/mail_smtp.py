"""SMTP mailer on fastapi-mail, chosen when `CONTACTS_KIT_MAIL_SERVER` is set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from contacts_kit.backends.protocols import MailMessage
from contacts_kit.errors import ConfigurationError
from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings

if TYPE_CHECKING:
    from fastapi_mail import ConnectionConfig


def connection_config(settings: Settings) -> ConnectionConfig:
    """fastapi-mail's configuration, built only from our settings.

    `ConnectionConfig` is a BaseSettings that would read bare `MAIL_*` variables of the host
    environment; `model_construct` takes exactly the values given here and nothing else.
    """
    from fastapi_mail import ConnectionConfig

    assert settings.mail_server is not None
    password = settings.mail_password or SecretStr("")
    return ConnectionConfig.model_construct(
        MAIL_USERNAME=settings.mail_username or "",
        MAIL_PASSWORD=password,
        MAIL_PORT=settings.mail_port,
        MAIL_SERVER=settings.mail_server,
        MAIL_STARTTLS=settings.mail_starttls,
        MAIL_SSL_TLS=settings.mail_ssl_tls,
        MAIL_DEBUG=0,
        MAIL_FROM=settings.mail_from,
        MAIL_FROM_NAME=settings.mail_from_name,
        TEMPLATE_FOLDER=None,
        SUPPRESS_SEND=0,
        # No credentials, no SMTP login.
        USE_CREDENTIALS=bool(settings.mail_username),
        VALIDATE_CERTS=settings.mail_validate_certs,
        TIMEOUT=settings.mail_timeout,
        LOCAL_HOSTNAME=None,
        CERT_BUNDLE=None,
    )


class SmtpMailer:
    """Sends each message as multipart/alternative: plain text, then HTML."""

    def __init__(self, settings: Settings) -> None:
        try:
            from fastapi_mail import FastMail
        except ImportError as exc:
            raise ConfigurationError(
                "CONTACTS_KIT_MAIL_SERVER is set but fastapi-mail is missing: "
                "pip install 'contacts-kit[smtp]'"
            ) from exc
        self.config = connection_config(settings)
        self._mail = FastMail(self.config)

    async def send(self, message: MailMessage) -> None:
        """Deliver `message` over SMTP; raises on any SMTP failure."""
        from fastapi_mail import MessageSchema, MessageType
        from fastapi_mail.schemas import MultipartSubtypeEnum

        schema = MessageSchema(
            recipients=[message.to],
            subject=message.subject,
            body=message.text,
            alternative_body=message.html,
            subtype=MessageType.plain,
            multipart_subtype=(
                MultipartSubtypeEnum.alternative if message.html else MultipartSubtypeEnum.mixed
            ),
        )
        await self._mail.send_message(schema)


@hookimpl(trylast=True)
def provide_mailer(settings: Settings) -> SmtpMailer | None:
    """SMTP when a server is configured; otherwise let the console mailer answer."""
    if settings.mail_server is None:
        return None
    return SmtpMailer(settings)
