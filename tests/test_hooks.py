"""Every hook: the built-in providers, a plugin that overrides them, the event hooks, and how a
plugin manager treats broken plugins.

The meta-test at the bottom demands a `test_hook_<name>` for every declared hook.
"""

from __future__ import annotations

import ast
import gc
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from contacts_kit import ContactsKit, Settings, hookimpl, hookspecs
from contacts_kit.backends.cache_memory import MemoryCache
from contacts_kit.backends.cache_redis import RedisCache
from contacts_kit.backends.mail_console import ConsoleMailer
from contacts_kit.backends.protocols import MailMessage
from contacts_kit.backends.ratelimit_memory import MemoryRateLimitStore
from contacts_kit.backends.ratelimit_redis import RedisRateLimitStore
from contacts_kit.backends.storage_local import LocalStorage
from contacts_kit.contact.events import ContactEvents
from contacts_kit.contact.schemas import ContactRead
from contacts_kit.errors import ConfigurationError
from contacts_kit.events import HookContext
from contacts_kit.users.events import AccountEvents
from contacts_kit.users.schemas import UserRead
from tests.conftest import PASSWORD, RunningApp, auth_headers, make_settings, signup

CONTACT = {
    "first_name": "Hook",
    "last_name": "Test",
    "email": "Hook@Example.com",
    "phone": "+12025550143",
    "birthday": "1990-01-01",
}


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
        self.store = MemoryRateLimitStore(100)

    @hookimpl
    def provide_cache(self, settings: Settings) -> Any:
        return self.cache

    @hookimpl
    def provide_mailer(self, settings: Settings) -> Any:
        return self.mailer

    @hookimpl
    def provide_storage(self, settings: Settings) -> Any:
        return self.storage

    @hookimpl
    def provide_rate_limit_store(self, settings: Settings) -> Any:
        return self.store


