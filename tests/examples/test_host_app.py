"""The example host app, driven over HTTP: its own routes, its lifespan, contacts-kit's routers
under its prefix, and dependency overrides that reach contacts-kit's routes."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from contacts_kit import ContactsKit
from contacts_kit.users.schemas import AuthenticatedUser
from examples.host_app.app import PREFIX, build_app
from tests.conftest import PASSWORD, empty_tables, make_settings


async def test_the_host_app_embeds_contacts_kit(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, tmp_path, api_prefix=PREFIX, require_verified_email=True)
    app = build_app(settings)
    kit: ContactsKit = app.state.contacts_kit
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            assert (await client.get("/hello")).json() == {"message": "hello from the host app"}
            assert (await client.get(f"{PREFIX}/readyz")).status_code == 200
            assert (await client.get(f"{PREFIX}/healthz")).json() == {"status": "ok"}
            account = {"email": "host@example.com", "password": PASSWORD}
            with caplog.at_level(logging.INFO, logger="contacts_kit.mail"):
                assert (await client.post(f"{PREFIX}/auth/signup", json=account)).status_code == 201
            link = re.search(r"http://testserver(\S+/auth/verify\?token=\S+)", caplog.text)
            assert link
            assert link.group(1).startswith(f"{PREFIX}/auth/verify")
            assert (await client.get(link.group(1))).status_code == 200
            tokens = (await client.post(f"{PREFIX}/auth/login", json=account)).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            created = await client.post(
                f"{PREFIX}/contacts",
                json={
                    "first_name": "Embedded",
                    "last_name": "Contact",
                    "email": "embedded@example.com",
                    "phone": "+12025550143",
                    "birthday": "1990-05-05",
                },
                headers=headers,
            )
            assert created.status_code == 201
            # On the public host (CONTACTS_KIT_PUBLIC_URL), never the request's Host header.
            assert created.headers["location"].startswith(f"http://testserver{PREFIX}/contacts/")
            whoami = await client.get("/v1/whoami", headers=headers)
            assert whoami.json() == {"email": "host@example.com"}
            assert (await client.get("/api/contacts", headers=headers)).status_code == 404
            spec = (await client.get("/openapi.json")).json()
            assert f"{PREFIX}/contacts" in spec["paths"]
            assert "/hello" in spec["paths"]

            # The host's dependency overrides reach contacts-kit's routes.
            fake = AuthenticatedUser(
                id=uuid.uuid4(),
                email="override@example.com",
                is_verified=True,
                avatar_url=None,
                created_at=datetime.now(UTC),
                token_version=0,
            )
            app.dependency_overrides[kit.current_user] = lambda: fake
            me = await client.get(f"{PREFIX}/users/me")
            assert me.json()["email"] == "override@example.com"
            assert (await client.get("/v1/whoami")).json() == {"email": "override@example.com"}
            app.dependency_overrides.clear()
        await empty_tables(kit)
    assert app.state.greeting is None  # the host's shutdown ran too
