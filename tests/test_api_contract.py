"""The API contract: the OpenAPI document says what the server accepts and answers, in terms a
generated client can use, and the answers keep to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from contacts_kit import create_app
from scripts import routes_reference
from tests.conftest import Harness, auth_headers, make_settings
from tests.users.images import png_bytes


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("spec")
    app = create_app(
        make_settings(
            f"sqlite+aiosqlite:///{folder / 'spec.db'}",
            folder,
            oauth_providers=[routes_reference.EXAMPLE_PROVIDER],
            oauth_redirect_allowlist=[routes_reference.EXAMPLE_REDIRECT],
        )
    )
    document: dict[str, Any] = app.openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def test_operations_read_like_an_sdk(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids))
    assert all(identifier.replace("_", "").isalpha() for identifier in ids), ids
    assert {"contacts_list", "contacts_get", "auth_login", "auth_token", "users_avatar"} <= set(ids)
    summaries = [operation["summary"] for _, _, operation in _operations(spec)]
    assert "List contacts" in summaries
    assert all(":" not in summary and summary[0].isupper() for summary in summaries), summaries


def test_every_body_is_a_named_schema(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        body = operation.get("requestBody")
        if body is None:
            continue
        if path.endswith("/contacts/import"):
            # A file, three ways (multipart, text/vcard, text/csv): no JSON model to name.
            assert set(body["content"]) == {"multipart/form-data", "text/vcard", "text/csv"}
            continue
        [content] = body["content"].values()
        reference = content["schema"].get("$ref", "")
        assert reference.startswith("#/components/schemas/"), (method, path)
        assert not reference.split("/")[-1].startswith("Body_"), (method, path)
    assert not [name for name in spec["components"]["schemas"] if name.startswith("Body_")]
    # The two ways to log in have a path each: a generator gets one body type per operation.
    login = spec["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]
    token = spec["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]
    assert list(login) == ["application/json"]
    assert list(token) == ["application/x-www-form-urlencoded"]
    form = _schema(spec, "ContactsKitTokenForm")
    assert form["properties"]["username"]["format"] == "email"
    assert form["properties"]["password"]["minLength"] == 1
    scheme = spec["components"]["securitySchemes"]["ContactsKitOAuth2"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/auth/token"


def test_the_avatar_is_a_binary_file_part(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/api/users/me/avatar"]["patch"]["requestBody"]["content"]
    assert (
        body["multipart/form-data"]["schema"]["$ref"]
        == "#/components/schemas/ContactsKitAvatarUpload"
    )
    assert _schema(spec, "ContactsKitAvatarUpload")["properties"]["file"]["format"] == "binary"


def test_null_is_allowed_only_where_the_server_accepts_it(spec: dict[str, Any]) -> None:
    update = _schema(spec, "ContactsKitContactUpdate")["properties"]
    for name in ("first_name", "favorite"):
        assert "anyOf" not in update[name], name
        assert update[name].get("type") != "null", name
    for name in ("last_name", "email", "phone", "birthday", "notes"):
        assert {"type": "null"} in update[name]["anyOf"], name  # null clears the field
    create = _schema(spec, "ContactsKitContactCreate")
    assert create["required"] == ["first_name"]
    for method, path, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            text = json.dumps(parameter["schema"])
            assert '"null"' not in text, (method, path, parameter["name"])


def test_responses_declare_their_headers_bodies_and_errors(spec: dict[str, Any]) -> None:
    contact = spec["paths"]["/api/contacts/{contact_id}"]
    assert "ETag" in contact["get"]["responses"]["200"]["headers"]
    assert "ETag" in contact["patch"]["responses"]["200"]["headers"]
    # Every route that touches the database says it may be out.
    assert all(
        "503" in operation["responses"]
        for _, path, operation in _operations(spec)
        if path.startswith("/api/") and path != "/api/auth/password-reset/confirm"
    )
    created = spec["paths"]["/api/contacts"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(created)
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        if "401" in responses:
            assert "WWW-Authenticate" in responses["401"]["headers"], (method, path)
        for status in ("429", "503"):
            if status in responses and not path.startswith(("/healthz", "/readyz")):
                assert "Retry-After" in responses[status].get("headers", {}), (method, path)
        has_body = "requestBody" in operation
        # A 400 "body could not be parsed" and a 413 only where there is a body.
        assert ("413" in responses) == has_body, (method, path)
        if "400" in responses and not has_body:
            assert "could not be parsed" not in responses["400"]["description"], (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/json"], (method, path, status)
    tokens = spec["components"]["schemas"].get("ContactsKitTokenPair") or _schema(
        spec, "ContactsKitTokenPair-Output"
    )
    assert "token_type" in tokens["required"]
    ready = spec["paths"]["/readyz"]["get"]["responses"]
    assert ready["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ContactsKitReadiness"
    )
    assert ready["503"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ContactsKitReadiness"
    )
    live = spec["paths"]["/healthz"]["get"]["responses"]["200"]
    assert live["content"]["application/json"]["schema"]["$ref"].endswith("/ContactsKitLiveness")


async def test_a_422_is_valid_json_and_echoes_no_huge_input(
    harness: Harness, tmp_path: Path
) -> None:
    headers = await auth_headers(harness.client, "contract@example.com")
    nan = await harness.client.post(
        "/api/contacts",
        content=b'{"first_name": NaN, "last_name": Infinity}',
        headers=headers | {"content-type": "application/json"},
    )
    assert nan.status_code == 422
    json.loads(nan.text, parse_constant=lambda name: pytest.fail(f"bare {name} in the 422"))
    huge = await harness.client.post(
        "/api/contacts", json={"first_name": "x" * 1_000_000}, headers=headers
    )
    assert huge.status_code == 422
    assert len(huge.content) < 2_000
    plain = await harness.client.post(
        "/api/contacts", content=b"hello", headers=headers | {"content-type": "text/plain"}
    )
    assert plain.status_code == 422
    assert "JSON" in plain.json()["detail"][0]["msg"]


async def test_204_answers_carry_no_content_type(harness: Harness) -> None:
    client = harness.client
    headers = await auth_headers(client, "no-content@example.com")
    created = await client.post(
        "/api/contacts",
        json={
            "first_name": "A",
            "last_name": "B",
            "email": "a@example.com",
            "phone": "+12025550143",
            "birthday": "1990-01-01",
        },
        headers=headers,
    )
    deleted = await client.delete(f"/api/contacts/{created.json()['id']}", headers=headers)
    tokens = (
        await client.post(
            "/api/auth/login",
            json={"email": "no-content@example.com", "password": "correct horse battery"},
        )
    ).json()
    logout = await client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    changed = await client.post(
        "/api/auth/password-change",
        json={"current_password": "correct horse battery", "new_password": "another good one"},
        headers=headers,
    )
    gone = await client.request(
        "DELETE", "/api/users/me", json={"password": "another good one"}, headers=headers
    )
    for response in (deleted, logout, changed, gone):
        assert response.status_code == 204, response.text
        assert "content-type" not in response.headers
        assert response.content == b""


async def test_an_unsupported_upload_names_no_python_object(harness: Harness) -> None:
    headers = await auth_headers(harness.client, "pillow@example.com")
    for data in (b"garbage" * 10, png_bytes()[:40]):
        response = await harness.client.patch(
            "/api/users/me/avatar", files={"file": ("a.png", data, "image/png")}, headers=headers
        )
        assert response.status_code == 415
        assert "object at 0x" not in response.text
        assert "<" not in response.json()["detail"]


async def test_a_nullable_looking_field_refuses_null_as_its_schema_says(
    client: httpx.AsyncClient,
) -> None:
    headers = await auth_headers(client, "nulls@example.com")
    response = await client.patch("/api/contacts/1", json={"first_name": None}, headers=headers)
    assert response.status_code == 422
