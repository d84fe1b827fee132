"""Address book routes over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from contacts_kit.contact.models import Contact
from contacts_kit.db.engine import make_session_factory
from tests.conftest import Harness

URL = "/api/contacts"


def contact_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0958",
        "birthday": "1815-12-10",
        "notes": "Analytical Engine",
    }
    body.update(overrides)
    return body


async def create(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> Any:
    response = await client.post(URL, json=contact_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def count_contacts(harness: Harness) -> int:
    async with make_session_factory(harness.kit.engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(Contact)) or 0)


async def test_create_returns_201_location_and_etag(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    response = await client.post(
        URL,
        json=contact_body(first_name="  Ada ", email="Ada@Example.com", phone="020 7946 0958"),
        headers=alice,
    )
    # A national number without +44 is read in the default region (US): invalid there.
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "phone"]

    response = await client.post(
        URL, json=contact_body(first_name="  Ada ", email="Ada@Example.com"), headers=alice
    )
    assert response.status_code == 201
    body = response.json()
    assert body["first_name"] == "Ada"
    assert body["email"] == "ada@example.com"
    assert body["phone"] == "+442079460958"
    assert response.headers["location"] == f"http://testserver{URL}/{body['id']}"
    assert response.headers["etag"] == f'"{body["id"]}-1"'
    fetched = await client.get(response.headers["location"], headers=alice)
    assert fetched.json() == body


async def test_phone_in_the_default_region_is_normalized(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    body = await create(client, alice, phone="(202) 555-0143")
    assert body["phone"] == "+12025550143"


async def test_duplicate_email_in_one_book_is_409_but_fine_across_books(
    harness: Harness, alice: dict[str, str], bob: dict[str, str]
) -> None:
    client = harness.client
    await create(client, alice)
    again = await client.post(URL, json=contact_body(email="ADA@example.com"), headers=alice)
    assert again.status_code == 409
    assert again.json()["code"] == "CONTACT_EMAIL_EXISTS"
    await create(client, bob)
    assert await count_contacts(harness) == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"first_name": ""},
        {"first_name": "   "},
        {"last_name": "x" * 101},
        {"email": "not-an-email"},
        {"phone": "12"},
        {"phone": "not a phone"},
        {"birthday": (date.today() + timedelta(days=2)).isoformat()},
        {"birthday": "2023-02-29"},
        {"birthday": "yesterday"},
        {"notes": "n" * 2001},
        {"first_name": "Ada\x00"},
        {"notes": "bad \ud800 surrogate"},
        {"first_name": None},
    ],
)
async def test_invalid_contacts_are_422_and_nothing_is_written(
    harness: Harness, alice: dict[str, str], overrides: dict[str, Any]
) -> None:
    # json.dumps escapes a lone surrogate as \\ud800, as a client in another language would.
    response = await harness.client.post(
        URL,
        content=json.dumps(contact_body(**overrides)),
        headers={**alice, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert await count_contacts(harness) == 0


async def test_limits_of_lengths_are_inclusive(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    body = await create(client, alice, first_name="f" * 100, notes="n" * 2000)
    assert len(body["first_name"]) == 100


async def test_list_is_ordered_and_paginated(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    people = [("Carl", "Zeta"), ("Anna", "Beta"), ("Bert", "Beta"), ("Dora", "Alpha")]
    for index, (first, last) in enumerate(people):
        await create(client, alice, first_name=first, last_name=last, email=f"p{index}@x.org")
    names = [
        (c["first_name"], c["last_name"]) for c in (await client.get(URL, headers=alice)).json()
    ]
    assert names == [("Dora", "Alpha"), ("Anna", "Beta"), ("Bert", "Beta"), ("Carl", "Zeta")]
    page = (await client.get(URL, params={"limit": 2, "offset": 1}, headers=alice)).json()
    assert [c["first_name"] for c in page] == ["Anna", "Bert"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"offset": -1},
        {"offset": 10**12},
        {"limit": "many"},
        {"q": "x" * 321},
        {"q": "nul\x00"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, alice: dict[str, str], params: dict[str, Any]
) -> None:
    response = await client.get(URL, params=params, headers=alice)
    assert response.status_code == 422


async def test_search_matches_substrings_case_insensitively(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await create(client, alice, first_name="Grace", last_name="Hopper", email="grace@navy.mil")
    await create(client, alice, first_name="Alan", last_name="Turing", email="alan@bletchley.uk")
    await create(client, alice, first_name="Hopkins", last_name="Smith", email="h@x.org")

    async def found(**params: str) -> list[str]:
        response = await client.get(URL, params=params, headers=alice)
        assert response.status_code == 200
        return sorted(c["last_name"] for c in response.json())

    assert await found(q="HOP") == ["Hopper", "Smith"]
    assert await found(q="bletchley") == ["Turing"]
    assert await found(last_name="hop") == ["Hopper"]
    assert await found(first_name="hop") == ["Smith"]
    assert await found(email="navy") == ["Hopper"]
    assert await found(q="hop", email="navy") == ["Hopper"]
    assert await found(q="hop", first_name="alan") == []


async def test_wildcards_in_a_query_are_literal(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await create(client, alice, first_name="100%", last_name="Sure", email="pct@x.org")
    await create(client, alice, first_name="Snake_case", last_name="Py", email="snake@x.org")
    await create(client, alice, first_name="Plain", last_name="Name", email="plain@x.org")
    await create(client, alice, first_name="Back\\slash", last_name="Esc", email="bs@x.org")

    async def found(q: str) -> list[str]:
        response = await client.get(URL, params={"q": q}, headers=alice)
        return sorted(c["last_name"] for c in response.json())

    assert await found("%") == ["Sure"]
    assert await found("_") == ["Py"]
    assert await found("e_c") == ["Py"]
    assert await found("0%") == ["Sure"]
    assert await found("\\") == ["Esc"]
    assert await found("a%e") == []


async def test_get_missing_malformed_and_out_of_range_ids(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    assert (await client.get(f"{URL}/999999", headers=alice)).status_code == 404
    assert (await client.get(f"{URL}/999999", headers=alice)).json()["code"] == "CONTACT_NOT_FOUND"
    for bad in ("abc", "0", "-1", "1.5", str(2**63)):
        assert (await client.get(f"{URL}/{bad}", headers=alice)).status_code == 422, bad


async def test_put_replaces_and_patch_changes_only_what_is_sent(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    created = await create(client, alice)
    url = f"{URL}/{created['id']}"
    replaced = await client.put(
        url,
        json=contact_body(first_name="Augusta", email="augusta@example.com", notes=None),
        headers=alice,
    )
    assert replaced.status_code == 200
    assert replaced.json()["first_name"] == "Augusta"
    assert replaced.json()["notes"] is None
    assert replaced.headers["etag"] == f'"{created["id"]}-2"'

    patched = await client.patch(url, json={"phone": "+1 (202) 555-0143"}, headers=alice)
    assert patched.status_code == 200
    body = patched.json()
    assert body["phone"] == "+12025550143"
    assert body["first_name"] == "Augusta"
    assert body["email"] == "augusta@example.com"
    assert body["updated_at"] >= replaced.json()["updated_at"]
    assert patched.headers["etag"] == f'"{created["id"]}-3"'

    # The same values again, or nothing at all: no new version, every tag still holds.
    for unchanged in ({}, {"phone": "+12025550143"}, {"first_name": " Augusta "}):
        same = await client.patch(url, json=unchanged, headers=alice)
        assert same.status_code == 200
        assert same.headers["etag"] == patched.headers["etag"]
        assert same.json()["updated_at"] == body["updated_at"]

    cleared = await client.patch(url, json={"notes": "later"}, headers=alice)
    assert cleared.json()["notes"] == "later"
    assert (await client.patch(url, json={"first_name": None}, headers=alice)).status_code == 422
    incomplete = await client.put(url, json={"first_name": "Only"}, headers=alice)
    assert incomplete.status_code == 422
    assert (await client.get(url, headers=alice)).json()["first_name"] == "Augusta"


async def test_update_to_an_email_already_in_the_book_is_409(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await create(client, alice, email="one@example.com")
    second = await create(client, alice, email="two@example.com")
    response = await client.patch(
        f"{URL}/{second['id']}", json={"email": "ONE@example.com"}, headers=alice
    )
    assert response.status_code == 409
    fetched = await client.get(f"{URL}/{second['id']}", headers=alice)
    assert fetched.json()["email"] == "two@example.com"


async def test_stale_if_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    created = await create(client, alice)
    url = f"{URL}/{created['id']}"
    first_read = await client.get(url, headers=alice)
    tag = first_read.headers["etag"]

    # Client one writes with the tag it read: accepted, the tag moves on.
    ok = await client.patch(url, json={"notes": "one"}, headers={**alice, "If-Match": tag})
    assert ok.status_code == 200
    assert ok.headers["etag"] != tag
    # Client two still holds the old tag: refused, and its change is not applied.
    stale = await client.patch(url, json={"notes": "two"}, headers={**alice, "If-Match": tag})
    assert stale.status_code == 412
    assert stale.json()["code"] == "PRECONDITION_FAILED"
    put = await client.put(url, json=contact_body(notes="two"), headers={**alice, "If-Match": tag})
    assert put.status_code == 412
    weak = await client.patch(
        url, json={"notes": "two"}, headers={**alice, "If-Match": f"W/{ok.headers['etag']}"}
    )
    assert weak.status_code == 412
    assert (await client.get(url, headers=alice)).json()["notes"] == "one"
    # Without If-Match the write goes through; with `*` too.
    assert (await client.patch(url, json={"notes": "three"}, headers=alice)).status_code == 200
    star = await client.patch(url, json={"notes": "four"}, headers={**alice, "If-Match": "*"})
    assert star.status_code == 200
    stale_delete = await client.delete(url, headers={**alice, "If-Match": tag})
    assert stale_delete.status_code == 412
    assert (await client.get(url, headers=alice)).status_code == 200


async def test_if_match_on_a_missing_contact_is_404(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    response = await client.patch(
        f"{URL}/123456", json={"notes": "x"}, headers={**alice, "If-Match": '"1"'}
    )
    assert response.status_code == 404


async def test_delete_is_204_then_404(harness: Harness, alice: dict[str, str]) -> None:
    client = harness.client
    created = await create(client, alice)
    url = f"{URL}/{created['id']}"
    assert (await client.delete(url, headers=alice)).status_code == 204
    assert (await client.get(url, headers=alice)).status_code == 404
    assert (await client.delete(url, headers=alice)).status_code == 404
    # In the trash, not gone: a permanent delete removes the row.
    assert await count_contacts(harness) == 1
    forever = await client.delete(url, params={"permanent": "true"}, headers=alice)
    assert forever.status_code == 204
    assert await count_contacts(harness) == 0


async def test_another_users_contact_is_404_on_every_route(
    harness: Harness, alice: dict[str, str], bob: dict[str, str]
) -> None:
    client = harness.client
    created = await create(client, alice, first_name="Secret", birthday=days_ahead_birthday(0))
    url = f"{URL}/{created['id']}"
    missing = f"{URL}/987654321"
    for method, kwargs in (
        ("GET", {}),
        ("PUT", {"json": contact_body(first_name="Stolen")}),
        ("PATCH", {"json": {"first_name": "Stolen"}}),
        ("DELETE", {}),
    ):
        theirs = await client.request(method, url, headers=bob, **kwargs)
        nobodys = await client.request(method, missing, headers=bob, **kwargs)
        assert theirs.status_code == nobodys.status_code == 404, method
        assert theirs.json() == nobodys.json()
    for params in ({}, {"q": "secret"}, {"first_name": "sec"}, {"email": "ada"}):
        assert (await client.get(URL, params=params, headers=bob)).json() == []
    assert (await client.get(f"{URL}/birthdays", headers=bob)).json() == []
    assert (await client.get(f"{URL}/birthdays", headers=alice)).json() != []
    # Bob may use the same email in his own book.
    await create(client, bob)
    still = await client.get(url, headers=alice)
    assert still.json()["first_name"] == "Secret"
    assert await count_contacts(harness) == 2


def days_ahead_birthday(days_ahead: int, years_ago: int = 30) -> str:
    """A birthday whose next celebration is `days_ahead` days from today (UTC)."""
    target = datetime.now(UTC).date() + timedelta(days=days_ahead)
    return target.replace(year=target.year - years_ago).isoformat()


async def test_every_route_needs_a_token(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", URL),
        ("POST", URL),
        ("GET", f"{URL}/birthdays"),
        ("GET", f"{URL}/1"),
        ("PUT", f"{URL}/1"),
        ("PATCH", f"{URL}/1"),
        ("DELETE", f"{URL}/1"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_openapi_documents_models_examples_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    expected = {
        (URL, "post"): {"201", "401", "409", "422"},
        (URL, "get"): {"200", "401", "422"},
        (f"{URL}/birthdays", "get"): {"200", "401", "422"},
        (f"{URL}/{{contact_id}}", "get"): {"200", "401", "404", "422"},
        (f"{URL}/{{contact_id}}", "put"): {"200", "401", "404", "409", "412", "422"},
        (f"{URL}/{{contact_id}}", "patch"): {"200", "401", "404", "409", "412", "422"},
        (f"{URL}/{{contact_id}}", "delete"): {"204", "401", "404", "412", "422"},
    }
    for (path, method), codes in expected.items():
        operation = paths[path][method]
        assert codes <= set(operation["responses"]), (path, method)
        assert operation["summary"]
        assert operation["description"]
    schemas = spec["components"]["schemas"]
    assert schemas["ContactsKitContactCreate"]["examples"]
    assert schemas["ContactsKitContactRead"]["examples"]
    assert "next_birthday" in schemas["ContactsKitContactBirthday"]["properties"]
    assert paths[URL]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ContactsKitContactCreate"
    }
