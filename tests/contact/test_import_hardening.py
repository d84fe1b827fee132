"""Imports and exports under hostile or broken files (issue 29): a clear 4xx instead of a
500, no mojibake, and no line break in a value that splits a card on its way back in."""

from __future__ import annotations

import httpx
import pytest

from contacts_kit.contact import imports
from tests.contact.test_router import URL, create
from tests.threads import calls_on_this_thread

IMPORT = f"{URL}/import"


async def _send(
    client: httpx.AsyncClient, headers: dict[str, str], body: bytes, kind: str
) -> httpx.Response:
    return await client.post(
        IMPORT, content=body, headers=headers | {"content-type": kind}, params={"dry_run": "true"}
    )


async def test_a_csv_cell_past_the_reader_limit_is_a_clear_415(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    body = "First Name,Notes\nAda," + "x" * 140_000 + "\n"
    answer = await _send(client, alice, body.encode(), "text/csv")
    assert answer.status_code == 415
    assert answer.json()["code"] == "IMPORT_UNREADABLE"
    assert "field larger than field limit" in answer.json()["detail"]


async def test_a_utf8_file_with_a_broken_byte_is_refused_not_misread(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zoë Ångström\r\nN:Ångström;Zoë;;;\r\nEND:VCARD\r\n"
    broken = card.encode().replace(b"VERSION", b"VERSION\xff", 1)
    answer = await _send(client, alice, broken, "text/vcard")
    assert answer.status_code == 415
    assert "UTF-8 but for the byte at offset" in answer.json()["detail"]
    # A real Windows-1252 file (Outlook's) is still read as such.
    legacy = await _send(
        client,
        alice,
        "First Name,Last Name,Phone\nZoë,Ørsted,+12025550143\n".encode("cp1252"),
        "text/csv",
    )
    assert legacy.status_code == 200
    assert legacy.json()["records"][0]["outcome"] == "created"


@pytest.mark.parametrize("breaker", ["\u2028", "\u2029", "\x85", "\r", "\n"])
async def test_a_line_break_in_a_name_survives_the_round_trip(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], breaker: str
) -> None:
    notes = f"line one{breaker}END:VCARD{breaker}BEGIN:VCARD{breaker}FN:Injected"
    created = await client.post(
        URL,
        json={"first_name": "Ada", "phone": "+12025550143", "notes": notes},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    exported = await client.get(f"{URL}/export", headers=alice)
    answer = await client.post(
        IMPORT, content=exported.content, headers=bob | {"content-type": "text/vcard"}
    )
    assert [record["outcome"] for record in answer.json()["records"]] == ["created"]
    [copy] = (await client.get(URL, headers=bob)).json()
    assert copy["first_name"] == "Ada"
    assert "Injected" in copy["notes"]  # still inside the notes, not a card of its own


async def test_a_birthday_without_a_year_is_no_formula_in_a_spreadsheet(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    created = await client.post(
        URL,
        json={"first_name": "Ada", "phone": "+12025550143", "birthday": "--12-24"},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    exported = await client.get(f"{URL}/export", params={"format": "csv"}, headers=alice)
    assert ",'--12-24," in exported.text


async def test_an_import_is_parsed_off_the_event_loop(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEMAIL:ada@example.com\r\nEND:VCARD\r\n"
    with calls_on_this_thread(imports.parse) as on_the_loop:
        answer = await _send(client, alice, card.encode(), "text/vcard")
    assert answer.status_code == 200, answer.text
    assert on_the_loop == []
    with calls_on_this_thread(imports.parse) as here:
        imports.parse(card.encode(), 10)
    assert here == ["parse"]


@pytest.mark.parametrize(
    "typed",
    ["+1 202 555 0143 ext. ١٢٣", "+1 202 555 0143 ext. ۱۲۳", "+1 202 555 0143 x\uff11\uff12\uff13"],
)
async def test_a_phone_extension_in_other_digits_is_stored_in_ascii_ones(
    client: httpx.AsyncClient, alice: dict[str, str], typed: str
) -> None:
    created = await create(client, alice, phone=typed)
    assert created["phone"] == "+12025550143;ext=123"


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("Ørsted", "orsted"),
        ("Łukasz", "lukasz"),
        ("Żółć", "zolc"),
        ("Đorđe", "dorde"),
        ("Æsir", "aesir"),
        ("Œuvre", "OEUVRE"),
        ("Þórunn", "thorunn"),
    ],
)
async def test_latin_letters_without_a_decomposition_are_found_by_their_ascii_spelling(
    client: httpx.AsyncClient, alice: dict[str, str], name: str, typed: str
) -> None:
    await create(client, alice, first_name=name, last_name=None)
    for query in (typed, name):
        found = await client.get(URL, params={"q": query}, headers=alice)
        assert [item["first_name"] for item in found.json()] == [name]
    other_script = await client.get(URL, params={"q": "Олександр"}, headers=alice)
    assert other_script.json() == []
