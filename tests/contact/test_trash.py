"""The trash: a deleted contact leaves every read, waits in `GET /contacts/trash`, comes back
with `POST /contacts/{id}/restore`, goes for good with `?permanent=true` or after the
retention (`contacts-kit purge`); on both dialects and embedded in a host app."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.contact.models import Contact
from contacts_kit.contact.service import purge
from contacts_kit.db.engine import make_session_factory, transactional
from contacts_kit.migrate import upgrade_engine
from contacts_kit.settings import normalize_database_url
from tests.conftest import Harness, RunningApp, auth_headers, make_settings
from tests.contact.legacy import INSERT_CONTACT, seed_at
from tests.contact.test_router import URL, contact_body, create, days_ahead_birthday
from tests.server import clean_env
from tests.test_embedding import API, CONTACT, embedded_user

TRASH = f"{URL}/trash"


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [contact["id"] for contact in response.json()]


async def _purge(env: dict[str, str], cwd: Path) -> str:
    """Run `contacts-kit purge` as cron would; what it printed."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "contacts_kit", "purge"),
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _trash(client: httpx.AsyncClient, headers: dict[str, str], contact: Any) -> None:
    response = await client.delete(f"{URL}/{contact['id']}", headers=headers)
    assert response.status_code == 204, response.text


