"""Debian's Chromium, driven by playwright, for the tests that look at pages as people do."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from tests.services import services_required

CHROMIUM = shutil.which("chromium")
# As the machine's own probe starts it: no sandbox as root, nothing fetched from the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if CHROMIUM is None:
        if services_required():
            pytest.fail("Chromium is not installed (apt-get install chromium)", pytrace=False)
        pytest.skip("Chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()
