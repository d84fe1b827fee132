"""The list's answer on PostgreSQL is written by the database (each contact's JSON text,
`repository.statements.as_json`); on SQLite by pydantic from records. Either way a contact
in a page is exactly what reading it by id shows: every field, yearless birthdays,
timestamps with and without microseconds, a missing last name, text that JSON escapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import Harness

URL = "/api/contacts"
FULL: dict[str, Any] = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "emails": [{"value": "ada@example.com", "label": "work"}, {"value": "a@x.org"}],
    "phones": [{"value": "+442079460958", "label": "mobile"}, {"value": "+12025550143"}],
    "addresses": [
        {"street": "12 St James's Sq", "locality": "London", "country": "UK", "label": "home"}
    ],
    "urls": [{"value": "https://ada.example", "label": "blog"}],
    "nickname": "Enchantress",
    "organization": "Analytical Engine Co.",
    "job_title": "Countess",
    "birthday": "--12-10",
    "anniversary": "1835-07-08",
    "notes": 'Ünïcode ✓, "quotes", a \\ backslash,\na new line and a tab\t.',
    "favorite": True,
    "tags": ["Maths", "Friends"],
}


async def test_a_page_shows_each_contact_as_its_read_does(
    client: httpx.AsyncClient, alice: dict[str, str], harness: Harness
) -> None:
    second = datetime.now(UTC).replace(microsecond=0)
    harness.kit.now = lambda: second  # no microseconds
    await client.post(URL, json=FULL, headers=alice)
    harness.kit.now = lambda: second.replace(microsecond=120)
    await client.post(URL, json={"first_name": "Bob", "phone": "+1 202 555 0199"}, headers=alice)
    await client.post(
        URL,
        json={
            "first_name": "Zoë",
            "last_name": "Ødegård",
            "email": "z@x.org",
            "birthday": "1990-02-28",
        },
        headers=alice,
    )
    for params in ({}, {"q": "ada"}, {"tag": "maths"}, {"favorite": "false"}):
        page = await client.get(URL, params=params, headers=alice)
        assert page.status_code == 200, page.text
        for shown in page.json():
            alone = await client.get(f"{URL}/{shown['id']}", headers=alice)
            assert shown == alone.json(), params
    listed = (await client.get(URL, headers=alice)).json()
    assert [c["first_name"] for c in listed] == ["Bob", "Ada", "Zoë"]
    stamp = second.strftime("%Y-%m-%dT%H:%M:%S")
    assert [c["created_at"] for c in listed[:2]] == [f"{stamp}.000120Z", f"{stamp}Z"]
    assert listed[1]["birthday"] == "--12-10"
    assert listed[0]["last_name"] is None