async def test_a_deleted_contact_leaves_every_read_and_waits_in_the_trash(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    kept = await create(client, alice, email="kept@example.com", birthday=days_ahead_birthday(1))
    gone = await create(client, alice, first_name="Adam", birthday=days_ahead_birthday(0))
    before = datetime.now(UTC)
    await _trash(client, alice, gone)
    url = f"{URL}/{gone['id']}"

    assert (await client.get(url, headers=alice)).status_code == 404
    assert _ids(await client.get(URL, headers=alice)) == [kept["id"]]
    assert _ids(await client.get(URL, params={"q": "adam"}, headers=alice)) == []
    assert _ids(await client.get(URL, params={"email": "ada@"}, headers=alice)) == []
    birthdays = await client.get(f"{URL}/birthdays", params={"days": 3}, headers=alice)
    assert _ids(birthdays) == [kept["id"]]
    for method, body in (("PATCH", {"notes": "x"}), ("PUT", contact_body())):
        assert (await client.request(method, url, json=body, headers=alice)).status_code == 404

    listed = await client.get(TRASH, headers=alice)
    [trashed] = listed.json()
    assert trashed["id"] == gone["id"]
    assert trashed["first_name"] == "Adam"
    assert datetime.fromisoformat(trashed["deleted_at"]) >= before - timedelta(seconds=1)
    # A list like the others: a tag, and a 304 while nothing changes.
    unchanged = await client.get(TRASH, headers=alice | {"If-None-Match": listed.headers["etag"]})
    assert unchanged.status_code == 304


async def test_the_trash_lists_the_most_recently_deleted_first_page_by_page(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    made = [await create(client, alice, email=f"c{i}@example.com") for i in range(3)]
    for contact in made:
        await _trash(client, alice, contact)
    newest_first = [contact["id"] for contact in reversed(made)]
    assert _ids(await client.get(TRASH, headers=alice)) == newest_first
    paged = await client.get(TRASH, params={"limit": 1, "offset": 1}, headers=alice)
    assert _ids(paged) == newest_first[1:2]
    assert (await client.get(TRASH, params={"limit": 0}, headers=alice)).status_code == 422


async def test_restore_brings_the_contact_back_as_it_was(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    original = await create(client, alice, favorite=True, birthday=days_ahead_birthday(0))
    url = f"{URL}/{original['id']}"
    first_tag = (await client.get(url, headers=alice)).headers["etag"]
    await _trash(client, alice, original)

    restored = await client.post(f"{url}/restore", headers=alice)
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert {k: v for k, v in body.items() if k != "updated_at"} == {
        k: v for k, v in original.items() if k != "updated_at"
    }
    assert "deleted_at" not in body
    # A new version: a copy read before the delete is stale.
    assert restored.headers["etag"] != first_tag
    assert (await client.get(url, headers=alice)).headers["etag"] == restored.headers["etag"]
    assert _ids(await client.get(URL, params={"q": "ada"}, headers=alice)) == [original["id"]]
    assert _ids(await client.get(f"{URL}/birthdays", headers=alice)) == [original["id"]]
    assert _ids(await client.get(TRASH, headers=alice)) == []

    again = await client.post(f"{url}/restore", headers=alice)
    assert again.status_code == 404
    assert again.json()["code"] == "CONTACT_NOT_FOUND"
    assert "trash" in again.json()["detail"]


async def test_a_trashed_email_is_free_and_restoring_it_then_is_a_conflict(
    harness: Harness, alice: dict[str, str]
) -> None:
    client = harness.client
    old = await create(client, alice, email="Same@Example.com")
    await _trash(client, alice, old)
    new = await create(client, alice, first_name="Newer", email="same@example.COM")

    refused = await client.post(f"{URL}/{old['id']}/restore", headers=alice)
    assert refused.status_code == 409
    assert refused.json()["code"] == "CONTACT_EMAIL_EXISTS"
    assert "restore" in refused.json()["detail"]
    assert _ids(await client.get(TRASH, headers=alice)) == [old["id"]]  # nothing lost

    # Two trashed contacts may share an email; only the live book is unique.
    await _trash(client, alice, new)
    assert sorted(_ids(await client.get(TRASH, headers=alice))) == sorted([old["id"], new["id"]])
    assert (await client.post(f"{URL}/{old['id']}/restore", headers=alice)).status_code == 200
    second = await client.post(f"{URL}/{new['id']}/restore", headers=alice)
    assert second.status_code == 409


async def test_a_permanent_delete_is_for_good_from_the_book_or_from_the_trash(
    harness: Harness, alice: dict[str, str]
) -> None:
    client = harness.client
    live = await create(client, alice, email="live@example.com")
    trashed = await create(client, alice, email="trashed@example.com")
    await _trash(client, alice, trashed)
    forever = {"permanent": "true"}
    for contact in (live, trashed):
        url = f"{URL}/{contact['id']}"
        assert (await client.delete(url, params=forever, headers=alice)).status_code == 204
        assert (await client.delete(url, params=forever, headers=alice)).status_code == 404
        assert (await client.post(f"{url}/restore", headers=alice)).status_code == 404
    assert _ids(await client.get(TRASH, headers=alice)) == []
    async with harness.kit.engine.connect() as connection:
        rows = await connection.scalar(select(func.count()).select_from(Contact))
    assert rows == 0
    bad = await client.delete(f"{URL}/1", params={"permanent": "maybe"}, headers=alice)
    assert bad.status_code == 422


async def test_if_match_guards_the_delete_the_restore_and_the_permanent_delete(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    contact = await create(client, alice)
    url = f"{URL}/{contact['id']}"
    tag = (await client.get(url, headers=alice)).headers["etag"]
    changed = await client.patch(url, json={"notes": "changed"}, headers=alice)
    stale = {"If-Match": tag}
    assert (await client.delete(url, headers=alice | stale)).status_code == 412
    current = {"If-Match": changed.headers["etag"]}
    assert (await client.delete(url, headers=alice | current)).status_code == 204
    # The move to the trash is a new version too.
    assert (await client.post(f"{url}/restore", headers=alice | current)).status_code == 412
    restored = await client.post(f"{url}/restore", headers=alice)
    assert restored.status_code == 200
    forever = {"permanent": "true"}
    refused = await client.delete(url, params=forever, headers=alice | current)
    assert refused.status_code == 412
    latest = {"If-Match": restored.headers["etag"]}
    assert (await client.delete(url, params=forever, headers=alice | latest)).status_code == 204


async def test_no_one_sees_restores_or_purges_another_users_trash(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    contact = await create(client, alice)
    await _trash(client, alice, contact)
    url = f"{URL}/{contact['id']}"
    assert _ids(await client.get(TRASH, headers=bob)) == []
    assert (await client.post(f"{url}/restore", headers=bob)).status_code == 404
    forever = {"permanent": "true"}
    assert (await client.delete(url, params=forever, headers=bob)).status_code == 404
    assert _ids(await client.get(TRASH, headers=alice)) == [contact["id"]]


async def test_the_trash_path_answers_only_get(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(method, TRASH, headers=alice)
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET"
    assert (await client.get(TRASH)).status_code == 401


async def test_purge_deletes_only_the_trash_older_than_the_retention(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client, kit = running.client, running.kit
        alice = await auth_headers(client, "purge-a@example.com")
        bob = await auth_headers(client, "purge-b@example.com")
        live = await create(client, alice, email="live@example.com")
        recent = await create(client, alice, email="recent@example.com")
        old_alice = await create(client, alice, email="old@example.com")
        old_bob = await create(client, bob, email="old@example.com")
        for headers, contact in ((alice, recent), (alice, old_alice), (bob, old_bob)):
            await _trash(client, headers, contact)
        long_ago = datetime.now(UTC) - timedelta(days=3)
        async with kit.engine.begin() as connection:
            await connection.execute(
                update(Contact)
                .where(Contact.id.in_([old_alice["id"], old_bob["id"]]))
                .values(deleted_at=long_ago)
            )

        env = clean_env(
            CONTACTS_KIT_DATABASE_URL=database_url,
            CONTACTS_KIT_TRASH_RETENTION="P2D",
            CONTACTS_KIT_LOAD_ENTRY_POINTS="false",
        )
        printed = await _purge(env, tmp_path)
        assert "purged 2 contact(s) from the trash, deleted more than 2 days ago" in printed

        assert _ids(await client.get(URL, headers=alice)) == [live["id"]]
        assert _ids(await client.get(TRASH, headers=alice)) == [recent["id"]]
        assert _ids(await client.get(TRASH, headers=bob)) == []
        assert "purged 0 contact(s)" in await _purge(env, tmp_path)


async def test_the_trash_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "trash@example.com") as (client, headers):
        created = await client.post(f"{API}/contacts", json=CONTACT, headers=headers)
        url = f"{API}/contacts/{created.json()['id']}"
        assert (await client.delete(url, headers=headers)).status_code == 204
        trash = await client.get(f"{API}/contacts/trash", headers=headers)
        assert [c["email"] for c in trash.json()] == [CONTACT["email"]]
        assert trash.headers["x-host-middleware"] == "yes"
        restored = await client.post(f"{url}/restore", headers=headers)
        assert restored.status_code == 200
        assert (await client.get(url, headers=headers)).status_code == 200
        wrong = await client.post(f"{API}/contacts/trash", headers=headers)
        assert wrong.status_code == 405


async def test_the_migration_keeps_every_contact_live_and_emails_unique(tmp_path: Path) -> None:
    url = normalize_database_url(f"sqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)
    try:
        await seed_at(engine, "0007_session_details")
        await upgrade_engine(engine, "head")
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text("SELECT email, deleted_at FROM contacts_kit_contacts")
                )
            ).all()
        duplicate_refused = False
        try:
            async with engine.begin() as connection:
                await connection.execute(INSERT_CONTACT)
        except IntegrityError:
            duplicate_refused = True
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [("row@example.com", None)]
    assert duplicate_refused


async def test_purge_goes_batch_by_batch_until_nothing_is_left(
    harness: Harness, alice: dict[str, str]
) -> None:
    client = harness.client
    made = [await create(client, alice, email=f"p{i}@example.com") for i in range(5)]
    for contact in made[:4]:
        await _trash(client, alice, contact)
    sessions = make_session_factory(transactional(harness.kit.engine))
    later = datetime.now(UTC) + timedelta(days=1)
    # Four trashed rows in batches of two: two full batches, then an empty one ends it.
    assert await purge(sessions, later, timedelta(0), batch=2) == 4
    assert await purge(sessions, later, timedelta(0), batch=2) == 0
    assert _ids(await client.get(URL, headers=alice)) == [made[4]["id"]]
    assert _ids(await client.get(TRASH, headers=alice)) == []
