"""CORS from settings: nothing allowed by default, listed origins only, never `*` with
credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from contacts_kit import ContactsKit, Settings
from contacts_kit.errors import ConfigurationError
from tests.conftest import RunningApp, make_settings

PREFLIGHT = {
    "Origin": "https://app.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


async def test_no_origin_is_allowed_by_default(sqlite_database_url: str, tmp_path: Path) -> None:
    async with RunningApp(make_settings(sqlite_database_url, tmp_path)) as running:
        response = await running.client.options("/api/contacts", headers=PREFLIGHT)
        assert "access-control-allow-origin" not in response.headers


async def test_listed_origins_are_allowed(sqlite_database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        sqlite_database_url, tmp_path, cors_origins=["https://app.example.com"]
    )
    async with RunningApp(settings) as running:
        allowed = await running.client.options("/api/contacts", headers=PREFLIGHT)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        other = await running.client.options(
            "/api/contacts", headers={**PREFLIGHT, "Origin": "https://evil.example"}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        simple = await running.client.get("/healthz", headers={"Origin": "https://app.example.com"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
        assert "etag" in simple.headers["access-control-expose-headers"].lower()


def test_origins_read_from_a_comma_separated_or_json_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTACTS_KIT_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings(_env_file=None).cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("CONTACTS_KIT_CORS_ORIGINS", '["https://c.example"]')
    assert Settings(_env_file=None).cors_origins == ["https://c.example"]


def test_wildcard_with_credentials_is_refused_at_start_up(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite:///x.db", tmp_path, cors_origins=["*"], cors_allow_credentials=True
    )
    with pytest.raises(ConfigurationError, match="credentials"):
        ContactsKit(settings)
