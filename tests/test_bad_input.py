"""Bad input of every kind: a clear 4xx, and nothing written."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from contacts_kit.contact.models import Contact
from contacts_kit.db.engine import make_session_factory
from contacts_kit.users.models import User
from tests.conftest import Harness, auth_headers

GOOD = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+12025550143",
    "birthday": "1990-01-01",
}


async def _rows(harness: Harness, model: type) -> int:
    async with make_session_factory(harness.kit.engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(client, "bad-input@example.com")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"first_name": "Ada",', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (json.dumps(GOOD).encode(), "text/plain"),
        (b"first_name=Ada&last_name=Lovelace", "application/x-www-form-urlencoded"),
        (json.dumps([GOOD]).encode(), "application/json"),
        (b"null", "application/json"),
        (b"", "application/json"),
        (json.dumps(GOOD | {"birthday": 0}).encode(), "application/json"),
        (json.dumps(GOOD | {"birthday": "1990-01-01T10:00:00"}).encode(), "application/json"),
        (json.dumps(GOOD | {"first_name": 42}).encode(), "application/json"),
        (json.dumps(GOOD | {"email": "a\x00@example.com"}).encode(), "application/json"),
        (json.dumps(GOOD | {"last_name": "\ud83d"}).encode(), "application/json"),
        (json.dumps(GOOD | {"phone": "+1202555014\x00"}).encode(), "application/json"),
    ],
    ids=[
        "malformed-json",
        "truncated-json",
        "not-utf8",
        "text-plain",
        "form-instead-of-json",
        "a-list",
        "null",
        "empty",
        "birthday-as-number",
        "birthday-with-time",
        "name-as-number",
        "nul-in-email",
        "lone-surrogate",
        "nul-in-phone",
    ],
)
async def test_a_bad_contact_body_is_4xx_and_writes_nothing(
    harness: Harness, headers: dict[str, str], content: bytes, content_type: str
) -> None:
    response = await harness.client.post(
        "/api/contacts", content=content, headers={**headers, "content-type": content_type}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code != 404
    assert response.json()["detail"]
    assert await _rows(harness, Contact) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nul\x00@example.com", "password": "long enough"},
        {"email": "ok@example.com", "password": "with a lone \ud800 surrogate"},
        {"email": "x" * 400 + "@example.com", "password": "long enough"},
        {"email": "ok@example.com", "password": 12345678},
        {"email": ["ok@example.com"], "password": "long enough"},
    ],
    ids=["nul-email", "surrogate-password", "overlong-email", "number-password", "list-email"],
)
async def test_a_bad_signup_is_422_and_writes_nothing(
    harness: Harness, body: dict[str, Any]
) -> None:
    response = await harness.client.post(
        "/api/auth/signup",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert await _rows(harness, User) == 0


async def test_a_multipart_bomb_is_refused(harness: Harness, headers: dict[str, str]) -> None:
    boundary = "bomb"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nx\r\n'
        for n in range(5000)
    )
    body = (parts + f"--{boundary}--\r\n").encode()
    response = await harness.client.patch(
        "/api/users/me/avatar",
        content=body,
        headers={**headers, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert 400 <= response.status_code < 500, response.text
    me = await harness.client.get("/api/users/me", headers=headers)
    assert me.json()["avatar_url"] is None


async def test_many_files_in_one_upload_are_refused(
    harness: Harness, headers: dict[str, str]
) -> None:
    files = [("file", (f"a{n}.png", b"x", "image/png")) for n in range(1200)]
    response = await harness.client.patch("/api/users/me/avatar", files=files, headers=headers)
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["nope", "1_0", "1.0", "%201", "+1", "0x1", "\uff11"])
async def test_a_contact_id_is_digits_only(
    client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str
) -> None:
    # Lax integer parsing would read `1_0` as contact 10 and ` 1` as contact 1.
    response = await client.request(method, f"/api/contacts/{path}", headers=headers, json={})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["path", "contact_id"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
async def test_other_methods_on_birthdays_are_405_with_the_allowed_ones(
    client: httpx.AsyncClient, headers: dict[str, str], method: str
) -> None:
    response = await client.request(method, "/api/contacts/birthdays", headers=headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


async def test_a_wrong_method_lists_every_allowed_method(client: httpx.AsyncClient) -> None:
    response = await client.request("POST", "/api/contacts/1")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "GET, PUT, PATCH, DELETE"
