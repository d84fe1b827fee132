"""Schema fuzzing: schemathesis drives every route of the app's own OpenAPI document, as a
real user, with every check. A fixed seed and a bounded number of examples keep it
deterministic and quick."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from contacts_kit import create_app
from contacts_kit.migrate import upgrade
from tests.conftest import PASSWORD, make_settings

# Requests a schema cannot tell apart from good ones, which the API rightly refuses: a token
# that is well-formed text but not a valid signature (400/401), a stale `If-Match` (412), bytes
# that are not an image (415), a phone number that does not exist or a birthday in the future
# (422), an email already taken (409), a missing contact (404).
SEMANTIC_REJECTIONS = ["2xx", "400", "401", "403", "404", "409", "412", "415", "422"]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261127,
        "checks": {"positive_data_acceptance": {"expected-statuses": SEMANTIC_REJECTIONS}},
    }
)

WORKDIR = Path(tempfile.mkdtemp(prefix="contacts-kit-fuzz-"))
DATABASE_URL = f"sqlite+aiosqlite:///{WORKDIR / 'fuzz.db'}"
# The ASGI test client runs each call on its own event loop: no pooled connections.
APP = create_app(
    make_settings(DATABASE_URL, WORKDIR),
    engine=create_async_engine(DATABASE_URL, poolclass=NullPool),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture(scope="module")
def user_headers() -> Iterator[dict[str, str]]:
    """A migrated database with a verified user who owns a few contacts."""
    upgrade(DATABASE_URL)
    client = TestClient(APP)
    account = {"email": "fuzz@example.com", "password": PASSWORD}
    assert client.post("/api/auth/signup", json=account).status_code == 201
    tokens = client.post("/api/auth/login", json=account).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for index in range(5):
        created = client.post(
            "/api/contacts",
            json={
                "first_name": "Fuzz",
                "last_name": f"Target{index}",
                "email": f"target{index}@example.com",
                "phone": "+12025550143",
                "birthday": "1990-01-01",
            },
            headers=headers,
        )
        assert created.status_code == 201
    yield headers
    shutil.rmtree(WORKDIR, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_route_conforms_to_its_documentation(case: Any, user_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=user_headers)
