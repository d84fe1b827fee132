"""Settings and start-up checks of the JWT secret."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from contacts_kit import ContactsKit, Settings, create_app
from contacts_kit.auth.tokens import TokenType
from contacts_kit.errors import ConfigurationError
from tests.conftest import make_settings
from tests.server import clean_env


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


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("900", 900), ("900.5", 900.5), (" 60 ", 60), ("PT15M", 900), ("P7D", 7 * 86400)],
)
def test_every_duration_reads_seconds_and_iso_8601(
    monkeypatch: pytest.MonkeyPatch, text: str, seconds: float
) -> None:
    names = [name for name, field in Settings.model_fields.items() if field.annotation is timedelta]
    assert {"access_token_ttl", "refresh_token_ttl", "database_statement_timeout"} <= set(names)
    for name in names:
        monkeypatch.setenv(f"CONTACTS_KIT_{name.upper()}", text)
    settings = Settings(_env_file=None)
    assert {getattr(settings, name).total_seconds() for name in names} == {seconds}


def test_a_bad_setting_is_one_clear_line_naming_its_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "contacts_kit", "migrate"],
        cwd=tmp_path,
        env=clean_env(CONTACTS_KIT_ACCESS_TOKEN_TTL="fifteen minutes"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "contacts-kit: configuration error: CONTACTS_KIT_ACCESS_TOKEN_TTL='fifteen minutes': "
        "'fifteen minutes' is not a duration: write seconds (900) or ISO 8601 (PT15M, P7D)"
    ]


def test_production_refuses_avatars_on_a_disk_other_instances_cannot_see(tmp_path: Path) -> None:
    secret = "s" * 40
    local = make_settings("sqlite:///x.db", tmp_path, environment="production", jwt_secret=secret)
    with pytest.raises(ConfigurationError, match="CONTACTS_KIT_MEDIA_DIR_SHARED"):
        create_app(local)
    with pytest.raises(ConfigurationError, match="CONTACTS_KIT_MEDIA_DIR_SHARED"):
        ContactsKit(local).get_avatar_router()
    # A host that serves no avatar (its accounts without the avatar router) needs no storage.
    assert ContactsKit(local).get_auth_router().routes
    # A disk every instance mounts, or storage that is not a disk: the kit starts.
    shared = local.model_copy(update={"media_dir_shared": True})
    assert create_app(shared).state.contacts_kit.settings.media_dir_shared
    cloud = local.model_copy(update={"cloudinary_url": SecretStr("cloudinary://key:secret@demo")})
    assert type(ContactsKit(cloud).storage).__name__ == "CloudinaryStorage"
    # Development keeps the disk without a word.
    development = local.model_copy(update={"environment": "development"})
    assert type(ContactsKit(development).storage).__name__ == "LocalStorage"


@pytest.mark.parametrize("value", ["-P1D", "0", "PT0S", -5])
def test_a_duration_of_zero_or_less_is_refused(value: object) -> None:
    # A trash retention of -P1D once purged the whole trash (issue 29).
    with pytest.raises(ValidationError, match="must be longer than zero"):
        Settings(_env_file=None, trash_retention=value)


def test_a_duration_with_blanks_around_it_reads() -> None:
    settings = Settings(_env_file=None, access_token_ttl=" PT15M ", refresh_token_ttl="900 ")
    assert settings.access_token_ttl == timedelta(minutes=15)
    assert settings.refresh_token_ttl == timedelta(seconds=900)


def test_a_misspelled_variable_is_named_with_the_setting_it_resembles(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CONTACTS_KIT_JWT_SECRT", "typed in a hurry")
    monkeypatch.setenv("CONTACTS_KIT_TEST_ANYTHING", "the project's own tooling")
    with caplog.at_level(logging.WARNING, logger="contacts_kit.settings"):
        Settings(_env_file=None)
    assert [record.getMessage() for record in caplog.records] == [
        "CONTACTS_KIT_JWT_SECRT is not a setting of contacts-kit: did you mean "
        "CONTACTS_KIT_JWT_SECRET?"
    ]
