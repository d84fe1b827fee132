"""The changes feed: `GET /contacts/changes?since=TOKEN`, in write order, deletions included,
tokens bound to their owner and expiring with the tombstones; on both dialects, embedded, and
under concurrent writers."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from contacts_kit.contact.service import prune
from contacts_kit.db.engine import make_session_factory, transactional
from tests.conftest import Harness
from tests.contact.sync import Replica, server_book
from tests.contact.test_router import URL, create
from tests.test_embedding import API, CONTACT, embedded_user

CHANGES = f"{URL}/changes"


async def test_a_first_sync_pages_through_the_live_book(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    made = [await create(client, alice, email=f"c{i}@example.com") for i in range(5)]
    assert (await client.delete(f"{URL}/{made[1]['id']}", headers=alice)).status_code == 204
    replica = Replica(client, alice)
    pages = await replica.sync(limit=2)
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert pages[0]["deleted"] == []  # the trash is not sent at first
    assert replica.contacts == await server_book(client, alice)
    assert sorted(replica.contacts) == sorted(c["id"] for c in made if c is not made[1])
    # Nothing since: an empty page, and the same position.
    again = await replica.sync()
    assert again == [{"changed": [], "deleted": [], "next": pages[-1]["next"], "has_more": False}]
    assert replica.contacts == await server_book(client, alice)


async def test_every_write_shows_up_in_write_order(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ada = await create(client, alice, email="ada@example.com", tags=["Math"])
    bob = await create(client, alice, first_name="Bob", email="bob@example.com")
    gone = await create(client, alice, first_name="Gone", email="gone@example.com")
    replica = Replica(client, alice)
    await replica.sync()

    assert (await client.delete(f"{URL}/{bob['id']}", headers=alice)).status_code == 204
    patched = await client.patch(f"{URL}/{ada['id']}", json={"notes": "n"}, headers=alice)
    assert patched.status_code == 200
    forever = await client.delete(
        f"{URL}/{gone['id']}", params={"permanent": "true"}, headers=alice
    )
    assert forever.status_code == 204
    cid = await create(client, alice, first_name="Cid", email="cid@example.com")
    [page] = await replica.sync()
    assert [c["id"] for c in page["changed"]] == [ada["id"], cid["id"]]
    assert page["changed"][0]["notes"] == "n"
    assert page["deleted"] == [bob["id"], gone["id"]]
    assert replica.contacts == await server_book(client, alice)

    # A restore brings a contact back; a tag renamed changes its contacts.
    assert (await client.post(f"{URL}/{bob['id']}/restore", headers=alice)).status_code == 200
    tags = (await client.get("/api/tags", headers=alice)).json()
    renamed = await client.patch(
        f"/api/tags/{tags[0]['id']}", json={"name": "Maths"}, headers=alice
    )
    assert renamed.status_code == 200
    [page] = await replica.sync()
    assert [c["id"] for c in page["changed"]] == [bob["id"], ada["id"]]
    assert replica.contacts[ada["id"]]["tags"] == ["Maths"]
    assert replica.contacts == await server_book(client, alice)
    # A tag deleted leaves its contacts: they change too.
    assert (await client.delete(f"/api/tags/{tags[0]['id']}", headers=alice)).status_code == 204
    [page] = await replica.sync()
    assert [c["id"] for c in page["changed"]] == [ada["id"]]
    assert replica.contacts[ada["id"]]["tags"] == []


async def test_a_token_is_its_owners_and_must_be_one(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    await create(client, alice)
    token = (await client.get(CHANGES, headers=alice)).json()["next"]
    theirs = await client.get(CHANGES, params={"since": token}, headers=bob)
    assert theirs.status_code == 400
    assert theirs.json()["code"] == "INVALID_SYNC_TOKEN"
    forged = base64.urlsafe_b64encode(b"v1.nothex.1.1").decode()
    for bad in ("garbage", "%%%", forged, base64.urlsafe_b64encode(b"\xff\xfe").decode()):
        response = await client.get(CHANGES, params={"since": bad}, headers=alice)
        assert response.status_code == 400, bad
    assert (await client.get(CHANGES, params={"limit": 0}, headers=alice)).status_code == 422
    assert (await client.get(CHANGES, params={"since": ""}, headers=alice)).status_code == 422
    assert (await client.post(CHANGES, headers=alice)).status_code == 405
    assert (await client.get(CHANGES)).status_code == 401
    # Alice's own key with a number past what the columns hold: a 400, not the driver's 500.
    text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    prefix, owner, _, _ = text.split(".")
    for seq, contact_id in ((2**64, 1), (1, 2**63)):
        huge = base64.urlsafe_b64encode(f"{prefix}.{owner}.{seq}.{contact_id}".encode()).decode()
        response = await client.get(CHANGES, params={"since": huge.rstrip("=")}, headers=alice)
        assert response.status_code == 400, (seq, contact_id)


async def test_a_token_older_than_the_kept_deletions_is_gone(
    harness: Harness, alice: dict[str, str]
) -> None:
    client = harness.client
    doomed = await create(client, alice)
    replica = Replica(client, alice)
    await replica.sync()
    old_token = replica.token
    url = f"{URL}/{doomed['id']}"
    assert (
        await client.delete(url, params={"permanent": "true"}, headers=alice)
    ).status_code == 204
    sessions = make_session_factory(transactional(harness.kit.engine))
    later = datetime.now(UTC) + timedelta(days=1)
    assert await prune(sessions, later, timedelta(0)) == 1
    gone = await client.get(CHANGES, params={"since": old_token}, headers=alice)
    assert gone.status_code == 410
    assert gone.json()["code"] == "SYNC_TOKEN_EXPIRED"
    fresh = Replica(client, alice)
    await fresh.sync()
    assert fresh.contacts == {}
    # A token from after the horizon is answered.
    await create(client, alice, email="new@example.com")
    await fresh.sync()
    assert fresh.contacts == await server_book(client, alice)


async def test_concurrent_writers_never_make_a_syncing_client_skip_a_change(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    replica = Replica(client, alice)
    await replica.sync()
    stop = asyncio.Event()

    async def writer(number: int) -> None:
        for step in range(12):
            made = await create(client, alice, email=f"w{number}-{step}@example.com")
            if step % 3 == 0:
                await client.patch(f"{URL}/{made['id']}", json={"notes": "x"}, headers=alice)
            if step % 4 == 0:
                await client.delete(f"{URL}/{made['id']}", headers=alice)

    async def syncer() -> None:
        while not stop.is_set():
            await replica.sync(limit=5)
            await asyncio.sleep(0)

    syncing = asyncio.create_task(syncer())
    await asyncio.gather(*(writer(n) for n in range(4)))
    stop.set()
    await syncing
    await replica.sync()
    assert replica.contacts == await server_book(client, alice)
    assert len(replica.contacts) == 4 * 9


async def test_the_feed_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "feed@example.com") as (client, headers):
        created = await client.post(f"{API}/contacts", json=CONTACT, headers=headers)
        replica = Replica(client, headers, prefix=API)
        await replica.sync()
        assert list(replica.contacts) == [created.json()["id"]]
        assert (
            await client.delete(f"{API}/contacts/{created.json()['id']}", headers=headers)
        ).status_code == 204
        await replica.sync()
        assert replica.contacts == {}
        listed = await client.get(f"{API}/contacts/changes", headers=headers)
        assert listed.headers["x-host-middleware"] == "yes"
