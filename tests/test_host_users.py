"""contacts-kit in a host that already has users: the example host app (its own `users` table
with integer ids, its own cookie login) mounts the contacts, tags and calendar routers only.
Every contacts feature works for the host's users with no row in any kit accounts table;
their books stay apart; the kit brings no account route and no security scheme."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Header
from sqlalchemy import text

from contacts_kit import ContactsKit, Settings
from contacts_kit.cli import main
from examples.own_users.app import Base, build_app
from tests.conftest import empty_tables, make_settings, statements
from tests.test_host_integration import serving

CONTACTS = "/api/contacts"
ADA = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+12025550143",
    "tags": ["Friends"],
}
VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Grace Hopper\r\nN:Hopper;Grace;;;\r\n"
    "EMAIL:grace@example.com\r\nEND:VCARD\r\n"
)


def _soon(days: int) -> str:
    """A birthday `days` days from now, thirty years ago (never 29 February)."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    if (day.month, day.day) == (2, 29):
        day += timedelta(days=1)
    return day.replace(year=day.year - 30).isoformat()


def host_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """A host's settings: no JWT secret at all (the host has its own login)."""
    settings = make_settings(database_url, tmp_path, **overrides)
    return settings.model_copy(update={"jwt_secret": None})


@dataclass
class Host:
    """The example host app running, and a client per signed-in host user."""

    app: FastAPI
    kit: ContactsKit
    users: list[httpx.AsyncClient]
    ids: list[int]
    anonymous: httpx.AsyncClient


@asynccontextmanager
async def running_host(settings: Settings, people: int = 2) -> AsyncIterator[Host]:
    """The example host app with `people` registered and signed in through its own login;
    on the way out every row of the kit and the host's table go."""
    app = build_app(settings, cookie_key=b"k" * 32)
    kit: ContactsKit = app.state.contacts_kit
    clients: list[httpx.AsyncClient] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        try:
            ids = []
            for _ in range(people + 1):
                clients.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
            for number, client in enumerate(clients[:people]):
                form = {"email": f"person{number}@host.example", "password": "host password"}
                registered = await client.post("/register", data=form)
                assert registered.status_code == 201, registered.text
                ids.append(registered.json()["id"])
                assert (await client.post("/login", data=form)).status_code == 204
            yield Host(app, kit, clients[:people], ids, clients[people])
        finally:
            for client in clients:
                await client.aclose()
            await empty_tables(kit)
            async with kit.engine.begin() as connection:
                await connection.run_sync(Base.metadata.drop_all)


