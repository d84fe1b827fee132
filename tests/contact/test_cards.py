"""Full cards through the API, on both databases: every field, the seed's `email`/`phone`
as the primaries, limits, search over every email, phone digits, organisation and
nickname, one live contact per email across all of them, anniversaries, photos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Harness
from tests.users.images import metadata_of, photo_with_metadata, png_bytes

ADA: dict[str, Any] = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "emails": [
        {"value": "Ada@Example.com", "label": "home"},
        {"value": "ada@engines.example", "label": "work"},
    ],
    "phones": [
        {"value": "+380 50 123 45 67", "label": "mobile"},
        {"value": "+44 20 7946 0958", "label": "London office"},
    ],
    "addresses": [
        {
            "street": "12 St James's Square",
            "locality": "London",
            "postal_code": "SW1Y 4JH",
            "country": "United Kingdom",
            "label": "home",
        }
    ],
    "urls": [{"value": "https://example.com/ada", "label": "blog"}],
    "nickname": "Zoë",
    "organization": "Analytical Engines Ltd",
    "job_title": "Mathematician",
    "anniversary": "--07-08",
}


async def _create(client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    created = await client.post("/api/contacts", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def test_a_full_card_keeps_every_field(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ada = await _create(client, alice, ADA)
    assert ada["email"] == "ada@example.com"  # the primary, lower-cased
    assert ada["phone"] == "+380501234567"  # the primary, in E.164
    assert ada["emails"] == [
        {"value": "ada@example.com", "label": "home"},
        {"value": "ada@engines.example", "label": "work"},
    ]
    assert ada["phones"] == [
        {"value": "+380501234567", "label": "mobile"},
        {"value": "+442079460958", "label": "London office"},
    ]
    assert ada["addresses"] == [
        {
            "street": "12 St James's Square",
            "locality": "London",
            "region": None,
            "postal_code": "SW1Y 4JH",
            "country": "United Kingdom",
            "label": "home",
        }
    ]
    assert ada["urls"] == [{"value": "https://example.com/ada", "label": "blog"}]
    assert (ada["nickname"], ada["organization"], ada["job_title"]) == (
        "Zoë",
        "Analytical Engines Ltd",
        "Mathematician",
    )
    assert ada["anniversary"] == "--07-08"
    assert ada["photo_url"] is None
    read = await client.get(f"/api/contacts/{ada['id']}", headers=alice)
    assert read.json() == ada
    listed = (await client.get("/api/contacts", headers=alice)).json()
    assert listed == [ada]


async def test_the_seed_fields_are_the_primaries(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    old = await _create(
        client, alice, {"first_name": "Old", "email": "old@example.com", "phone": "+12025550143"}
    )
    assert old["emails"] == [{"value": "old@example.com", "label": None}]
    assert old["phones"] == [{"value": "+12025550143", "label": None}]
    url = f"/api/contacts/{old['id']}"
    lists = {
        "emails": [{"value": "old@example.com", "label": "work"}, {"value": "two@example.com"}]
    }
    assert (await client.patch(url, json=lists, headers=alice)).status_code == 200
    # A client that knows `email` only changes the primary; the others and its label stay.
    changed = (await client.patch(url, json={"email": "new@example.com"}, headers=alice)).json()
    assert changed["email"] == "new@example.com"
    assert changed["emails"] == [
        {"value": "new@example.com", "label": "work"},
        {"value": "two@example.com", "label": None},
    ]
    # null removes the primary: the next one takes its place.
    changed = (await client.patch(url, json={"email": None}, headers=alice)).json()
    assert (changed["email"], changed["emails"]) == (
        "two@example.com",
        [{"value": "two@example.com", "label": None}],
    )
    changed = (await client.patch(url, json={"phone": "+1 202 555 0199"}, headers=alice)).json()
    assert changed["phones"] == [{"value": "+12025550199", "label": None}]
    # Both at once: a 422 that says which to use.
    both = await client.patch(url, json={"email": "a@example.com", "emails": []}, headers=alice)
    assert both.status_code == 422
    assert "send `emails`" in both.text
    assert "or `email`" in both.text
    created = await client.post(
        "/api/contacts",
        json={"first_name": "X", "phone": "+12025550143", "phones": []},
        headers=alice,
    )
    assert created.status_code == 422
    assert "`phones`" in created.text
    # Lists emptied with no other way to reach: refused, as for the seed's fields.
    empty = await client.patch(url, json={"emails": [], "phones": []}, headers=alice)
    assert empty.status_code == 422


async def test_limits_and_bad_entries_are_clear_422s(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    many = [{"value": f"p{n}@example.com"} for n in range(21)]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"first_name": "A", "emails": many}, "at most 20"),
        ({"first_name": "A", "emails": [{"value": "x@example.com"}] * 2}, "in emails twice"),
        ({"first_name": "A", "phones": [{"value": "12"}]}, "phones"),
        ({"first_name": "A", "phones": [{"value": "+1 000"}]}, "phones.0.value"),
        (
            {"first_name": "A", "email": "a@example.com", "addresses": [{"label": "home"}]},
            "an address needs",
        ),
        ({"first_name": "A", "email": "a@example.com", "urls": [{"value": "not a url"}]}, "URL"),
        ({"first_name": "A", "email": "a@example.com", "anniversary": "2020-13-01"}, "anniversary"),
        (
            {
                "first_name": "A",
                "email": "a@example.com",
                "emails": [{"value": "b@example.com", "extra": 1}],
            },
            "extra_forbidden",
        ),
        (
            {"first_name": "A", "email": "a@example.com", "emails": [{"value": "b@example.com"}]},
            "not both",
        ),
    ]
    for body, says in cases:
        answer = await client.post("/api/contacts", json=body, headers=alice)
        assert answer.status_code == 422, (body, answer.text)
        assert says in answer.text, (says, answer.text)
    assert (await client.get("/api/contacts", headers=alice)).json() == []


async def test_search_finds_any_email_phone_digits_organisation_and_nickname(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ada = await _create(client, alice, ADA)
    await _create(client, alice, {"first_name": "Other", "email": "other@example.com"})
    for query in (
        "engines.example",  # the second email
        "0501234567",  # national digits
        "+38 050 123 45 67",  # international, spaced
        "050-123-4567",
        "020 7946 0958",  # the second phone, as the British write it
        "analytical",  # the organisation
        "ZOE",  # the nickname, folded
    ):
        found = await client.get("/api/contacts", params={"q": query}, headers=alice)
        assert [c["id"] for c in found.json()] == [ada["id"]], query
    by_email = await client.get("/api/contacts", params={"email": "engines"}, headers=alice)
    assert [c["id"] for c in by_email.json()] == [ada["id"]]
    # A change of the lists changes what search finds.
    await client.patch(
        f"/api/contacts/{ada['id']}", json={"phones": [], "organization": None}, headers=alice
    )
    for query in ("0501234567", "analytical"):
        found = await client.get("/api/contacts", params={"q": query}, headers=alice)
        assert found.json() == [], query


async def test_an_email_belongs_to_one_live_contact_whichever_entry(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    ada = await _create(client, alice, ADA)
    for body in (
        {"first_name": "B", "email": "ada@engines.example"},
        {"first_name": "B", "emails": [{"value": "b@example.com"}, {"value": "ADA@example.com"}]},
    ):
        answer = await client.post("/api/contacts", json=body, headers=alice)
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "CONTACT_EMAIL_EXISTS"
    other = await _create(client, alice, {"first_name": "B", "email": "b@example.com"})
    taken = await client.patch(
        f"/api/contacts/{other['id']}",
        json={"emails": [{"value": "b@example.com"}, {"value": "ada@engines.example"}]},
        headers=alice,
    )
    assert taken.status_code == 409
    # Another owner's book is its own.
    await _create(client, bob, {"first_name": "B", "email": "ada@engines.example"})
    # The trash frees every email of a contact; restoring it while one is taken is a 409.
    await client.delete(f"/api/contacts/{ada['id']}", headers=alice)
    await _create(client, alice, {"first_name": "C", "email": "ada@engines.example"})
    restored = await client.post(f"/api/contacts/{ada['id']}/restore", headers=alice)
    assert restored.status_code == 409
    # An email dropped from a contact is free at once.
    await client.patch(
        f"/api/contacts/{other['id']}", json={"email": "b2@example.com"}, headers=alice
    )
    await _create(client, alice, {"first_name": "D", "email": "b@example.com"})


async def test_anniversaries_are_offered_beside_birthdays(
    client: httpx.AsyncClient, alice: dict[str, str], harness: Harness
) -> None:
    today = datetime.now(UTC).date()

    def soon(days: int, year: int) -> str:
        day = today + timedelta(days=days)
        if (day.month, day.day) == (2, 29):
            day += timedelta(days=1)
        return day.replace(year=year).isoformat()

    both = await _create(
        client,
        alice,
        {
            "first_name": "Both",
            "email": "b@example.com",
            "birthday": soon(3, 1980),
            "anniversary": soon(1, 2010),
        },
    )
    wed = await _create(
        client, alice, {"first_name": "Wed", "email": "w@example.com", "anniversary": soon(2, 2015)}
    )

    async def upcoming(**params: str) -> list[tuple[str, str, str | None]]:
        found = await client.get("/api/contacts/birthdays", params=params, headers=alice)
        assert found.status_code == 200, found.text
        return [(c["first_name"], c["occasion"], c["next_birthday"]) for c in found.json()]

    assert await upcoming() == [
        (
            "Both",
            "birthday",
            soon(
                3, today.year if (today + timedelta(days=3)).year == today.year else today.year + 1
            ),
        )
    ]
    assert await upcoming(kind="anniversary") == [
        ("Both", "anniversary", None),
        ("Wed", "anniversary", None),
    ]
    everything = await client.get("/api/contacts/birthdays", params={"kind": "all"}, headers=alice)
    assert [(c["id"], c["occasion"]) for c in everything.json()] == [
        (both["id"], "anniversary"),
        (wed["id"], "anniversary"),
        (both["id"], "birthday"),
    ]
    paged = await client.get(
        "/api/contacts/birthdays", params={"kind": "all", "limit": 1, "offset": 1}, headers=alice
    )
    assert [(c["id"], c["occasion"]) for c in paged.json()] == [(wed["id"], "anniversary")]
    bad = await client.get("/api/contacts/birthdays", params={"kind": "wedding"}, headers=alice)
    assert bad.status_code == 422
    # The calendar feed has a yearly event for each.
    url = (await client.post("/api/users/me/calendar-token", headers=alice)).json()["url"]
    feed = (await client.get(url.removeprefix("http://testserver"))).text
    assert feed.count("BEGIN:VEVENT") == 3
    assert f"anniversary-{wed['id']}@contacts-kit" in feed


async def test_a_photo_is_stored_clean_and_follows_its_contact(
    client: httpx.AsyncClient, alice: dict[str, str], harness: Harness
) -> None:
    media: Path = harness.kit.settings.media_dir
    ada = await _create(client, alice, ADA)
    url = f"/api/contacts/{ada['id']}/photo"
    sent = await client.put(
        url, files={"file": ("me.jpg", photo_with_metadata(), "image/jpeg")}, headers=alice
    )
    assert sent.status_code == 200, sent.text
    photo_url = sent.json()["photo_url"]
    assert photo_url.startswith("http://testserver/api/contacts/photos/")
    served = await client.get(photo_url.removeprefix("http://testserver"))
    assert served.status_code == 200
    found = metadata_of(served.content)
    assert (found["exif"], found["gps"], found["icc"], found["xmp"]) == ({}, {}, None, None)
    assert (await client.get(f"/api/contacts/{ada['id']}", headers=alice)).json()[
        "photo_url"
    ] == photo_url
    # A new photo replaces the old file.
    again = await client.put(
        url, files={"file": ("2.png", png_bytes(), "image/png")}, headers=alice
    )
    assert again.status_code == 200
    assert len(list((media / "photos").iterdir())) == 1
    # The trash keeps it, a restore brings it back, a purge removes the file.
    await client.delete(f"/api/contacts/{ada['id']}", headers=alice)
    trashed = (await client.get("/api/contacts/trash", headers=alice)).json()
    assert trashed[0]["photo_url"] == again.json()["photo_url"]
    restored = await client.post(f"/api/contacts/{ada['id']}/restore", headers=alice)
    assert restored.json()["photo_url"] == again.json()["photo_url"]
    await client.delete(f"/api/contacts/{ada['id']}", headers=alice)
    purged, _ = await harness.kit.purge(datetime.now(UTC) + timedelta(days=365))
    assert purged == 1
    assert list((media / "photos").iterdir()) == []


async def test_photo_errors_and_removal(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], harness: Harness
) -> None:
    media: Path = harness.kit.settings.media_dir
    ada = await _create(client, alice, ADA)
    url = f"/api/contacts/{ada['id']}/photo"
    text = await client.put(
        url, files={"file": ("a.jpg", b"not an image", "image/jpeg")}, headers=alice
    )
    assert (text.status_code, text.json()["code"]) == (415, "UNSUPPORTED_IMAGE")
    limit = harness.kit.settings.avatar_max_bytes
    big = await client.put(
        url, files={"file": ("a.png", b"\x89PNG" + b"0" * limit, "image/png")}, headers=alice
    )
    assert big.status_code == 413
    others = await client.put(url, files={"file": ("a.png", png_bytes(), "image/png")}, headers=bob)
    assert others.status_code == 404
    assert list((media / "photos").iterdir()) == []  # nothing left of the refused uploads
    stale = await client.put(
        url,
        files={"file": ("a.png", png_bytes(), "image/png")},
        headers=alice | {"If-Match": '"1-99"'},
    )
    assert stale.status_code == 412
    assert list((media / "photos").iterdir()) == []
    assert (
        await client.put(url, files={"file": ("a.png", png_bytes(), "image/png")}, headers=alice)
    ).status_code == 200
    removed = await client.delete(url, headers=alice)
    assert removed.status_code == 200
    assert removed.json()["photo_url"] is None
    assert list((media / "photos").iterdir()) == []
    # Deleted for good: the file goes too.
    await client.put(url, files={"file": ("a.png", png_bytes(), "image/png")}, headers=alice)
    gone = await client.delete(
        f"/api/contacts/{ada['id']}", params={"permanent": "true"}, headers=alice
    )
    assert gone.status_code == 204
    assert list((media / "photos").iterdir()) == []


async def test_feed_batch_and_trash_carry_the_card(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    batch = await client.post(
        "/api/contacts/batch",
        json={"operations": [{"op": "create", "data": ADA}]},
        headers=alice,
    )
    assert batch.status_code == 200, batch.text
    created = batch.json()["results"][0]["contact"]
    assert created["emails"][1]["value"] == "ada@engines.example"
    feed = (await client.get("/api/contacts/changes", headers=alice)).json()
    assert feed["changed"][0]["phones"] == created["phones"]
    update = await client.post(
        "/api/contacts/batch",
        json={
            "operations": [{"op": "update", "id": created["id"], "data": {"job_title": "Countess"}}]
        },
        headers=alice,
    )
    assert update.json()["results"][0]["contact"]["job_title"] == "Countess"
    await client.delete(f"/api/contacts/{created['id']}", headers=alice)
    trash = (await client.get("/api/contacts/trash", headers=alice)).json()
    assert trash[0]["addresses"] == created["addresses"]


@pytest.mark.parametrize("version", ["3.0", "4.0"])
async def test_a_card_made_through_the_api_exports_and_imports_back(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], version: str
) -> None:
    ada = await _create(client, alice, ADA | {"notes": "One; two, three", "tags": ["Family"]})
    exported = await client.get(
        "/api/contacts/export", params={"format": "vcard", "version": version}, headers=alice
    )
    card = exported.text
    for line in (
        "TEL;VALUE=uri;PREF=1;TYPE=CELL:tel:+380501234567"
        if version == "4.0"
        else "TEL;TYPE=CELL,PREF:+380501234567",
        "item1.TEL",
        "item1.X-ABLabel:London office",
        "ORG:Analytical Engines Ltd",
        "TITLE:Mathematician",
        "NICKNAME:Zoë",
    ):
        assert line in card, (line, card)
    assert (
        "ANNIVERSARY:--0708"
        if version == "4.0"
        else "X-ANNIVERSARY;X-APPLE-OMIT-YEAR=1604:1604-07-08"
    ) in card
    imported = await client.post(
        "/api/contacts/import", files={"file": ("a.vcf", card, "text/vcard")}, headers=bob
    )
    assert imported.json()["created"] == 1, imported.text
    again = (await client.get("/api/contacts", headers=bob)).json()[0]
    same = (
        "emails",
        "phones",
        "addresses",
        "urls",
        "nickname",
        "organization",
        "job_title",
        "anniversary",
        "notes",
        "tags",
    )
    assert {k: again[k] for k in same} == {k: ada[k] for k in same}


async def test_a_deleted_account_takes_its_contacts_photos_along(
    client: httpx.AsyncClient, alice: dict[str, str], harness: Harness
) -> None:
    from tests.conftest import PASSWORD

    media: Path = harness.kit.settings.media_dir
    ada = await _create(client, alice, ADA)
    await client.put(
        f"/api/contacts/{ada['id']}/photo",
        files={"file": ("a.png", png_bytes(), "image/png")},
        headers=alice,
    )
    assert len(list((media / "photos").iterdir())) == 1
    gone = await client.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=alice
    )
    assert gone.status_code == 204, gone.text
    assert list((media / "photos").iterdir()) == []


async def test_an_empty_book_exports_the_google_and_outlook_headers(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for kind, first in (("google-csv", "First Name,Middle Name"), ("outlook-csv", "Title,")):
        exported = await client.get("/api/contacts/export", params={"format": kind}, headers=alice)
        assert exported.status_code == 200
        assert exported.text.startswith(first)
        assert exported.text.count("\r\n") == 1


async def test_photos_go_to_cloudinary_and_leave_it_with_their_contact(
    database_url: str, tmp_path: Path
) -> None:
    from tests.cloudinary_server import CloudinaryServer
    from tests.conftest import RunningApp, auth_headers, make_settings

    server = CloudinaryServer()
    server.start()
    try:
        settings = make_settings(database_url, tmp_path, cloudinary_url=server.url)
        async with RunningApp(settings) as running:
            headers = await auth_headers(running.client, "cloud@example.com")
            ada = await _create(running.client, headers, ADA)
            url = f"/api/contacts/{ada['id']}/photo"
            sent = await running.client.put(
                url, files={"file": ("a.jpg", photo_with_metadata(), "image/jpeg")}, headers=headers
            )
            assert sent.status_code == 200, sent.text
            upload = server.uploads[-1]
            assert upload["params"]["public_id"].startswith("photos/")
            assert metadata_of(upload["bytes"])["exif"] == {}
            photo_url = sent.json()["photo_url"]
            assert photo_url.startswith(f"https://res.cloudinary.com/{server.cloud_name}/")
            # Cloudinary refusing the next one: a 502, the photo as it was.
            server.fail_with = (400, "Invalid image file")
            failed = await running.client.put(
                url, files={"file": ("b.png", png_bytes(), "image/png")}, headers=headers
            )
            assert (failed.status_code, failed.json()["code"]) == (502, "STORAGE_FAILED")
            again = await running.client.get(f"/api/contacts/{ada['id']}", headers=headers)
            assert again.json()["photo_url"] == photo_url
            server.fail_with = None
            gone = await running.client.delete(
                f"/api/contacts/{ada['id']}", params={"permanent": "true"}, headers=headers
            )
            assert gone.status_code == 204
            assert server.destroyed == [upload["params"]["public_id"]]
    finally:
        server.stop()