class _Recorder:
    """Records every event with the context it came with."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _seen(self, name: str, **arguments: Any) -> None:
        self.events.append((name, arguments))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    @hookimpl
    async def on_user_registered(self, user: UserRead, context: HookContext) -> None:
        self._seen("on_user_registered", user=user, context=context)

    @hookimpl
    def on_user_verified(self, user: UserRead) -> None:
        self._seen("on_user_verified", user=user)

    @hookimpl
    def on_password_changed(self, user: UserRead, reset: bool) -> None:
        self._seen("on_password_changed", user=user, reset=reset)

    @hookimpl
    async def on_user_deleted(self, user: UserRead) -> None:
        self._seen("on_user_deleted", user=user)

    @hookimpl
    def on_contact_created(self, contact: ContactRead, owner_id: uuid.UUID) -> None:
        self._seen("on_contact_created", contact=contact, owner_id=owner_id)

    @hookimpl
    async def on_contact_updated(self, contact: ContactRead, owner_id: uuid.UUID) -> None:
        self._seen("on_contact_updated", contact=contact, owner_id=owner_id)

    @hookimpl
    def on_contact_deleted(self, contact_id: int, owner_id: uuid.UUID, permanent: bool) -> None:
        self._seen(
            "on_contact_deleted", contact_id=contact_id, owner_id=owner_id, permanent=permanent
        )

    @hookimpl
    async def on_contact_restored(self, contact: ContactRead, owner_id: uuid.UUID) -> None:
        self._seen("on_contact_restored", contact=contact, owner_id=owner_id)


async def test_hook_provide_cache(settings: Settings, redis_url: str) -> None:
    default = ContactsKit(settings)
    assert isinstance(default.cache.inner, MemoryCache)  # type: ignore[attr-defined]
    with_redis = ContactsKit(settings.model_copy(update={"redis_url": redis_url}))
    assert isinstance(with_redis.cache.inner, RedisCache)  # type: ignore[attr-defined]
    # One Redis client: the cache's is the kit's.
    assert with_redis.cache.inner.client is with_redis.redis  # type: ignore[attr-defined]
    plugin = _Overrides()
    overridden = ContactsKit(settings, plugins=[plugin])
    assert overridden.cache.inner is plugin.cache  # type: ignore[attr-defined]
    for kit in (default, with_redis, overridden):
        async with kit.lifespan():
            pass


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
    # Local files are served by the kit's own media route: the storage returns the key.
    assert await default.storage.save("avatars/a.png", b"png-bytes", "image/png") == "avatars/a.png"
    assert (settings.media_dir / "avatars" / "a.png").read_bytes() == b"png-bytes"
    with pytest.raises(ValueError, match="unsafe"):
        await default.storage.save("../escape.png", b"x", "image/png")
    plugin = _Overrides()
    overridden = ContactsKit(settings, plugins=[plugin])
    assert overridden.storage is plugin.storage
    await default.engine.dispose()
    await overridden.engine.dispose()


async def test_hook_provide_rate_limit_store(settings: Settings, redis_url: str) -> None:
    default = ContactsKit(settings)
    with_redis = ContactsKit(settings.model_copy(update={"redis_url": redis_url}))
    plugin = _Overrides()
    overridden = ContactsKit(settings, plugins=[plugin])
    stores = [kit.limits.contacts.factory for kit in (default, with_redis, overridden)]
    assert [factory.redis is None for factory in stores] == [True, False, True]  # type: ignore[attr-defined]
    # The rate limits count in the kit's one Redis client, the cache's too.
    assert stores[1].redis is with_redis.redis  # type: ignore[attr-defined]
    assert isinstance(RedisRateLimitStore(with_redis.redis, 10), RedisRateLimitStore)
    for kit in (default, with_redis, overridden):
        async with kit.lifespan():
            pass


def test_a_provider_returning_the_wrong_type_stops_start_up(settings: Settings) -> None:
    class _Broken:
        @hookimpl
        def provide_mailer(self, settings: Settings) -> Any:
            return object()

    with pytest.raises(ConfigurationError, match="does not implement Mailer"):
        ContactsKit(settings, plugins=[_Broken()])


def test_a_misspelled_hook_stops_start_up(settings: Settings) -> None:
    class _Typo:
        @hookimpl
        def on_contact_creatd(self, contact: ContactRead) -> None:  # the typo
            raise AssertionError("never called")

    with pytest.raises(ConfigurationError, match="on_contact_creatd"):
        ContactsKit(settings, plugins=[_Typo()])


def test_an_unknown_argument_of_a_hook_stops_start_up(settings: Settings) -> None:
    class _Wrong:
        @hookimpl
        def on_contact_created(self, contact: ContactRead, kit: Any) -> None:
            raise AssertionError("never called")

    with pytest.raises(ConfigurationError, match="kit"):
        ContactsKit(settings, plugins=[_Wrong()])


async def test_a_failing_plugin_is_logged_and_the_others_still_run(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    class _Failing:
        @hookimpl
        async def on_contact_created(self, contact: ContactRead) -> None:
            raise RuntimeError("the CRM is down")

    class _SyncFailing:
        @hookimpl
        def on_contact_created(self, contact: ContactRead) -> None:
            raise ValueError("bad bookkeeping")

    recorder = _Recorder()
    # Registered around the recorder, so it runs between two failures whatever the order.
    plugins = (_Failing(), recorder, _SyncFailing())
    with caplog.at_level(logging.ERROR, logger="contacts_kit.events"):
        async with RunningApp(settings, plugins=plugins) as running:
            headers = await auth_headers(running.client, "resilient@example.com")
            created = await running.client.post("/api/contacts", json=CONTACT, headers=headers)
            assert created.status_code == 201
    assert recorder.names().count("on_contact_created") == 1
    failures = [
        record for record in caplog.records if "failed in on_contact_created" in record.message
    ]
    assert len(failures) == 2
    assert {record.exc_info[1].__class__ for record in failures if record.exc_info} == {
        RuntimeError,
        ValueError,
    }
    # Each failure names its plugin.
    assert "test_a_failing_plugin_is_logged_and_the_others_still_run.<locals>._Failing" in (
        caplog.text
    )
    assert "._SyncFailing failed" in caplog.text
    # No coroutine was left un-awaited: the run has warnings as errors, and collecting now
    # turns a "never awaited" warning into this test's failure.
    gc.collect()


async def test_hook_on_user_registered(settings: Settings) -> None:
    recorder = _Recorder()
    async with RunningApp(settings, plugins=(recorder,)) as running:
        body = await signup(running.client, "hooked@example.com")
        [(name, event)] = recorder.events
        assert name == "on_user_registered"
        assert event["user"].email == "hooked@example.com"
        assert str(event["user"].id) == body["id"]
        # The context carries the kit's settings and backends.
        context: HookContext = event["context"]
        assert context.settings is running.kit.settings
        assert context.mailer is running.kit.mailer
        assert context.cache is running.kit.cache


async def test_hook_on_user_verified(database_url: str, tmp_path: Path) -> None:
    recorder = _Recorder()
    mailer = _Overrides()
    settings = make_settings(database_url, tmp_path, require_verified_email=True)
    async with RunningApp(settings, plugins=(recorder, mailer)) as running:
        await signup(running.client, "verify-me@example.com")
        [message] = mailer.mailer.sent
        link = next(word for word in message.text.split() if "/auth/verify?token=" in word)
        path = link.removeprefix("http://testserver")
        assert (await running.client.get(path)).status_code == 200
        assert (await running.client.get(path)).status_code == 200  # idempotent: one event
        verified = [event for name, event in recorder.events if name == "on_user_verified"]
        assert [event["user"].email for event in verified] == ["verify-me@example.com"]
        assert verified[0]["user"].is_verified is True


async def test_hook_on_password_changed(settings: Settings) -> None:
    recorder = _Recorder()
    async with RunningApp(settings, plugins=(recorder,)) as running:
        headers = await auth_headers(running.client, "changer@example.com")
        changed = await running.client.post(
            "/api/auth/password-change",
            json={"current_password": PASSWORD, "new_password": "another good one"},
            headers=headers,
        )
        assert changed.status_code == 204
        wrong = await running.client.post(
            "/api/auth/password-change",
            json={"current_password": "not it at all", "new_password": "a third good one"},
            headers=headers,
        )
        assert wrong.status_code == 401
        changes = [event for name, event in recorder.events if name == "on_password_changed"]
        assert [(event["user"].email, event["reset"]) for event in changes] == [
            ("changer@example.com", False)
        ]


async def test_hook_on_user_deleted(settings: Settings) -> None:
    recorder = _Recorder()
    async with RunningApp(settings, plugins=(recorder,)) as running:
        headers = await auth_headers(running.client, "leaver@example.com")
        me = (await running.client.get("/api/users/me", headers=headers)).json()
        refused = await running.client.request(
            "DELETE", "/api/users/me", json={"password": "wrong password"}, headers=headers
        )
        assert refused.status_code == 401
        assert "on_user_deleted" not in recorder.names()
        deleted = await running.client.request(
            "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=headers
        )
        assert deleted.status_code == 204
        [event] = [event for name, event in recorder.events if name == "on_user_deleted"]
        assert str(event["user"].id) == me["id"]


async def test_hook_on_contact_created(settings: Settings) -> None:
    recorder = _Recorder()
    async with RunningApp(settings, plugins=(recorder,)) as running:
        headers = await auth_headers(running.client, "owner@example.com")
        me = (await running.client.get("/api/users/me", headers=headers)).json()
        response = await running.client.post("/api/contacts", json=CONTACT, headers=headers)
        assert response.status_code == 201
        duplicate = await running.client.post("/api/contacts", json=CONTACT, headers=headers)
        assert duplicate.status_code == 409  # refused: no event
        created = [event for name, event in recorder.events if name == "on_contact_created"]
        assert [(e["contact"].email, e["owner_id"]) for e in created] == [
            ("hook@example.com", uuid.UUID(me["id"]))
        ]


async def test_hook_on_contact_updated(settings: Settings) -> None:
    recorder = _Recorder()
    async with RunningApp(settings, plugins=(recorder,)) as running:
        headers = await auth_headers(running.client, "updater@example.com")
        contact_id = (
            await running.client.post("/api/contacts", json=CONTACT, headers=headers)
        ).json()["id"]
        url = f"/api/contacts/{contact_id}"
        patched = await running.client.patch(url, json={"notes": "patched"}, headers=headers)
        assert patched.status_code == 200
        replaced = await running.client.put(url, json=CONTACT | {"notes": "put"}, headers=headers)
        assert replaced.status_code == 200
        stale = await running.client.patch(
            url, json={"notes": "stale"}, headers=headers | {"If-Match": '"1"'}
        )
        assert stale.status_code == 412  # refused: no event
        updated = [event for name, event in recorder.events if name == "on_contact_updated"]
        assert [event["contact"].notes for event in updated] == ["patched", "put"]


async def test_hook_on_contact_deleted(settings: Settings) -> None:
    recorder = _Recorder()
    async with RunningApp(settings, plugins=(recorder,)) as running:
        headers = await auth_headers(running.client, "deleter@example.com")
        me = (await running.client.get("/api/users/me", headers=headers)).json()
        contact_id = (
            await running.client.post("/api/contacts", json=CONTACT, headers=headers)
        ).json()["id"]
        url = f"/api/contacts/{contact_id}"
        assert (await running.client.delete(url, headers=headers)).status_code == 204
        assert (await running.client.delete(url, headers=headers)).status_code == 404
        forever = await running.client.delete(url, params={"permanent": "true"}, headers=headers)
        assert forever.status_code == 204
        assert (await running.client.delete(url, headers=headers)).status_code == 404
        deleted = [event for name, event in recorder.events if name == "on_contact_deleted"]
        owner = uuid.UUID(me["id"])
        assert [(e["contact_id"], e["owner_id"], e["permanent"]) for e in deleted] == [
            (contact_id, owner, False),
            (contact_id, owner, True),
        ]


async def test_hook_on_contact_restored(settings: Settings) -> None:
    recorder = _Recorder()
    async with RunningApp(settings, plugins=(recorder,)) as running:
        headers = await auth_headers(running.client, "restorer@example.com")
        contact_id = (
            await running.client.post("/api/contacts", json=CONTACT, headers=headers)
        ).json()["id"]
        url = f"/api/contacts/{contact_id}"
        assert (await running.client.delete(url, headers=headers)).status_code == 204
        assert (await running.client.post(f"{url}/restore", headers=headers)).status_code == 200
        again = await running.client.post(f"{url}/restore", headers=headers)
        assert again.status_code == 404  # not in the trash any more: no event
        restored = [event for name, event in recorder.events if name == "on_contact_restored"]
        assert [(e["contact"].id, e["contact"].email) for e in restored] == [
            (contact_id, CONTACT["email"].lower())
        ]


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


def test_every_event_hook_has_a_typed_emitter() -> None:
    # Events are called through typed methods (mypy checks every call); each `on_x` hook
    # has a method taking the same arguments, but for the context the emitter adds.
    import inspect

    for hook in _declared_hooks():
        if not hook.startswith("on_"):
            continue
        spec = set(inspect.signature(getattr(hookspecs, hook)).parameters) - {"context"}
        events = ContactEvents if hook.startswith("on_contact_") else AccountEvents
        emitter = getattr(events, hook.removeprefix("on_"))
        assert set(inspect.signature(emitter).parameters) - {"self"} == spec, hook
