"""Security checks that span the whole API: isolation walked from the OpenAPI document,
login timing, and secrets that never reach logs or responses."""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cloudinary_server import CloudinaryServer
from tests.conftest import PASSWORD, RunningApp, auth_headers, make_settings, signup
from tests.smtp import SmtpServer
from tests.users.images import png_bytes

CONTACT = {
    "first_name": "Alice's",
    "last_name": "Secret",
    "email": "secret.friend@example.com",
    "phone": "+12025550143",
    "birthday": "1990-06-15",
    "notes": "private",
}


def _sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A valid body for a request schema (enough for the contact routes)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    examples = schema.get("examples")
    return examples[0] if examples else {}


async def test_user_b_reaches_none_of_user_as_contacts_through_any_route(
    client: httpx.AsyncClient,
) -> None:
    alice = await auth_headers(client, "alice@example.com")
    bob = await auth_headers(client, "bob@example.com")
    created = (await client.post("/api/contacts", json=CONTACT, headers=alice)).json()
    spec = (await client.get("/openapi.json")).json()
    walked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/contacts"):
            continue
        for method, operation in operations.items():
            url = path.replace("{contact_id}", str(created["id"]))
            kwargs: dict[str, Any] = {"headers": bob}
            content = operation.get("requestBody", {}).get("content", {})
            body = content.get("application/json")
            if body:
                kwargs["json"] = _sample(body["schema"], spec)
            if "multipart/form-data" in content and "{contact_id}" in path:
                kwargs["files"] = {"file": ("a.png", png_bytes(), "image/png")}  # a photo
            if "{contact_id}" in path:
                response = await client.request(method.upper(), url, **kwargs)
                assert response.status_code == 404, (method, path, response.text)
                walked += 1
            elif method == "get":
                params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
                probes: list[dict[str, Any]] = [{}]
                for name, value in (
                    ("q", "secret"),
                    ("first_name", "alice"),
                    ("last_name", "secret"),
                    ("email", "secret.friend"),
                    ("days", 366),
                ):
                    if name in params:
                        probes.append({name: value})
                for query in probes:
                    response = await client.get(url, params=query, headers=bob)
                    assert response.status_code == 200
                    if not response.headers["content-type"].startswith("application/json"):
                        # The export: a file of Bob's book, which holds none of Alice's.
                        assert CONTACT["email"] not in response.text, (path, query)
                        assert CONTACT["first_name"] not in response.text, (path, query)
                        walked += 1
                        continue
                    found = response.json()
                    if isinstance(found, dict) and "groups" in found:  # likely duplicates
                        found = found["groups"]
                    elif isinstance(found, dict) and "items" in found:  # the merges
                        found = found["items"]
                    elif isinstance(found, dict):  # the changes feed
                        found = found["changed"] + found["deleted"]
                    assert found == [], (path, query)
                    walked += 1
    assert walked >= 10
    # Alice's contact is untouched after all that.
    mine = await client.get(f"/api/contacts/{created['id']}", headers=alice)
    assert mine.json() == created


async def test_login_timing_does_not_reveal_whether_an_email_exists(
    database_url: str, tmp_path: Path
) -> None:
    # Hashing costs that dominate the request, as in production (a few milliseconds here).
    settings = make_settings(
        database_url,
        tmp_path,
        password_hash_time_cost=2,
        password_hash_memory_cost=8192,
        password_hash_parallelism=1,
    )
    async with RunningApp(settings) as running:
        await signup(running.client, "timed@example.com")
        known: list[float] = []
        unknown: list[float] = []
        for round_ in range(30):
            for email, samples in (
                ("timed@example.com", known),
                (f"nobody-{round_}@example.com", unknown),
            ):
                started = time.perf_counter()
                response = await running.client.post(
                    "/api/auth/login", json={"email": email, "password": "wrong password"}
                )
                samples.append(time.perf_counter() - started)
                assert response.status_code == 401
        ratio = statistics.median(unknown) / statistics.median(known)
        # Without the dummy hash an unknown email answers in a fraction of the time.
        assert 0.6 < ratio < 1.67, (statistics.median(known), statistics.median(unknown))


@pytest.fixture
def smtp_with_login() -> Any:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


async def test_secrets_never_reach_logs_or_responses(
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    smtp_with_login: SmtpServer,
) -> None:
    jwt_secret = "jwt-secret-that-must-stay-hidden-0123456789"
    smtp_password = "smtp-password-that-must-stay-hidden"
    cloudinary = CloudinaryServer(api_secret="the-server-knows-another-secret")
    cloudinary_secret = "cloudinary-secret-that-must-stay-hidden"
    cloudinary.start()
    try:
        settings = make_settings(
            database_url,
            tmp_path,
            jwt_secret=jwt_secret,
            **smtp_with_login.settings(),
            mail_username="mailer",
            mail_password=smtp_password,
            cloudinary_url=cloudinary.url.replace(cloudinary.api_secret, cloudinary_secret),
        )
        bodies: list[str] = []
        with caplog.at_level(logging.DEBUG):
            async with RunningApp(settings) as running:
                client = running.client

                async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
                    response = await client.request(method, url, **kwargs)
                    bodies.append(response.text + str(response.headers))
                    return response

                account = {"email": "hush@example.com", "password": PASSWORD}
                assert (await call("POST", "/api/auth/signup", json=account)).status_code == 201
                tokens = (await call("POST", "/api/auth/login", json=account)).json()
                headers = {"Authorization": f"Bearer {tokens['access_token']}"}
                await call("POST", "/api/auth/login", json={**account, "password": "nope nope"})
                await call("POST", "/api/auth/signup", json={**account, "password": "short"})
                await call("POST", "/api/auth/refresh", json={"refresh_token": "x.y.z"})
                await call("POST", "/api/auth/password-reset", json={"email": account["email"]})
                avatar = await call(
                    "PATCH",
                    "/api/users/me/avatar",
                    files={"file": ("a.png", png_bytes(), "image/png")},
                    headers=headers,
                )
                assert avatar.status_code == 502
                await call("GET", "/api/users/me", headers={"Authorization": "Bearer forged"})
                await call("GET", "/readyz")
    finally:
        cloudinary.stop()
    assert "could not send" in caplog.text  # the SMTP login failed and was logged...
    for secret in (jwt_secret, smtp_password, cloudinary_secret):
        assert secret not in caplog.text  # ...without any secret
        assert all(secret not in body for body in bodies)
        assert secret not in repr(settings)
