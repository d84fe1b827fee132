"""Correct results on both databases: ids never reused, tags that name one representation,
Unicode-correct search and storage, extensions kept, no-op writes that change nothing, and
input refused with the right status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import auth_headers, login, signup

URL = "/api/contacts"


def _body(**overrides: Any) -> dict[str, Any]:
    return {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@example.com",
        "phone": "+12025550143",
        "birthday": "1906-12-09",
    } | overrides


@pytest.fixture
async def headers(client: httpx.AsyncClient) -> dict[str, str]:
    return await auth_headers(client, "unicode@example.com")


async def test_ids_are_never_reused_and_a_stale_tag_names_nothing_else(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    first = await client.post(URL, json=_body(), headers=headers)
    old_id, old_tag, old_location = (
        first.json()["id"],
        first.headers["etag"],
        first.headers["location"],
    )
    assert (await client.delete(f"{URL}/{old_id}", headers=headers)).status_code == 204
    second = await client.post(URL, json=_body(email="other@example.com"), headers=headers)
    new_id = second.json()["id"]
    assert new_id != old_id
    assert second.headers["etag"] != old_tag  # both are at version 1, yet tagged apart
    # The deleted contact's location and tag reach nothing.
    assert (await client.get(old_location, headers=headers)).status_code == 404
    stale = await client.patch(
        f"{URL}/{new_id}", json={"notes": "x"}, headers=headers | {"If-Match": old_tag}
    )
    assert stale.status_code == 412
    assert (await client.get(f"{URL}/{new_id}", headers=headers)).json()["notes"] is None


@pytest.mark.parametrize("header", ["4", "null", '"1', "W/4", '"a" "b"'])
async def test_a_malformed_if_match_is_a_400_that_says_so(
    client: httpx.AsyncClient, headers: dict[str, str], header: str
) -> None:
    created = (await client.post(URL, json=_body(), headers=headers)).json()
    response = await client.patch(
        f"{URL}/{created['id']}", json={"notes": "x"}, headers=headers | {"If-Match": header}
    )
    assert response.status_code == 400
    assert "If-Match" in response.json()["detail"]
    assert (await client.get(f"{URL}/{created['id']}", headers=headers)).json()["notes"] is None


async def test_search_folds_case_and_accents_on_both_databases(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    zoe = _body(first_name="Zoë", last_name="Ångström", email="zoe@example.com")
    ivan = _body(first_name="Ivan", last_name="Петров", email="ivan@example.com")
    for body in (zoe, ivan):
        assert (await client.post(URL, json=body, headers=headers)).status_code == 201

    async def found(**params: str) -> list[str]:
        listed = await client.get(URL, params=params, headers=headers)
        assert listed.status_code == 200, listed.text
        return [contact["first_name"] for contact in listed.json()]

    assert await found(q="ZOË") == ["Zoë"]
    assert await found(q="zoe") == ["Zoë"]  # accent-insensitive too
    assert await found(q="ångström") == ["Zoë"]
    assert await found(q="ANGSTROM") == ["Zoë"]
    assert await found(q="петров") == ["Ivan"]
    assert await found(last_name="ПЕТРОВ") == ["Ivan"]
    assert await found(first_name="петров") == []  # a field filter looks in its field only
    assert await found(email="петров") == []


async def test_decomposed_and_composed_text_are_the_same_name(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    decomposed = "Jose\u0301"
    created = await client.post(
        URL, json=_body(first_name=decomposed, email="jose@example.com"), headers=headers
    )
    assert created.json()["first_name"] == "José"  # stored in NFC
    listed = await client.get(URL, params={"q": "José"}, headers=headers)
    assert [c["first_name"] for c in listed.json()] == ["José"]
    listed = await client.get(URL, params={"q": decomposed}, headers=headers)
    assert [c["first_name"] for c in listed.json()] == ["José"]


async def test_a_fullwidth_email_is_the_same_account(client: httpx.AsyncClient) -> None:
    fullwidth = "\uff41\uff4c\uff49\uff43\uff45@example.com"
    body = await signup(client, fullwidth)
    assert body["email"] == "alice@example.com"
    assert (
        await client.post(
            "/api/auth/signup", json={"email": "alice@example.com", "password": "another one!"}
        )
    ).status_code == 409
    assert (await login(client, "alice@example.com"))["access_token"]


async def test_a_phone_extension_is_kept(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    created = await client.post(URL, json=_body(phone="+1-202-555-0143 ext. 12"), headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["phone"] == "+12025550143;ext=12"
    international = await client.post(
        URL, json=_body(email="x@example.com", phone="+1 555"), headers=headers
    )
    assert international.status_code == 422
    message = international.json()["detail"][0]["msg"]
    assert "read as US numbers" not in message  # it has a country code: none was assumed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "\u200b"),
        ("first_name", "\u200b \u200d\ufeff"),
        ("last_name", " \u2060 "),
        ("birthday", "1990-01-01T00:00:00"),
        ("birthday", "1990-01-01T00:00:00Z"),
    ],
)
async def test_invisible_names_and_datetime_birthdays_are_422(
    client: httpx.AsyncClient, headers: dict[str, str], field: str, value: str
) -> None:
    response = await client.post(URL, json=_body(**{field: value}), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][-1] == field
    assert (await client.get(URL, headers=headers)).json() == []