@pytest.fixture
async def host(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[Host]:
    """The host on either database, with Redis as the shared cache (kept answers on)."""
    async with running_host(host_settings(database_url, tmp_path, redis_url=redis_url)) as running:
        yield running


async def _create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    created = await client.post(CONTACTS, json=body)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"http://testserver{CONTACTS}/{created.json()['id']}"
    result: dict[str, Any] = created.json()
    return result


async def test_the_contacts_of_a_host_user_work_end_to_end(host: Host) -> None:
    ada = host.users[0]
    contact = await _create(ada, ADA | {"birthday": _soon(2), "favorite": True})
    url = f"{CONTACTS}/{contact['id']}"
    read = await ada.get(url)
    assert read.json()["tags"] == ["Friends"]
    assert (await ada.get(url, headers={"If-None-Match": read.headers["etag"]})).status_code == 304
    # Conditional writes.
    changed = await ada.patch(url, json={"notes": "n"}, headers={"If-Match": read.headers["etag"]})
    assert changed.status_code == 200
    stale = await ada.patch(url, json={"notes": "x"}, headers={"If-Match": read.headers["etag"]})
    assert stale.status_code == 412
    # Search, filters, birthdays, tags.
    assert [c["id"] for c in (await ada.get(CONTACTS, params={"q": "lovel"})).json()] == [
        contact["id"]
    ]
    assert len((await ada.get(CONTACTS, params={"favorite": "true", "tag": "friends"})).json()) == 1
    assert [c["id"] for c in (await ada.get(f"{CONTACTS}/birthdays?days=7")).json()] == [
        contact["id"]
    ]
    tags = (await ada.get("/api/tags")).json()
    assert [(tag["name"], tag["contacts"]) for tag in tags] == [("Friends", 1)]
    renamed = await ada.patch(f"/api/tags/{tags[0]['id']}", json={"name": "Family"})
    assert renamed.status_code == 200
    assert (await ada.get(url)).json()["tags"] == ["Family"]
    # The changes feed, batch, trash and restore.
    start = (await ada.get(f"{CONTACTS}/changes")).json()
    batch = await ada.post(
        f"{CONTACTS}/batch",
        json={
            "operations": [
                {"op": "create", "data": {"first_name": "Bea", "phone": "+1 202 555 0101"}}
            ]
        },
    )
    assert batch.json()["results"][0]["status"] == 201
    assert (await ada.delete(url)).status_code == 204
    assert [c["id"] for c in (await ada.get(f"{CONTACTS}/trash")).json()] == [contact["id"]]
    since = (await ada.get(f"{CONTACTS}/changes", params={"since": start["next"]})).json()
    assert [c["first_name"] for c in since["changed"]] == ["Bea"]
    assert (await ada.post(f"{url}/restore")).status_code == 200
    # Import and export.
    imported = await ada.post(
        f"{CONTACTS}/import", content=VCARD, headers={"content-type": "text/vcard"}
    )
    assert [record["outcome"] for record in imported.json()["records"]] == ["created"]
    exported = await ada.get(f"{CONTACTS}/export", params={"format": "csv"})
    assert {"Ada", "Bea", "Grace"} <= {line.split(",")[0] for line in exported.text.splitlines()}
    # The birthday calendar and its secret address.
    feed = await ada.post("/api/users/me/calendar-token")
    assert feed.status_code == 201
    path = feed.json()["url"].removeprefix("http://testserver")
    assert path.startswith("/api/calendar/")
    calendar = await host.anonymous.get(path)
    assert calendar.status_code == 200
    assert "Ada Lovelace" in calendar.text
    assert (await ada.delete("/api/users/me/calendar-token")).status_code == 204
    assert (await host.anonymous.get(path)).status_code == 404
    # Rows keyed by the host's own id; the kit has no account for it.
    async with host.kit.engine.connect() as connection:
        owners = (
            (await connection.execute(text("SELECT DISTINCT owner_id FROM contacts_kit_contacts")))
            .scalars()
            .all()
        )
        accounts = (
            await connection.execute(text("SELECT count(*) FROM contacts_kit_users"))
        ).scalar()
    assert owners == [str(host.ids[0])]
    assert accounts == 0


async def test_host_users_never_see_each_other(host: Host) -> None:
    ada, bob = host.users
    contact = await _create(ada, ADA)
    url = f"{CONTACTS}/{contact['id']}"
    assert (await bob.get(url)).status_code == 404
    assert (await bob.patch(url, json={"notes": "mine"})).status_code == 404
    assert (await bob.delete(url)).status_code == 404
    assert (await bob.get(CONTACTS)).json() == []
    assert (await bob.get("/api/tags")).json() == []
    assert (await bob.get(f"{CONTACTS}/changes")).json()["changed"] == []
    # Bob's book may hold the same email: books are apart.
    await _create(bob, ADA)
    assert len((await ada.get(CONTACTS)).json()) == 1
    # Nobody signed in: the host's own 401, from the host's dependency.
    refused = await host.anonymous.get(CONTACTS)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Sign in first."}


async def test_kept_answers_serve_host_users_without_sql(host: Host) -> None:
    ada = host.users[0]
    await _create(ada, ADA)
    # The write ended the owner's generation: the first read writes one, the second keeps
    # its answer, the third is served from it.
    first = await ada.get(CONTACTS)
    await ada.get(CONTACTS)
    async with statements(host.kit) as seen:
        third = await ada.get(CONTACTS)
    assert seen == []
    assert third.content == first.content
    await _create(ada, {"first_name": "Next", "email": "next@example.com"})
    async with statements(host.kit) as seen:
        after = await ada.get(CONTACTS)
    assert seen != []
    assert len(after.json()) == 2


async def test_rate_limits_count_per_host_user(database_url: str, tmp_path: Path) -> None:
    settings = host_settings(
        database_url, tmp_path, rate_limit_enabled=True, rate_limit_contacts="3/minute"
    )
    async with running_host(settings) as running:
        ada, bob = running.users
        answers = [(await ada.get(CONTACTS)).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        assert (await bob.get(CONTACTS)).status_code == 200


async def test_the_host_openapi_has_no_account_route_and_no_kit_scheme(host: Host) -> None:
    spec = (await host.anonymous.get("/openapi.json")).json()
    assert not [path for path in spec["paths"] if "/auth" in path or path.endswith("/users/me")]
    assert "securitySchemes" not in spec.get("components", {})
    assert f"{CONTACTS}/{{contact_id}}" in spec["paths"]
    assert "/api/tags" in spec["paths"]
    assert "/api/calendar/{token}/birthdays.ics" in spec["paths"]
    # Operation ids are FastAPI's, as the host's own: unique, from the path.
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_production_starts_without_a_jwt_secret_or_avatar_storage(tmp_path: Path) -> None:
    settings = host_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", tmp_path, environment="production"
    )
    assert settings.jwt_secret is None
    assert settings.cloudinary_url is None
    assert not settings.media_dir_shared
    app = build_app(settings)
    assert app.state.contacts_kit.accounts is None
    # The same settings refuse a kit with its own accounts: they need the secret.
    from contacts_kit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        ContactsKit(settings)


async def test_production_without_shared_storage_refuses_photos_and_serves_the_rest(
    tmp_path: Path,
) -> None:
    settings = host_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", tmp_path, environment="production"
    )
    from contacts_kit.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.database_url)
    async with running_host(settings, people=1) as running:
        (ada,) = running.users
        first = await _create(ada, ADA)
        from tests.users.images import png_bytes

        refused = await ada.put(
            f"{CONTACTS}/{first['id']}/photo", files={"file": ("a.png", png_bytes(), "image/png")}
        )
        assert (refused.status_code, refused.json()["code"]) == (502, "STORAGE_FAILED")
        assert "CONTACTS_KIT_CLOUDINARY_URL" in refused.json()["detail"]
        assert not (settings.media_dir / "photos").exists() or not any(
            (settings.media_dir / "photos").iterdir()
        )
        assert (await ada.get(f"{CONTACTS}/{first['id']}")).json()["photo_url"] is None


