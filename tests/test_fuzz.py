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
from schemathesis.generation import GenerationMode
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from contacts_kit import create_app
from contacts_kit.contact.errors import MalformedEntityTags
from contacts_kit.contact.schemas import NEEDS_A_WAY_TO_REACH
from contacts_kit.migrate import upgrade
from tests.conftest import PASSWORD, make_settings

# Every check runs (schemathesis enables them all unless told otherwise). A schema-valid
# request may still be refused for a reason no schema can carry; each status allowed here has
# one, and no other refusal of a schema-valid request passes.
SEMANTIC_REJECTIONS = {
    "2xx": "accepted",
    "304": "an If-None-Match of `*` or of the current entity tag: the copy held is current",
    "400": "a verification or reset token, or an If-Match, that is text of the right shape but "
    "not a token or an entity tag of ours",
    "401": "a refresh token that is well-formed text but not one we signed; a wrong password",
    "404": "a contact id that is not in the book",
    "409": "an email already in the book, or already registered",
    "412": "an If-Match entity tag that is well-formed but not the contact's current one",
    "415": "avatar bytes that are not a PNG, JPEG, WebP or GIF image",
    "422": "a phone number that exists in no numbering plan, a birthday in the future",
}

pytestmark = pytest.mark.serial  # schemathesis' cases: scripts/test runs them in one process

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261127,
        "checks": {"positive_data_acceptance": {"expected-statuses": list(SEMANTIC_REJECTIONS)}},
    }
)

WORKDIR = Path(tempfile.mkdtemp(prefix="contacts-kit-fuzz-"))
DATABASE_URL = f"sqlite+aiosqlite:///{WORKDIR / 'fuzz.db'}"
# The ASGI test client runs each call on its own event loop: no pooled connections.
APP = create_app(
    # A long access-token lifetime: a token that expires mid-run would fail every check.
    make_settings(DATABASE_URL, WORKDIR, access_token_ttl="P1D"),
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


# What the server refused schema-valid requests for, before the document said it (issue 29):
# an If-Match that is not an entity tag, both a code and a recovery code, a contact with
# neither an email nor a phone, a batch operation with the fields of another kind.
SCHEMA_GAPS = schema.include(
    path_regex=r"^/api/(contacts|contacts/\{contact_id\}|contacts/batch|auth/login/2fa"
    r"|users/me/2fa/totp)$"
)
GAP_REFUSALS = (
    MalformedEntityTags.message,
    "send either code or recovery_code",
    NEEDS_A_WAY_TO_REACH,
)


@SCHEMA_GAPS.parametrize()
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_schema_valid_request_is_refused_for_what_its_schema_did_not_say(
    case: Any, user_headers: dict[str, str]
) -> None:
    if case.meta.generation.mode is not GenerationMode.POSITIVE:
        return  # a schema-invalid request: the test above checks those
    response = case.call(headers=user_headers)
    for refusal in GAP_REFUSALS:
        assert refusal not in response.text, (case.as_curl_command(), response.text)
    if case.path == "/api/contacts/batch" and response.status_code == 422:
        # An atomic batch's failed operation may be a 422; the request itself never is, but
        # for an id past 2^63 - 1 that the generator wrote for the maximum (a JSON number
        # that large is a float to it: RFC 8259, section 6).
        body = response.json()
        errors = body.get("detail")
        if isinstance(errors, list) and "index" not in body:  # not an operation's own 422
            assert all(error["type"] == "less_than_equal" for error in errors), response.text
