"""`GET /contacts/export`: the whole book as vCard 4.0 or 3.0 (read back with vobject) or as
CSV (read back with the csv module), streamed by id, the trash and other books aside; on both
dialects and embedded in a host app."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import vobject

from contacts_kit.contact.cards import CSV_COLUMNS, FOLD_AT
from tests.contact.test_router import URL
from tests.test_embedding import API, embedded_user

EXPORT = f"{URL}/export"
LONG_NOTE = "Première ligne; avec, des virgules\nDeuxième ligne \\ fin. " + "é" * 60
BOOK: list[dict[str, Any]] = [
    {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0958",
        "birthday": "1815-12-10",
        "notes": LONG_NOTE,
        "favorite": True,
        "tags": ["Family", "Math, Logic"],
    },
    {
        "first_name": "Zoë",
        "last_name": "Ångström",
        "phone": "+1 202 555 0143 ext. 12",
        "birthday": "--02-29",
    },
    {"first_name": "李", "email": "li@example.com", "notes": '=HYPERLINK("http://x")'},
]


async def _seed(client: httpx.AsyncClient, headers: dict[str, str], url: str = URL) -> list[Any]:
    created = []
    for body in BOOK:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


def _cards(text: str) -> list[Any]:
    return list(vobject.readComponents(text))


async def test_vcard_4_holds_every_field(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    ada, zoe, li = await _seed(client, alice)
    await client.post(URL, json={"first_name": "Bob's", "phone": "+12025550100"}, headers=bob)
    gone = await client.post(
        URL, json={"first_name": "Gone", "phone": "+12025550101"}, headers=alice
    )
    await client.delete(f"{URL}/{gone.json()['id']}", headers=alice)

    response = await client.get(EXPORT, headers=alice)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/vcard; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="contacts.vcf"'
    raw = response.content
    assert raw.count(b"\r\n") == raw.count(b"\n")  # CRLF only
    assert max(len(line) for line in raw.split(b"\r\n")) <= FOLD_AT
    cards = _cards(raw.decode())
    assert [card.fn.value for card in cards] == ["Ada Lovelace", "Zoë Ångström", "李"]
    first = cards[0]
    assert first.version.value == "4.0"
    assert first.n.value.family == "Lovelace"
    assert first.n.value.given == "Ada"
    assert first.email.value == "ada@example.com"
    assert first.tel.value == "tel:+442079460958"
    assert first.bday.value == "18151210"
    assert first.note.value == LONG_NOTE
    assert first.categories.value == ["Family", "Math, Logic"]
    assert first.contents["x-contacts-kit-favorite"][0].value == "TRUE"
    assert first.uid.value == f"urn:contacts-kit:contact:{ada['id']}"
    assert cards[1].tel.value == f"tel:{zoe['phone']}"  # `;ext=12` inside the URI
    assert cards[1].bday.value == "--0229"  # no year (RFC 6350, 4.3.1)
    assert "email" not in cards[1].contents
    assert "bday" not in cards[2].contents
    assert cards[2].uid.value.endswith(str(li["id"]))


async def test_vcard_3_for_older_apps(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    await _seed(client, alice)
    response = await client.get(EXPORT, params={"version": "3.0"}, headers=alice)
    first = _cards(response.text)[0]
    assert first.version.value == "3.0"
    assert first.bday.value == "1815-12-10"
    assert first.tel.value == "+442079460958"
    assert first.note.value == LONG_NOTE
    # 3.0 has no year-less date: Apple's convention, which Apple Contacts reads back.
    zoe = _cards(response.text)[1]
    assert zoe.bday.value == "1604-02-29"
    assert zoe.bday.params["X-APPLE-OMIT-YEAR"] == ["1604"]


async def test_csv_has_one_header_and_no_formulas(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await _seed(client, alice)
    response = await client.get(EXPORT, params={"format": "csv"}, headers=alice)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    ada, zoe, li = (dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:])
    assert ada["Birthday"] == "1815-12-10"
    assert ada["Notes"] == LONG_NOTE
    assert ada["Favorite"] == "true"
    assert ada["Tags"] == "Family ::: Math, Logic"
    assert ada["Phone"] == "+442079460958"
    assert zoe["E-mail Address"] == ""
    assert zoe["Birthday"] == "'--02-29"  # a spreadsheet would run `--02-29` as a formula
    assert zoe["Favorite"] == ""
    assert li["Notes"] == '\'=HYPERLINK("http://x")'  # a spreadsheet shows it, never runs it


async def test_a_book_larger_than_a_chunk_streams_whole_in_id_order(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    operations = [
        {"op": "create", "data": {"first_name": f"N{i}", "email": f"n{i}@example.com"}}
        for i in range(100)
    ]
    ids: list[int] = []
    for _ in range(6):
        answer = await client.post(f"{URL}/batch", json={"operations": operations}, headers=alice)
        ids += [result["contact"]["id"] for result in answer.json()["results"] if result["contact"]]
        operations = [
            dict(op, data=dict(op["data"], email=f"x{len(ids)}-{op['data']['email']}"))
            for op in operations
        ]
    assert len(ids) == 600
    response = await client.get(EXPORT, params={"format": "csv"}, headers=alice)
    rows = list(csv.reader(io.StringIO(response.text)))
    assert len(rows) == 601
    cards = _cards((await client.get(EXPORT, headers=alice)).text)
    assert [int(card.uid.value.rsplit(":", 1)[1]) for card in cards] == sorted(ids)


async def test_bad_options_are_422(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    for params in ({"format": "xls"}, {"version": "2.1"}):
        assert (await client.get(EXPORT, params=params, headers=alice)).status_code == 422
    assert (await client.get(EXPORT)).status_code == 401
    assert (await client.delete(EXPORT, headers=alice)).status_code == 405


async def test_export_in_a_host_app_under_its_own_prefix(database_url: str, tmp_path: Path) -> None:
    async with embedded_user(database_url, tmp_path, "export@example.com") as (client, headers):
        await _seed(client, headers, f"{API}/contacts")
        response = await client.get(f"{API}/contacts/export", headers=headers)
        assert response.status_code == 200
        assert response.headers["x-host-middleware"] == "yes"
        assert len(_cards(response.text)) == 3