async def test_a_team_shares_one_book_through_a_string_owner_key(
    database_url: str, tmp_path: Path
) -> None:
    teams = {"ann": "team-acme", "ben": "team-acme", "cat": "team-other"}

    async def team_of_user(x_user: str = Header()) -> str:
        return teams[x_user]

    kit = ContactsKit(host_settings(database_url, tmp_path), owner=team_of_user)
    app = FastAPI()
    app.include_router(kit.get_contacts_router(), prefix="/books/contacts")
    async with serving(app, kit) as client:
        try:
            created = await client.post("/books/contacts", json=ADA, headers={"x-user": "ann"})
            assert created.status_code == 201
            assert created.headers["location"].endswith(f"/books/contacts/{created.json()['id']}")
            seen_by_ben = await client.get("/books/contacts", headers={"x-user": "ben"})
            assert [c["id"] for c in seen_by_ben.json()] == [created.json()["id"]]
            changed = await client.patch(
                created.headers["location"].removeprefix("http://testserver"),
                json={"notes": "Ben was here"},
                headers={"x-user": "ben"},
            )
            assert changed.status_code == 200
            assert (await client.get("/books/contacts", headers={"x-user": "cat"})).json() == []
        finally:
            await empty_tables(kit)


async def test_erasing_an_owner_removes_every_row_of_theirs_and_nothing_else(host: Host) -> None:
    ada, bob = host.users
    first = await _create(ada, ADA)
    await _create(ada, {"first_name": "Two", "email": "two@example.com", "tags": ["Work"]})
    await ada.delete(f"{CONTACTS}/{first['id']}")  # one in the trash
    await ada.post("/api/users/me/calendar-token")
    await _create(bob, ADA)
    await bob.post("/api/users/me/calendar-token")

    async def rows(owner: int) -> dict[str, int]:
        counts = {}
        async with host.kit.engine.connect() as connection:
            for table in (
                "contacts_kit_contacts",
                "contacts_kit_tags",
                "contacts_kit_change_logs",
                "contacts_kit_calendar_tokens",
            ):
                counts[table] = (
                    await connection.execute(
                        text(f"SELECT count(*) FROM {table} WHERE owner_id = :o"), {"o": str(owner)}
                    )
                ).scalar_one()
        return counts

    bobs = await rows(host.ids[1])
    erased = await host.kit.erase_owner(host.ids[0])
    assert erased.rows["contacts_kit_contacts"] == 2
    assert erased.rows["contacts_kit_tags"] == 2
    assert erased.rows["contacts_kit_contact_tags"] == 2
    assert erased.rows["contacts_kit_change_logs"] == 1
    assert erased.rows["contacts_kit_calendar_tokens"] == 1
    assert set((await rows(host.ids[0])).values()) == {0}
    assert await rows(host.ids[1]) == bobs
    # The erased owner reads an empty book at once (nothing kept is served), and may start
    # a new one.
    assert (await ada.get(CONTACTS)).json() == []
    await _create(ada, ADA)


