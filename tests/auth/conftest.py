"""An SMTP server (aiosmtpd, in-process) for the tests that read the mail they caused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
