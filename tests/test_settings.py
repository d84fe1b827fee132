"""Settings and start-up checks of the JWT secret."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from contacts_kit import ContactsKit, Settings
from contacts_kit.auth.tokens import TokenType
from contacts_kit.errors import ConfigurationError
from tests.conftest import make_settings


def test_settings_read_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTACTS_KIT_API_PREFIX", "v2/")
    monkeypatch.setenv("CONTACTS_KIT_ACCESS_TOKEN_TTL", "PT5M")
    monkeypatch.setenv("CONTACTS_KIT_DATABASE_URL", "postgresql://u@db/contacts")
    settings = Settings(_env_file=None)
    assert settings.api_prefix == "/v2"
    assert settings.access_token_ttl.total_seconds() == 300
    assert settings.database_url == "postgresql+asyncpg://u@db/contacts"


def test_settings_read_a_dotenv_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("CONTACTS_KIT_PUBLIC_URL=https://contacts.example.com/\nUNRELATED=1\n")
    settings = Settings(_env_file=env)
    assert settings.public_url == "https://contacts.example.com"


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./contacts_kit.db"
    assert settings.redis_url is None
    assert settings.access_token_ttl.total_seconds() == 15 * 60
    assert settings.refresh_token_ttl.days == 7
    assert settings.api_prefix == "/api"
    assert settings.environment == "development"


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    settings = make_settings("sqlite:///x.db", tmp_path, environment="production", jwt_secret=None)
    with pytest.raises(ConfigurationError, match="required in production"):
        ContactsKit(settings)


def test_production_refuses_a_short_secret(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite:///x.db", tmp_path, environment="production", jwt_secret="too-short"
    )
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        ContactsKit(settings)


async def test_development_secret_is_stable_across_instances(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file = tmp_path / "secret"
    settings = make_settings(
        f"sqlite:///{tmp_path}/x.db", tmp_path, jwt_secret=None, jwt_secret_file=secret_file
    )
    with caplog.at_level(logging.WARNING, logger="contacts_kit"):
        first = ContactsKit(settings)
    assert "No CONTACTS_KIT_JWT_SECRET set" in caplog.text
    token, _ = first.tokens.encode("someone", TokenType.ACCESS, timedelta(minutes=5))
    second = ContactsKit(settings)  # a restart, or another worker
    assert second.tokens.decode(token, TokenType.ACCESS).sub == "someone"
    assert len(secret_file.read_text().strip()) >= 32
    assert secret_file.stat().st_mode & 0o077 == 0
    await first.engine.dispose()
    await second.engine.dispose()
