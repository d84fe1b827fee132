"""The example third-party plugin, found through its `contacts_kit` entry point."""

from __future__ import annotations

import email
import email.policy
import sys
from pathlib import Path

import pytest

from contacts_kit import ContactsKit
from contacts_kit.backends.mail_console import ConsoleMailer
from tests.conftest import RunningApp, auth_headers, make_settings

PLUGIN_SRC = Path(__file__).parents[2] / "examples" / "plugin" / "src"


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Register the plugin's entry point the way an installed distribution does: a
    `.dist-info` folder with `entry_points.txt` on `sys.path`."""
    site = tmp_path / "site"
    dist_info = site / "contacts_kit_eml_mailer-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: contacts-kit-eml-mailer\nVersion: 0.1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[contacts_kit]\neml_mailer = contacts_kit_eml_mailer\n"
    )
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    monkeypatch.syspath_prepend(str(site))
    outbox = tmp_path / "outbox"
    monkeypatch.setenv("EML_MAILER_DIR", str(outbox))
    yield outbox
    sys.modules.pop("contacts_kit_eml_mailer", None)


async def test_the_installed_plugin_replaces_the_mailer_without_changing_the_app(
    database_url: str, tmp_path: Path, installed_plugin: Path
) -> None:
    settings = make_settings(database_url, tmp_path, load_entry_points=True)
    async with RunningApp(settings) as running:
        assert type(running.kit.mailer).__name__ == "EmlMailer"
        headers = await auth_headers(running.client, "plugged@example.com")
        messages = _read_outbox(installed_plugin)
        assert len(messages) == 1
        message = messages[0]
        assert message["To"] == "plugged@example.com"
        assert message["Subject"] == "Confirm your email address"
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        assert "http://testserver/api/auth/verify?token=" in body.get_content()

        created = await running.client.post(
            "/api/contacts",
            json={
                "first_name": "Logged",
                "last_name": "Contact",
                "email": "logged@example.com",
                "phone": "+12025550143",
                "birthday": "1990-05-05",
            },
            headers=headers,
        )
        assert created.status_code == 201
        log = _read_log(installed_plugin)
        assert log[1:] == [str(created.json()["id"]), "logged@example.com"]


def _read_log(folder: Path) -> list[str]:
    return (folder / "contacts.log").read_text().split()


def _read_outbox(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(folder.glob("*.eml"))
    ]


def test_entry_points_can_be_switched_off(tmp_path: Path, installed_plugin: Path) -> None:
    kit = ContactsKit(make_settings("sqlite:///x.db", tmp_path, load_entry_points=False))
    assert isinstance(kit.mailer, ConsoleMailer)
