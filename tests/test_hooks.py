"""Every hook: the built-in providers, a plugin that overrides them, and the event hooks.

The meta-test at the bottom demands a `test_hook_<name>` for every declared hook.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path
from typing import Any

import pytest

from contacts_kit import ContactsKit, Settings, hookimpl, hookspecs
from contacts_kit.auth.schemas import UserRead
from contacts_kit.backends.cache_memory import MemoryCache
from contacts_kit.backends.mail_console import ConsoleMailer
from contacts_kit.backends.protocols import MailMessage
from contacts_kit.backends.storage_local import LocalStorage
from contacts_kit.contact.schemas import ContactRead
from contacts_kit.errors import ConfigurationError
from tests.conftest import RunningApp, auth_headers, signup


class _DictCache(MemoryCache):
    """A distinguishable cache a plugin provides."""


class _ListMailer:
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.sent.append(message)


class _MemoryStorage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    async def save(self, key: str, data: bytes, content_type: str) -> str:
        self.files[key] = data
        return f"memory://{key}"

    async def delete(self, key: str) -> None:
        self.files.pop(key, None)


class _Overrides:
    def __init__(self) -> None:
        self.cache = _DictCache(10)
        self.mailer = _ListMailer()
        self.storage = _MemoryStorage()

    @hookimpl
    def provide_cache(self, settings: Settings) -> Any:
        return self.cache

    @hookimpl
    def provide_mailer(self, settings: Settings) -> Any:
        return self.mailer

    @hookimpl
    def provide_storage(self, settings: Settings) -> Any:
        return self.storage


async def test_hook_provide_cache(settings: Settings) -> None:
    default = ContactsKit(settings)
    assert isinstance(default.cache.inner, MemoryCache)  # type: ignore[attr-defined]
    plugin = _Overrides()
    overridden = ContactsKit(settings, plugins=[plugin])
    assert overridden.cache.inner is plugin.cache  # type: ignore[attr-defined]
    await default.engine.dispose()
    await overridden.engine.dispose()


async def test_hook_provide_mailer(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    default = ContactsKit(settings)
    assert isinstance(default.mailer, ConsoleMailer)
    with caplog.at_level("INFO", logger="contacts_kit.mail"):
        await default.mailer.send(
            MailMessage(to="a@example.com", subject="Hi", text="open https://x.test/link")
        )
    assert "https://x.test/link" in caplog.text
    plugin = _Overrides()
    overridden = ContactsKit(settings, plugins=[plugin])
    assert overridden.mailer is plugin.mailer
    await default.engine.dispose()
    await overridden.engine.dispose()


async def test_hook_provide_storage(settings: Settings) -> None:
    default = ContactsKit(settings)
    assert isinstance(default.storage, LocalStorage)
    url = await default.storage.save("avatars/a.png", b"png-bytes", "image/png")
    assert url == "http://testserver/media/avatars/a.png"
    assert (settings.media_dir / "avatars" / "a.png").read_bytes() == b"png-bytes"
    with pytest.raises(ValueError, match="unsafe"):
        await default.storage.save("../escape.png", b"x", "image/png")
    plugin = _Overrides()
    overridden = ContactsKit(settings, plugins=[plugin])
    assert overridden.storage is plugin.storage
    await default.engine.dispose()
    await overridden.engine.dispose()


def test_a_provider_returning_the_wrong_type_stops_start_up(settings: Settings) -> None:
    class _Broken:
        @hookimpl
        def provide_mailer(self, settings: Settings) -> Any:
            return object()

    with pytest.raises(ConfigurationError, match="does not implement Mailer"):
        ContactsKit(settings, plugins=[_Broken()])


async def test_hook_on_user_registered(settings: Settings) -> None:
    seen: list[UserRead] = []

    class _Listener:
        @hookimpl
        async def on_user_registered(self, user: UserRead, settings: Settings) -> None:
            seen.append(user)

    async with RunningApp(settings, plugins=(_Listener(),)) as running:
        body = await signup(running.client, "hooked@example.com")
        assert [user.email for user in seen] == ["hooked@example.com"]
        assert str(seen[0].id) == body["id"]


async def test_hook_on_contact_created(settings: Settings) -> None:
    seen: list[tuple[str, uuid.UUID]] = []

    class _Listener:
        @hookimpl
        def on_contact_created(
            self, contact: ContactRead, owner_id: uuid.UUID, settings: Settings
        ) -> None:
            seen.append((contact.email, owner_id))

    async with RunningApp(settings, plugins=(_Listener(),)) as running:
        headers = await auth_headers(running.client, "owner@example.com")
        me = (await running.client.get("/api/users/me", headers=headers)).json()
        response = await running.client.post(
            "/api/contacts",
            json={
                "first_name": "Hook",
                "last_name": "Test",
                "email": "Hook@Example.com",
                "phone": "+12025550143",
                "birthday": "1990-01-01",
            },
            headers=headers,
        )
        assert response.status_code == 201
        assert seen == [("hook@example.com", uuid.UUID(me["id"]))]


def _declared_hooks() -> list[str]:
    return [
        name
        for name in dir(hookspecs)
        if name.startswith(("provide_", "on_")) and callable(getattr(hookspecs, name))
    ]


def test_every_hook_has_a_test() -> None:
    tests = {
        node.name
        for path in Path(__file__).parent.rglob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    missing = [hook for hook in _declared_hooks() if f"test_hook_{hook}" not in tests]
    assert _declared_hooks()
    assert missing == []
