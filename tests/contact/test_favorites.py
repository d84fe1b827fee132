"""Favourites: a flag on a contact, a filter of the list; on both dialects and embedded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.migrate import upgrade_engine
from contacts_kit.settings import normalize_database_url
from tests.contact.legacy import seed_at
from tests.contact.test_router import URL, contact_body, create
from tests.test_embedding import API, CONTACT, embedded_user


def _emails(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [contact["email"] for contact in response.json()]


async def test_a_contact_is_a_favourite_only_when_marked(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    plain = await create(client, alice)
    assert plain["favorite"] is False
    starred = await create(client, alice, email="grace@example.com", favorite=True)
    assert starred["favorite"] is True
    read = await client.get(f"{URL}/{starred['id']}", headers=alice)
    assert read.json()["favorite"] is True

    unstarred = await client.patch(
        f"{URL}/{starred['id']}", json={"favorite": False}, headers=alice
    )
    assert unstarred.json()["favorite"] is False
    assert unstarred.headers["etag"] != read.headers["etag"]  # a change like any other
    again = await client.patch(f"{URL}/{plain['id']}", json={"favorite": True}, headers=alice)
    assert again.json()["favorite"] is True
    # PUT replaces every field: a body without `favorite` is not a favourite.
    replaced = await client.put(f"{URL}/{plain['id']}", json=contact_body(), headers=alice)
    assert replaced.json()["favorite"] is False


async def test_the_list_filters_favourites_and_combines_with_search(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await create(client, alice, first_name="Ada", email="ada@example.com", favorite=True)
    await create(client, alice, first_name="Adele", email="adele@example.com")
    await create(client, alice, first_name="Grace", email="grace@example.com", favorite=True)
    assert _emails(await client.get(f"{URL}?favorite=true", headers=alice)) == [
        "ada@example.com",
        "grace@example.com",
    ]
    assert _emails(await client.get(f"{URL}?favorite=false", headers=alice)) == [
        "adele@example.com"
    ]
    both = await client.get(f"{URL}?favorite=true&q=ad", headers=alice)
    assert _emails(both) == ["ada@example.com"]
    paged = await client.get(f"{URL}?favorite=true&limit=1&offset=1", headers=alice)
    assert _emails(paged) == ["grace@example.com"]
    assert len((await client.get(URL, headers=alice)).json()) == 3


async def test_another_users_favourites_are_not_listed(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    await create(client, alice, favorite=True)
    assert _emails(await client.get(f"{URL}?favorite=true", headers=bob)) == []


@pytest.mark.parametrize(
    "body",
    [{"favorite": "yes"}, {"favorite": 1}, {"favorite": None}],
    ids=["string", "number", "null"],
)
async def test_a_favourite_is_true_or_false_nothing_else(
    client: httpx.AsyncClient, alice: dict[str, str], body: dict[str, object]
) -> None:
    contact = await create(client, alice)
    refused = await client.patch(f"{URL}/{contact['id']}", json=body, headers=alice)
    assert refused.status_code == 422
    assert "favorite" in refused.text
    created = await client.post(URL, json=contact_body(email="x@example.com") | body, headers=alice)
    assert created.status_code == 422
    assert [error["loc"][-1] for error in created.json()["detail"]] == ["favorite"]
    bad_filter = await client.get(f"{URL}?favorite=maybe", headers=alice)
    assert bad_filter.status_code == 422


async def test_the_migration_keeps_every_contact_as_no_favourite(tmp_path: Path) -> None:
    url = normalize_database_url(f"sqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)
    try:
        await seed_at(engine, "0005_ids_and_folded_search")
        await upgrade_engine(engine, "head")
        async with engine.connect() as connection:
            rows = (
                await connection.execute(text("SELECT email, favorite FROM contacts_kit_contacts"))
            ).all()
    finally:
        await engine.dispose()
    assert [(email, bool(favorite)) for email, favorite in rows] == [("row@example.com", False)]


async def test_favourites_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "favourites@example.com") as (
        client,
        headers,
    ):
        created = await client.post(
            f"{API}/contacts", json=CONTACT | {"favorite": True}, headers=headers
        )
        assert created.status_code == 201, created.text
        listed = await client.get(f"{API}/contacts?favorite=true", headers=headers)
        assert [c["email"] for c in listed.json()] == [CONTACT["email"]]
        assert listed.headers["x-host-middleware"] == "yes"
