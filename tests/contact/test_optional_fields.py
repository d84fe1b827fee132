"""Optional fields: a contact is a first name and an email or a phone; the last name, the
birthday and the notes may be missing, and PATCH may clear them. On both dialects and embedded
in a host app under its own prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.migrate import upgrade_engine
from contacts_kit.settings import normalize_database_url
from tests.contact.legacy import seed_at
from tests.contact.test_router import URL, days_ahead_birthday
from tests.test_embedding import API, embedded_user

REACH = "a contact needs an email or a phone number (or both)"


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    response = await client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [contact["first_name"] for contact in response.json()]


def _messages(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["msg"] for error in response.json()["detail"]]


async def test_a_first_name_and_an_email_or_a_phone_make_a_contact(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    by_mail = await _create(client, alice, first_name="Mail", email="Mail@Example.com")
    assert {k: by_mail[k] for k in ("last_name", "email", "phone", "birthday", "notes")} == {
        "last_name": None,
        "email": "mail@example.com",
        "phone": None,
        "birthday": None,
        "notes": None,
    }
    by_phone = await _create(client, alice, first_name="Phone", phone="+1 202 555 0143")
    assert (by_phone["email"], by_phone["phone"]) == (None, "+12025550143")
    read = await client.get(f"{URL}/{by_phone['id']}", headers=alice)
    assert read.json() == by_phone
    # Any number of contacts without an email; an email still appears once.
    await _create(client, alice, first_name="Phone2", phone="+1 202 555 0144")
    twice = await client.post(
        URL, json={"first_name": "Twice", "email": "MAIL@example.com"}, headers=alice
    )
    assert twice.status_code == 409


async def test_a_contact_without_email_and_phone_is_refused(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for body in (
        {"first_name": "Nobody"},
        {"first_name": "Nobody", "email": None, "phone": None, "last_name": "Known"},
    ):
        refused = await client.post(URL, json=body, headers=alice)
        assert any(REACH in message for message in _messages(refused))
    assert (
        await client.post(URL, json={"email": "x@example.com"}, headers=alice)
    ).status_code == 422
    contact = await _create(client, alice, first_name="Some", email="some@example.com")
    replaced = await client.put(
        f"{URL}/{contact['id']}", json={"first_name": "Some"}, headers=alice
    )
    assert any(REACH in message for message in _messages(replaced))
    assert _names(await client.get(URL, headers=alice)) == ["Some"]


async def test_patch_clears_optional_fields_but_keeps_a_way_to_reach(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    full = await _create(
        client,
        alice,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        phone="+44 20 7946 0958",
        birthday=days_ahead_birthday(0),
        notes="engine",
    )
    url = f"{URL}/{full['id']}"
    cleared = await client.patch(
        url,
        json={"last_name": None, "phone": None, "birthday": None, "notes": None},
        headers=alice,
    )
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert [body[k] for k in ("last_name", "phone", "birthday", "notes")] == [None] * 4
    assert body["email"] == "ada@example.com"
    assert (await client.get(f"{URL}/birthdays", headers=alice)).json() == []
    found = await client.get(URL, params={"last_name": "lovelace"}, headers=alice)
    assert found.json() == []

    tag = cleared.headers["etag"]
    refused = await client.patch(url, json={"email": None}, headers=alice)
    assert _messages(refused) == [REACH]
    after = await client.get(url, headers=alice)
    assert after.json()["email"] == "ada@example.com"  # nothing written
    assert after.headers["etag"] == tag
    # Swapping the way to reach in one PATCH is fine.
    swapped = await client.patch(
        url, json={"email": None, "phone": "+1 202 555 0143"}, headers=alice
    )
    assert (swapped.json()["email"], swapped.json()["phone"]) == (None, "+12025550143")
    # Clearing what is already missing changes nothing: the same version.
    same = await client.patch(url, json={"last_name": None, "email": None}, headers=alice)
    assert same.headers["etag"] == swapped.headers["etag"]
    for required in ({"first_name": None}, {"favorite": None}):
        assert (await client.patch(url, json=required, headers=alice)).status_code == 422


async def test_contacts_without_a_last_name_sort_first_on_every_database(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await _create(client, alice, first_name="Zed", phone="+1 202 555 0101")
    await _create(client, alice, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    await _create(client, alice, first_name="Bob", email="bob@example.com")
    await _create(client, alice, first_name="Cy", last_name="Adams", phone="+1 202 555 0102")
    assert _names(await client.get(URL, headers=alice)) == ["Bob", "Zed", "Cy", "Ada"]
    # A search sorts the same way; the email filter finds no phone-only contact.
    assert _names(await client.get(URL, params={"q": "ad"}, headers=alice)) == ["Cy", "Ada"]
    by_email = await client.get(URL, params={"email": "example"}, headers=alice)
    assert _names(by_email) == ["Bob", "Ada"]


async def test_only_contacts_with_a_birthday_have_one_coming(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await _create(
        client, alice, first_name="Soon", email="soon@example.com", birthday=days_ahead_birthday(2)
    )
    await _create(client, alice, first_name="Never", email="never@example.com")
    for days in (7, 366):
        upcoming = await client.get(f"{URL}/birthdays", params={"days": days}, headers=alice)
        assert _names(upcoming) == ["Soon"], days


async def test_optional_fields_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "optional@example.com") as (
        client,
        headers,
    ):
        created = await client.post(
            f"{API}/contacts", json={"first_name": "Solo", "phone": "+12025550143"}, headers=headers
        )
        assert created.status_code == 201, created.text
        assert created.json()["email"] is None
        refused = await client.post(f"{API}/contacts", json={"first_name": "No"}, headers=headers)
        assert refused.status_code == 422
        assert refused.headers["x-host-middleware"] == "yes"


async def test_the_migration_keeps_every_field_of_every_contact(tmp_path: Path) -> None:
    url = normalize_database_url(f"sqlite:///{tmp_path / 'old.db'}")
    engine = create_async_engine(url)
    columns = "first_name, last_name, email, phone, birthday, birthday_key"
    try:
        await seed_at(engine, "0008_trash")
        async with engine.connect() as connection:
            before = (
                await connection.execute(text(f"SELECT {columns} FROM contacts_kit_contacts"))
            ).all()
        await upgrade_engine(engine, "head")
        async with engine.connect() as connection:
            after = (
                await connection.execute(text(f"SELECT {columns} FROM contacts_kit_contacts"))
            ).all()
    finally:
        await engine.dispose()
    assert after == before
    assert [tuple(row) for row in after] == [
        ("Old", "Row", "row@example.com", "+12025550143", "1990-01-01", 101)
    ]