def test_the_erase_owner_command_says_what_it_removed(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = host_settings(database_url, tmp_path)

    async def fill() -> None:
        async with running_host(settings, people=2) as running:
            await _create(running.users[0], ADA)
            await _create(running.users[0], {"first_name": "Two", "phone": "+12025550100"})
            await _create(running.users[1], ADA)
            # Erased from the shell while the host runs; the other user's book stays.
            monkeypatch.setenv("CONTACTS_KIT_DATABASE_URL", database_url)
            assert await asyncio.to_thread(main, ["erase-owner", str(running.ids[0])]) == 0
            assert (await running.users[0].get(CONTACTS)).json() == []
            assert len((await running.users[1].get(CONTACTS)).json()) == 1

    asyncio.run(fill())
    printed = capsys.readouterr().out
    assert "contacts_kit_contacts: 2 row(s) deleted" in printed
    assert "contacts_kit_change_logs: 1 row(s) deleted" in printed


async def test_full_cards_and_photos_work_for_host_users(host: Host) -> None:
    ada, bob = host.users
    card = ADA | {
        "email": None,
        "phone": None,
        "emails": [{"value": "ada@example.com", "label": "home"}, {"value": "ada@work.example"}],
        "phones": [{"value": "+380 50 123 45 67", "label": "mobile"}],
        "organization": "Engines",
        "anniversary": "2001-05-04",
    }
    del card["email"], card["phone"]
    first = await _create(ada, card)
    assert [e["value"] for e in first["emails"]] == ["ada@example.com", "ada@work.example"]
    found = await ada.get(CONTACTS, params={"q": "050-123-4567"})
    assert [c["id"] for c in found.json()] == [first["id"]]
    taken = await ada.post(CONTACTS, json={"first_name": "B", "email": "ada@work.example"})
    assert taken.status_code == 409
    await _create(bob, {"first_name": "B", "email": "ada@work.example"})  # another book
    from tests.users.images import png_bytes

    photo = await ada.put(
        f"{CONTACTS}/{first['id']}/photo", files={"file": ("a.png", png_bytes(), "image/png")}
    )
    assert photo.status_code == 200, photo.text
    url = photo.json()["photo_url"]
    assert url.startswith(f"http://testserver{CONTACTS}/photos/")
    assert (await host.anonymous.get(url.removeprefix("http://testserver"))).status_code == 200
    exported = (await ada.get(f"{CONTACTS}/export", params={"format": "vcard"})).text
    assert "ANNIVERSARY:20010504" in exported
    assert f"PHOTO:{url}" in exported.replace("\r\n ", "")  # unfolded
    files = host.kit.settings.media_dir / "photos"
    assert len(list(files.iterdir())) == 1
    erased = await host.kit.erase_owner(host.ids[0])
    assert erased.files
    assert list(files.iterdir()) == []
    assert erased.rows["contacts_kit_contact_emails"] == 2
