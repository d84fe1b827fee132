"""Merging duplicates into one contact, and the undo: the field rules, the trash and the
changes feed, the undo clean and after a change (with and without force), photos, imports
with `on_conflict=merge`, batches, rate limits, bad requests; on both dialects and in a host
app with its own users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Harness, RunningApp, auth_headers, make_settings
from tests.test_host_users import Host
from tests.test_host_users import host as host  # the fixture
from tests.users.images import png_bytes

URL = "/api/contacts"


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    created = await client.post(URL, json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def _merge(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(f"{URL}/merge", json=body, headers=headers)


async def _undo(
    client: httpx.AsyncClient, headers: dict[str, str], merge_id: int, **params: Any
) -> httpx.Response:
    return await client.post(f"{URL}/merges/{merge_id}/undo", params=params, headers=headers)


def _card(contact: dict[str, Any]) -> dict[str, Any]:
    """What a merge and its undo change of a contact: all but the times."""
    return {k: v for k, v in contact.items() if k not in ("created_at", "updated_at")}


async def _two_of_one_person(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    jon = await _create(
        client,
        alice,
        first_name="Jon",
        last_name="Smith",
        emails=[{"value": "jon@work.example", "label": "work"}],
        phones=[{"value": "+12025550143", "label": "mobile"}],
        addresses=[{"street": "1 Main St", "locality": "Springfield", "label": "home"}],
        notes="Met at the conference.",
        tags=["Work"],
    )
    john = await _create(
        client,
        alice,
        first_name="John",
        last_name="Smith",
        emails=[{"value": "john@home.example", "label": "home"}],
        phones=[{"value": "(202) 555-0143", "label": "home"}, {"value": "+442079460958"}],
        addresses=[{"street": "1 MAIN ST", "locality": "springfield", "label": "work"}],
        urls=[{"value": "https://john.example", "label": "home"}],
        organization="Acme",
        birthday="1980-03-01",
        notes="Plays chess.",
        favorite=True,
        tags=["Family", "work"],
    )
    return jon, john


async def test_a_merge_keeps_the_primary_and_the_union_of_the_others(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    jon, john = await _two_of_one_person(client, alice)
    feed = (await client.get(f"{URL}/changes", headers=alice)).json()["next"]
    answer = await _merge(
        client, alice, ids=[jon["id"], john["id"]], fields={"first_name": john["id"]}
    )
    assert answer.status_code == 200, answer.text
    merged = answer.json()["contact"]
    assert answer.headers["etag"] == f'"{jon["id"]}-2"'
    assert merged["id"] == jon["id"]  # the primary: the first by default
    assert merged["first_name"] == "John"  # from `fields`
    assert merged["last_name"] == "Smith"
    assert merged["emails"] == [
        {"value": "jon@work.example", "label": "work"},
        {"value": "john@home.example", "label": "home"},
    ]
    assert merged["email"] == "jon@work.example"
    assert merged["phones"] == [
        {"value": "+12025550143", "label": "mobile"},
        {"value": "+442079460958", "label": None},
    ]
    assert len(merged["addresses"]) == 1  # one address, spelled in two letter cases
    assert merged["urls"] == [{"value": "https://john.example", "label": "home"}]
    # What the primary lacks comes from the first that has it.
    assert merged["organization"] == "Acme"
    assert merged["birthday"] == "1980-03-01"
    assert merged["notes"] == "Met at the conference.\n\nPlays chess."
    assert merged["favorite"] is True
    assert merged["tags"] == ["Family", "Work"]
    # The other waits in the trash, marked as merged into it.
    trash = (await client.get(f"{URL}/trash", headers=alice)).json()
    assert [(c["id"], c["merged_into"]) for c in trash] == [(john["id"], jon["id"])]
    assert (await client.get(f"{URL}/{john['id']}", headers=alice)).status_code == 404
    # Its emails are free, and searches find the merged contact by any of them.
    found = (await client.get(URL, params={"q": "john@home"}, headers=alice)).json()
    assert [c["id"] for c in found] == [jon["id"]]
    tagged = (await client.get(URL, params={"tag": "family"}, headers=alice)).json()
    assert [c["id"] for c in tagged] == [jon["id"]]
    # The changes feed: one update and the deletion.
    changes = (await client.get(f"{URL}/changes", params={"since": feed}, headers=alice)).json()
    assert [c["id"] for c in changes["changed"]] == [jon["id"]]
    assert changes["deleted"] == [john["id"]]
    # Listed among the merges, undoable.
    (listed,) = (await client.get(f"{URL}/merges", headers=alice)).json()["items"]
    assert listed["id"] == answer.json()["merge_id"]
    assert (listed["contact_id"], listed["merged_ids"]) == (jon["id"], [john["id"]])
    assert (listed["source"], listed["undoable"], listed["undone_at"]) == ("merge", True, None)
    # Bob sees nothing of it, and cannot undo it.
    assert (await client.get(f"{URL}/merges", headers=bob)).json()["items"] == []
    theirs = await _undo(client, bob, answer.json()["merge_id"])
    assert (theirs.status_code, theirs.json()["code"]) == (404, "MERGE_NOT_FOUND")


async def test_fields_choose_the_values_and_the_primary_entries(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    jon, john = await _two_of_one_person(client, alice)
    answer = await _merge(
        client,
        alice,
        ids=[jon["id"], john["id"]],
        primary=john["id"],
        fields={"email": jon["id"], "notes": jon["id"], "last_name": jon["id"]},
    )
    assert answer.status_code == 200, answer.text
    merged = answer.json()["contact"]
    assert merged["id"] == john["id"]
    assert merged["first_name"] == "John"
    assert merged["email"] == "jon@work.example"  # Jon's primary email leads the list
    assert [e["value"] for e in merged["emails"]] == ["jon@work.example", "john@home.example"]
    assert merged["emails"][0]["label"] == "work"
    assert merged["phone"] == "+12025550143"
    assert merged["notes"] == "Met at the conference."


async def test_an_undo_puts_everything_back(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    jon, john = await _two_of_one_person(client, alice)
    ada = await _create(client, alice, first_name="Ada", email="ada@example.com", tags=["Chess"])
    merge = (await _merge(client, alice, ids=[jon["id"], john["id"], ada["id"]])).json()
    feed = (await client.get(f"{URL}/changes", headers=alice)).json()["next"]
    undone = await _undo(client, alice, merge["merge_id"])
    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert _card(body["contact"]) == _card(jon)
    assert sorted(_card(c)["id"] for c in body["restored"]) == [john["id"], ada["id"]]
    for before in (jon, john, ada):
        now = (await client.get(f"{URL}/{before['id']}", headers=alice)).json()
        assert _card(now) == _card(before)
    assert (await client.get(f"{URL}/trash", headers=alice)).json() == []
    chess = (await client.get(URL, params={"tag": "chess"}, headers=alice)).json()
    assert [c["id"] for c in chess] == [ada["id"]]
    changes = (await client.get(f"{URL}/changes", params={"since": feed}, headers=alice)).json()
    assert sorted(c["id"] for c in changes["changed"]) == sorted([jon["id"], john["id"], ada["id"]])
    # Once only.
    again = await _undo(client, alice, merge["merge_id"])
    assert (again.status_code, again.json()["code"]) == (409, "MERGE_NOT_UNDOABLE")
    (listed,) = (await client.get(f"{URL}/merges", headers=alice)).json()["items"]
    assert listed["undone_at"] is not None
    assert listed["undoable"] is False


async def test_an_undo_after_a_change_says_what_changed_or_keeps_it_with_force(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    jon, john = await _two_of_one_person(client, alice)
    merge = (await _merge(client, alice, ids=[jon["id"], john["id"]])).json()
    merged = merge["contact"]
    # After the merge: a new email, one of John's removed, the nickname set.
    emails = [e for e in merged["emails"] if e["value"] != "john@home.example"]
    changed = await client.patch(
        f"{URL}/{jon['id']}",
        json={"nickname": "Johnny", "emails": [*emails, {"value": "new@example.com"}]},
        headers=alice,
    )
    assert changed.status_code == 200, changed.text
    refused = await _undo(client, alice, merge["merge_id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "MERGE_CHANGED")
    assert "emails, nickname" in refused.json()["detail"]
    # Nothing moved.
    assert (await client.get(f"{URL}/{john['id']}", headers=alice)).status_code == 404
    forced = await _undo(client, alice, merge["merge_id"], force="true")
    assert forced.status_code == 200, forced.text
    primary = forced.json()["contact"]
    assert primary["nickname"] == "Johnny"  # changed since: kept
    assert primary["first_name"] == "Jon"  # as before
    assert primary["notes"] == "Met at the conference."
    assert primary["favorite"] is False
    assert primary["tags"] == ["Work"]
    # Its own email, and the one added since; John's is John's again.
    assert [e["value"] for e in primary["emails"]] == ["jon@work.example", "new@example.com"]
    (restored,) = forced.json()["restored"]
    assert _card(restored) == _card(john)


async def test_an_undo_refuses_when_a_contact_left_the_trash(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    jon, john = await _two_of_one_person(client, alice)
    jonny = await _create(client, alice, first_name="Jonny", phone="+1 202 555 0199")
    merge = (await _merge(client, alice, ids=[jon["id"], john["id"], jonny["id"]])).json()
    # The merged contact in the trash: restore it first.
    assert (await client.delete(f"{URL}/{jon['id']}", headers=alice)).status_code == 204
    trashed = await _undo(client, alice, merge["merge_id"])
    assert (trashed.status_code, trashed.json()["code"]) == (409, "MERGE_NOT_UNDOABLE")
    assert "restore it" in trashed.json()["detail"]
    assert (await client.post(f"{URL}/{jon['id']}/restore", headers=alice)).status_code == 200
    # John's email is the merged contact's now: he cannot come back on his own.
    taken = await client.post(f"{URL}/{john['id']}/restore", headers=alice)
    assert (taken.status_code, taken.json()["code"]) == (409, "CONTACT_EMAIL_EXISTS")
    # Jonny can, and then the merge can no longer be undone, even once he is trashed again.
    back = await client.post(f"{URL}/{jonny['id']}/restore", headers=alice)
    assert back.status_code == 200, back.text
    assert (await client.delete(f"{URL}/{jonny['id']}", headers=alice)).status_code == 204
    trash = (await client.get(f"{URL}/trash", headers=alice)).json()
    assert {c["id"]: c["merged_into"] for c in trash} == {jonny["id"]: None, john["id"]: jon["id"]}
    refused = await _undo(client, alice, merge["merge_id"])
    assert (refused.status_code, refused.json()["code"]) == (409, "MERGE_NOT_UNDOABLE")
    assert f"Contact {jonny['id']}" in refused.json()["detail"]
    (listed,) = (await client.get(f"{URL}/merges", headers=alice)).json()["items"]
    assert listed["undoable"] is False
    missing = await _undo(client, alice, 10**12)
    assert missing.status_code == 404
    malformed = await client.post(f"{URL}/merges/x1/undo", headers=alice)
    assert malformed.status_code == 422


async def test_bad_merges_are_refused_with_what_is_wrong(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    jon, john = await _two_of_one_person(client, alice)
    theirs = await _create(client, bob, first_name="Bob", email="bob@example.com")
    ids = [jon["id"], john["id"]]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ids": [jon["id"]]}, "at least 2"),
        ({"ids": [jon["id"], jon["id"]]}, "each contact once"),
        ({"ids": ids, "primary": theirs["id"]}, "primary is one of ids"),
        ({"ids": ids, "fields": {"first_name": theirs["id"]}}, "first_name do not"),
        ({"ids": ids, "fields": {"version": jon["id"]}}, "Input should be"),
        ({"ids": ids, "color": "red"}, "Extra inputs"),
    ]
    for body, message in cases:
        refused = await _merge(client, alice, **body)
        assert refused.status_code == 422, body
        assert message in refused.text, refused.text
    stranger = await _merge(client, alice, ids=[jon["id"], theirs["id"]])
    assert stranger.status_code == 404
    assert f"id {theirs['id']}" in stranger.json()["detail"]
    # Past a list's limit: nothing merged.
    many = await _create(
        client,
        alice,
        first_name="Many",
        emails=[{"value": f"m{i}@example.com"} for i in range(20)],
    )
    over = await _merge(client, alice, ids=[jon["id"], many["id"]])
    assert over.status_code == 422
    assert "would have 21 emails, at most 20" in over.text
    assert len((await client.get(URL, headers=alice)).json()) == 3
    # A GET of the merge names the method it takes.
    wrong = await client.get(f"{URL}/merge", headers=alice)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "POST")
    wrong = await client.post(f"{URL}/merges", headers=alice)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")


async def test_the_merged_contact_takes_a_photo_and_the_undo_gives_it_back(
    client: httpx.AsyncClient, alice: dict[str, str], harness: Harness
) -> None:
    media: Path = harness.kit.settings.media_dir
    jon, john = await _two_of_one_person(client, alice)
    sent = await client.put(
        f"{URL}/{john['id']}/photo",
        files={"file": ("me.png", png_bytes(), "image/png")},
        headers=alice,
    )
    assert sent.status_code == 200, sent.text
    john = sent.json()
    merge = (await _merge(client, alice, ids=[jon["id"], john["id"]])).json()
    assert merge["contact"]["photo_url"] == john["photo_url"]  # the first that has one
    (trashed,) = (await client.get(f"{URL}/trash", headers=alice)).json()
    assert trashed["photo_url"] is None  # it swapped with the primary's (none)
    served = await client.get(john["photo_url"].removeprefix("http://testserver"))
    assert served.status_code == 200
    undone = await _undo(client, alice, merge["merge_id"])
    assert undone.json()["contact"]["photo_url"] is None
    assert undone.json()["restored"][0]["photo_url"] == john["photo_url"]
    assert len(list((media / "photos").iterdir())) == 1
    # Merged again and purged: the file goes with the contact that holds it.
    again = (await _merge(client, alice, ids=[john["id"], jon["id"]])).json()
    assert again["contact"]["photo_url"] == john["photo_url"]
    gone = await client.delete(f"{URL}/{jon['id']}", params={"permanent": "true"}, headers=alice)
    assert gone.status_code == 204
    assert len(list((media / "photos").iterdir())) == 1  # the primary's own, kept


async def test_an_import_merges_into_the_contact_it_duplicates(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ada = await _create(
        client, alice, first_name="Ada", last_name="Lovelace", email="ada@example.com"
    )
    tim = await _create(client, alice, first_name="Tim", phone="+1 202 555 0143")
    cards = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Augusta King\r\nN:King;Augusta;;;\r\n"
        "EMAIL:ada@example.com\r\nEMAIL:augusta@example.com\r\nORG:Analytical\r\n"
        "CATEGORIES:Maths\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Timothy\r\nN:;Timothy;;;\r\n"
        "TEL;TYPE=WORK:(202) 555-0143\r\nTEL:+44 20 7946 0958\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Grace\r\nN:;Grace;;;\r\n"
        "EMAIL:grace@example.com\r\nEND:VCARD\r\n"
    )
    dry = await client.post(
        f"{URL}/import",
        params={"on_conflict": "merge", "dry_run": "true"},
        content=cards,
        headers=alice | {"content-type": "text/vcard"},
    )
    assert (dry.json()["merged"], dry.json()["created"]) == (2, 1)
    assert (await client.get(f"{URL}/merges", headers=alice)).json()["items"] == []
    report = await client.post(
        f"{URL}/import",
        params={"on_conflict": "merge"},
        content=cards,
        headers=alice | {"content-type": "text/vcard"},
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["merged"], body["created"], body["skipped"]) == (2, 1, 0)
    outcomes = [(r["outcome"], r["id"]) for r in body["records"]]
    assert outcomes[:2] == [("merged", ada["id"]), ("merged", tim["id"])]
    merged_ada = (await client.get(f"{URL}/{ada['id']}", headers=alice)).json()
    assert merged_ada["first_name"] == "Ada"  # the book's contact is the primary
    assert [e["value"] for e in merged_ada["emails"]] == [
        "ada@example.com",
        "augusta@example.com",
    ]
    assert (merged_ada["organization"], merged_ada["tags"]) == ("Analytical", ["Maths"])
    merged_tim = (await client.get(f"{URL}/{tim['id']}", headers=alice)).json()
    assert [p["value"] for p in merged_tim["phones"]] == ["+12025550143", "+442079460958"]
    assert len((await client.get(URL, headers=alice)).json()) == 3
    # The undo puts the contact back as before the import; the card stays in the trash.
    merge_id = body["records"][0]["merge_id"]
    undone = await _undo(client, alice, merge_id)
    assert undone.status_code == 200, undone.text
    assert _card(undone.json()["contact"]) == _card(ada)
    assert undone.json()["restored"] == []
    trash = (await client.get(f"{URL}/trash", headers=alice)).json()
    card = next(c for c in trash if c["first_name"] == "Augusta")
    assert card["merged_into"] is None
    assert card["organization"] == "Analytical"
    listed = (await client.get(f"{URL}/merges", headers=alice)).json()["items"]
    assert [m["source"] for m in listed] == ["import", "import"]


async def test_a_batch_merges_and_counts_each_contact(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_contact_create="100/minute",
        rate_limit_contacts="5/minute",
        rate_limit_auth="100/minute",
    )
    async with RunningApp(settings) as running:
        client = running.client
        alice = await auth_headers(client, "alice@example.com")
        ids = [
            (await _create(client, alice, first_name=f"P{i}", email=f"p{i}@example.com"))["id"]
            for i in range(4)
        ]
        batch = await client.post(
            f"{URL}/batch",
            json={
                "operations": [
                    {"op": "merge", "data": {"ids": ids[:3], "fields": {"email": ids[2]}}},
                    {"op": "merge", "data": {"ids": [ids[3]]}},
                ]
            },
            headers=alice,
        )
        assert batch.status_code == 200, batch.text
        done, refused = batch.json()["results"]
        assert done["status"] == 200
        assert done["contact"]["email"] == "p2@example.com"
        assert done["merge_id"] is not None
        assert done["etag"] == f'"{ids[0]}-2"'
        assert refused["status"] == 422
        # Three merged and one refused: four of the five other requests spent.
        assert (await client.get(URL, headers=alice)).status_code == 200
        over = await _merge(client, alice, ids=[ids[0], ids[3]])
        assert over.status_code == 429
        assert len((await client.get(f"{URL}/trash", headers=alice)).json()) == 2


async def test_merges_work_for_host_users(host: Host) -> None:
    ada, grace = host.users
    url = "/api/contacts"
    one = (await ada.post(url, json={"first_name": "Kateryna", "email": "k@x.org"})).json()
    two = (
        await ada.post(url, json={"first_name": "Катерина", "email": "v@x.org", "notes": "n"})
    ).json()
    merged = await ada.post(f"{url}/merge", json={"ids": [one["id"], two["id"]]})
    assert merged.status_code == 200, merged.text
    assert [e["value"] for e in merged.json()["contact"]["emails"]] == ["k@x.org", "v@x.org"]
    assert (await grace.get(f"{url}/merges")).json()["items"] == []
    merge_id = merged.json()["merge_id"]
    assert (await grace.post(f"{url}/merges/{merge_id}/undo")).status_code == 404
    undone = await ada.post(f"{url}/merges/{merge_id}/undo")
    assert undone.status_code == 200, undone.text
    assert [c["id"] for c in undone.json()["restored"]] == [two["id"]]
    await ada.post(f"{url}/merge", json={"ids": [one["id"], two["id"]]})
    erased = await host.kit.erase_owner(host.ids[0])
    assert erased.rows["contacts_kit_merges"] == 2
