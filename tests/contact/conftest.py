"""The users of the address book tests: each signed up, verified and logged in."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import auth_headers


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(client, "alice@example.com")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(client, "bob@example.com")
