"""Tags: on contacts (`tags: [name...]`, unknown names created), `GET /contacts?tag=` (all
of them, any letter case), and `/tags` to list with counts, create, rename and delete; on both
dialects and embedded in a host app under its own prefix."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.contact.test_router import URL, create
from tests.test_embedding import API, CONTACT, embedded_user

TAGS = "/api/tags"


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [contact["first_name"] for contact in response.json()]


async def _tags(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    response = await client.get(TAGS, headers=headers)
    assert response.status_code == 200, response.text
    return {tag["name"]: tag["contacts"] for tag in response.json()}


async def _tag_id(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> int:
    response = await client.get(TAGS, headers=headers)
    [found] = [tag["id"] for tag in response.json() if tag["name"] == name]
    return int(found)


async def test_a_contact_carries_its_tags_and_unknown_names_make_new_tags(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ada = await create(client, alice, tags=["work", "Family", "FAMILY", " family "])
    assert ada["tags"] == ["Family", "work"]  # one tag per name in any case, sorted
    grace = await create(client, alice, first_name="Grace", email="g@example.com", tags=["WORK"])
    assert grace["tags"] == ["work"]  # the tag's own spelling
    assert await _tags(client, alice) == {"Family": 1, "work": 2}
    untagged = await create(client, alice, first_name="Plain", email="p@example.com")
    assert untagged["tags"] == []
    for contact in (ada, grace):
        read = await client.get(f"{URL}/{contact['id']}", headers=alice)
        assert read.json()["tags"] == contact["tags"]
    listed = await client.get(URL, headers=alice)
    assert [c["tags"] for c in listed.json()] == [["Family", "work"], ["work"], []]


async def test_the_list_filters_by_every_tag_given_with_the_other_filters(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await create(client, alice, first_name="Ada", email="a@example.com", tags=["Family", "Work"])
    await create(client, alice, first_name="Bea", email="b@example.com", tags=["family"])
    await create(
        client, alice, first_name="Cid", email="c@example.com", tags=["work"], favorite=True
    )
    assert _names(await client.get(URL, params={"tag": "FAMILY"}, headers=alice)) == ["Ada", "Bea"]
    both = await client.get(URL, params=[("tag", "family"), ("tag", "work")], headers=alice)
    assert _names(both) == ["Ada"]
    with_search = await client.get(URL, params={"tag": "family", "q": "be"}, headers=alice)
    assert _names(with_search) == ["Bea"]
    starred = await client.get(URL, params={"tag": "work", "favorite": "true"}, headers=alice)
    assert _names(starred) == ["Cid"]
    assert _names(await client.get(URL, params={"tag": "nobody"}, headers=alice)) == []
    paged = await client.get(URL, params={"tag": "work", "limit": 1, "offset": 1}, headers=alice)
    assert _names(paged) == ["Cid"]
    too_many = [("tag", f"t{i}") for i in range(11)]
    assert (await client.get(URL, params=too_many, headers=alice)).status_code == 422


async def test_patch_and_put_set_the_tags_and_a_new_version_only_when_they_change(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    contact = await create(client, alice, tags=["Family"])
    url = f"{URL}/{contact['id']}"
    first = await client.get(url, headers=alice)
    same = await client.patch(url, json={"tags": ["FAMILY"]}, headers=alice)
    assert same.headers["etag"] == first.headers["etag"]
    assert same.json()["tags"] == ["Family"]
    changed = await client.patch(url, json={"tags": ["Friends", "Family"]}, headers=alice)
    assert changed.json()["tags"] == ["Family", "Friends"]
    assert changed.headers["etag"] != first.headers["etag"]
    assert await _tags(client, alice) == {"Family": 1, "Friends": 1}
    body = {k: v for k, v in contact.items() if k in ("first_name", "email")}
    replaced = await client.put(url, json=body, headers=alice)  # PUT without tags: none
    assert replaced.json()["tags"] == []
    assert await _tags(client, alice) == {"Family": 0, "Friends": 0}
    assert (await client.patch(url, json={"tags": None}, headers=alice)).status_code == 422


async def test_renaming_a_tag_renames_it_on_every_contact(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ada = await create(client, alice, tags=["famly", "Zoo"])
    tag_before = (await client.get(f"{URL}/{ada['id']}", headers=alice)).headers["etag"]
    tag_id = await _tag_id(client, alice, "famly")
    renamed = await client.patch(f"{TAGS}/{tag_id}", json={"name": "Family"}, headers=alice)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() | {"created_at": None} == {
        "id": tag_id,
        "name": "Family",
        "contacts": 1,
        "created_at": None,
    }
    read = await client.get(f"{URL}/{ada['id']}", headers=alice)
    assert read.json()["tags"] == ["Family", "Zoo"]
    assert read.headers["etag"] != tag_before  # the contact's representation changed
    assert _names(await client.get(URL, params={"tag": "family"}, headers=alice)) == ["Ada"]
    assert _names(await client.get(URL, params={"tag": "famly"}, headers=alice)) == []
    # Another tag's name, in any case, is taken; a tag's own name in another case is not.
    taken = await client.patch(f"{TAGS}/{tag_id}", json={"name": "ZOO"}, headers=alice)
    assert taken.status_code == 409
    assert taken.json()["code"] == "TAG_EXISTS"
    recased = await client.patch(f"{TAGS}/{tag_id}", json={"name": "FAMILY"}, headers=alice)
    assert recased.json()["name"] == "FAMILY"
    assert (await client.get(f"{URL}/{ada['id']}", headers=alice)).json()["tags"] == [
        "FAMILY",
        "Zoo",
    ]


async def test_deleting_a_tag_takes_it_off_every_contact_the_trash_included(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    live = await create(client, alice, tags=["Old", "Keep"])
    trashed = await create(client, alice, first_name="T", email="t@example.com", tags=["old"])
    assert (await client.delete(f"{URL}/{trashed['id']}", headers=alice)).status_code == 204
    assert await _tags(client, alice) == {"Keep": 1, "Old": 1}  # the trash does not count
    tag_id = await _tag_id(client, alice, "Old")
    assert (await client.delete(f"{TAGS}/{tag_id}", headers=alice)).status_code == 204
    assert (await client.delete(f"{TAGS}/{tag_id}", headers=alice)).status_code == 404
    assert (await client.get(f"{URL}/{live['id']}", headers=alice)).json()["tags"] == ["Keep"]
    restored = await client.post(f"{URL}/{trashed['id']}/restore", headers=alice)
    assert restored.json()["tags"] == []
    assert await _tags(client, alice) == {"Keep": 1}


async def test_tags_are_created_listed_with_an_etag_and_kept_to_their_owner(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    created = await client.post(TAGS, json={"name": "  Clients "}, headers=alice)
    assert created.status_code == 201, created.text
    assert (created.json()["name"], created.json()["contacts"]) == ("Clients", 0)
    again = await client.post(TAGS, json={"name": "CLIENTS"}, headers=alice)
    assert again.status_code == 409
    assert again.json()["code"] == "TAG_EXISTS"
    listed = await client.get(TAGS, headers=alice)
    unchanged = await client.get(TAGS, headers=alice | {"If-None-Match": listed.headers["etag"]})
    assert unchanged.status_code == 304
    await create(client, alice, tags=["clients"])
    counted = await client.get(TAGS, headers=alice | {"If-None-Match": listed.headers["etag"]})
    assert counted.status_code == 200  # the count changed, so did the tag

    tag_id = created.json()["id"]
    assert await _tags(client, bob) == {}
    assert (
        await client.patch(f"{TAGS}/{tag_id}", json={"name": "x"}, headers=bob)
    ).status_code == 404
    assert (await client.delete(f"{TAGS}/{tag_id}", headers=bob)).status_code == 404
    # Bob's tag of the same name is his own.
    assert (await client.post(TAGS, json={"name": "Clients"}, headers=bob)).status_code == 201
    assert _names(await client.get(URL, params={"tag": "clients"}, headers=bob)) == []


async def test_bad_tags_are_refused_with_a_422(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for name in ("", "   ", "x" * 51, "bad\x00name", 7):
        response = await client.post(TAGS, json={"name": name}, headers=alice)
        assert response.status_code == 422, name
        refused = await client.post(
            URL, json={"first_name": "A", "email": "a@example.com", "tags": [name]}, headers=alice
        )
        assert refused.status_code == 422, name
    fifty_one = [f"t{i}" for i in range(51)]
    refused = await client.post(
        URL, json={"first_name": "A", "email": "a@example.com", "tags": fifty_one}, headers=alice
    )
    assert refused.status_code == 422
    assert (await client.patch(f"{TAGS}/abc", json={"name": "x"}, headers=alice)).status_code == 422
    assert await _tags(client, alice) == {}


async def test_an_address_book_holds_at_most_200_tags(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for batch in range(4):
        names = [f"tag-{batch}-{i}" for i in range(50)]
        await create(client, alice, email=f"c{batch}@example.com", tags=names)
    assert len(await _tags(client, alice)) == 200
    full = await client.post(TAGS, json={"name": "one more"}, headers=alice)
    assert full.status_code == 409
    assert full.json()["code"] == "TAG_LIMIT_REACHED"
    refused = await client.post(
        URL,
        json={"first_name": "New", "email": "new@example.com", "tags": ["tag-0-0", "fresh"]},
        headers=alice,
    )
    assert refused.status_code == 409
    assert _names(await client.get(URL, params={"q": "new@"}, headers=alice)) == []  # nothing
    kept = await create(client, alice, first_name="Old", email="old@example.com", tags=["TAG-0-0"])
    assert kept["tags"] == ["tag-0-0"]


async def test_concurrent_new_tags_never_pass_the_limit(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for batch in range(4):
        names = [f"tag-{batch}-{i}" for i in range(50 if batch < 3 else 48)]
        await create(client, alice, email=f"c{batch}@example.com", tags=names)

    # Room for two more tags; six requests each make one, at once.
    async def new_tag(number: int) -> httpx.Response:
        if number % 2:
            return await client.post(TAGS, json={"name": f"new-{number}"}, headers=alice)
        body = {"first_name": "N", "email": f"n{number}@example.com", "tags": [f"new-{number}"]}
        return await client.post(URL, json=body, headers=alice)

    answers = await asyncio.gather(*(new_tag(n) for n in range(6)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 201, 409, 409, 409, 409], [a.text for a in answers]
    assert len(await _tags(client, alice)) == 200


async def test_concurrent_writes_naming_one_new_tag_share_it(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    async def tagged(number: int) -> Any:
        body = {"first_name": f"C{number}", "email": f"c{number}@example.com", "tags": ["Shared"]}
        return await client.post(URL, json=body, headers=alice)

    answers = await asyncio.gather(*(tagged(n) for n in range(6)))
    assert [answer.status_code for answer in answers] == [201] * 6
    assert await _tags(client, alice) == {"Shared": 6}


async def test_tags_in_a_host_app_under_its_own_prefix(database_url: str, tmp_path: Path) -> None:
    async with embedded_user(database_url, tmp_path, "tags@example.com") as (client, headers):
        created = await client.post(
            f"{API}/contacts", json=CONTACT | {"tags": ["Host"]}, headers=headers
        )
        assert created.json()["tags"] == ["Host"]
        listed = await client.get(f"{API}/tags", headers=headers)
        assert [(t["name"], t["contacts"]) for t in listed.json()] == [("Host", 1)]
        assert listed.headers["x-host-middleware"] == "yes"
        found = await client.get(f"{API}/contacts", params={"tag": "host"}, headers=headers)
        assert [c["email"] for c in found.json()] == [CONTACT["email"]]
        tag_id = listed.json()[0]["id"]
        assert (await client.delete(f"{API}/tags/{tag_id}", headers=headers)).status_code == 204
