"""A real SMTP server (aiosmtpd) running in-process on 127.0.0.1 for the tests."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """Start, stop and read what arrived; the port stays the same across restarts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = _Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages

    def settings(self) -> dict[str, Any]:
        """The settings that send mail here: plain SMTP, no TLS, no login."""
        return {
            "mail_server": "127.0.0.1",
            "mail_port": self.port,
            "mail_starttls": False,
            "mail_ssl_tls": False,
            "mail_from": "contacts@example.com",
            "mail_timeout": 5,
        }


def parts(message: EmailMessage) -> dict[str, str]:
    """The text/plain and text/html bodies of a message, by content type."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            assert isinstance(part, EmailMessage)
            found[part.get_content_type()] = str(part.get_content())
    return found
