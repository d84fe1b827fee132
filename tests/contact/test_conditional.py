"""Conditional reads: every read sends an `ETag`, and `If-None-Match` with a current one is a 304
without a body; on both dialects, and in a host app under a prefix of its own."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.contact.test_router import URL, create
from tests.test_embedding import API, CONTACT, embedded_user

READS = [URL, f"{URL}?q=ada", f"{URL}/birthdays?days=366", "{contact}"]


def _url(read: str, contact: dict[str, object]) -> str:
    return read.format(contact=f"{URL}/{contact['id']}")


@pytest.mark.parametrize("read", READS, ids=["list", "search", "birthdays", "by-id"])
async def test_a_current_copy_is_a_304_without_a_body(
    client: httpx.AsyncClient, alice: dict[str, str], read: str
) -> None:
    contact = await create(client, alice, birthday="1990-01-01")
    url = _url(read, contact)
    first = await client.get(url, headers=alice)
    assert first.status_code == 200
    tag = first.headers["etag"]
    assert tag.startswith('"')
    assert tag.endswith('"')

    again = await client.get(url, headers={**alice, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    # A list of tags, a weak form of the tag, and `*` match too (RFC 9110, 13.1.2).
    for header in (f'"other", {tag}', f"W/{tag}", "*"):
        matched = await client.get(url, headers={**alice, "If-None-Match": header})
        assert matched.status_code == 304, header

    # After a change, the old tag gets the new representation and a new tag.
    changed = await client.patch(
        f"{URL}/{contact['id']}", json={"first_name": "Augusta"}, headers=alice
    )
    assert changed.status_code == 200
    fresh = await client.get(url, headers={**alice, "If-None-Match": tag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != tag
    assert "Augusta" in fresh.text


async def test_the_tag_of_a_list_follows_its_content_not_the_request(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await create(client, alice)
    page = await client.get(URL, headers=alice)
    same = await client.get(f"{URL}?limit=20&offset=0", headers=alice)
    assert same.headers["etag"] == page.headers["etag"]
    await create(client, alice, email="second@example.com", first_name="Bea")
    grown = await client.get(URL, headers={**alice, "If-None-Match": page.headers["etag"]})
    assert grown.status_code == 200
    assert len(grown.json()) == 2
    # Deleting the second contact brings the first page's content, and so its tag, back.
    second = next(c for c in grown.json() if c["email"] == "second@example.com")
    await client.delete(f"{URL}/{second['id']}", headers=alice)
    back = await client.get(URL, headers={**alice, "If-None-Match": page.headers["etag"]})
    assert back.status_code == 304


async def test_another_users_tag_never_reveals_a_contact(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    contact = await create(client, alice)
    tag = (await client.get(f"{URL}/{contact['id']}", headers=alice)).headers["etag"]
    for header in (tag, "*"):
        seen = await client.get(f"{URL}/{contact['id']}", headers={**bob, "If-None-Match": header})
        assert seen.status_code == 404
        assert seen.json()["code"] == "CONTACT_NOT_FOUND"


@pytest.mark.parametrize("header", ["42-1", '"unterminated', 'W/"a", nonsense'])
async def test_a_malformed_if_none_match_is_a_400_that_says_why(
    client: httpx.AsyncClient, alice: dict[str, str], header: str
) -> None:
    contact = await create(client, alice)
    for url in (URL, f"{URL}/{contact['id']}"):
        answer = await client.get(url, headers={**alice, "If-None-Match": header})
        assert answer.status_code == 400
        assert answer.json()["code"] == "MALFORMED_REQUEST"
        assert "If-None-Match" in answer.json()["detail"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_a_malformed_if_match_is_a_400_before_the_contact_is_looked_up(
    client: httpx.AsyncClient, alice: dict[str, str], method: str
) -> None:
    contact = await create(client, alice)
    body = {"first_name": "Ada", "email": "ada@example.com"} if method != "DELETE" else None
    for contact_id in (contact["id"], 10**12):  # an existing contact, and none at all
        answer = await client.request(
            method,
            f"{URL}/{contact_id}",
            json=body,
            headers={**alice, "If-Match": "42-1"},
        )
        assert answer.status_code == 400, answer.text
        assert "If-Match" in answer.json()["detail"]
    # Nothing changed: the contact reads as it was created.
    assert (await client.get(f"{URL}/{contact['id']}", headers=alice)).json() == contact


async def test_conditional_reads_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "conditional@example.com") as (
        client,
        headers,
    ):
        created = await client.post(f"{API}/contacts", json=CONTACT, headers=headers)
        for url in (f"{API}/contacts", created.headers["location"]):
            first = await client.get(url, headers=headers)
            again = await client.get(
                url, headers={**headers, "If-None-Match": first.headers["etag"]}
            )
            assert again.status_code == 304
            assert again.content == b""
            # The host's middleware still runs around the kit's 304.
            assert again.headers["x-host-middleware"] == "yes"
