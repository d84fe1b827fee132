"""`POST /contacts/import`: vCard 2.1/3.0/4.0 and Google/Outlook/own CSV files (written to the
published formats, in tests/contact/files), a report per record, dry runs, conflicts by
email, limits, and the round trip through the export; on both dialects and embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningApp, auth_headers, make_settings
from tests.contact.test_export import BOOK
from tests.contact.test_router import URL
from tests.test_embedding import API, embedded_user

IMPORT = f"{URL}/import"
FILES = Path(__file__).parent / "files"
FIELDS = ("first_name", "last_name", "email", "phone", "birthday", "notes", "favorite", "tags")


async def _import(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    *,
    url: str = IMPORT,
    multipart: bool = True,
    **params: str,
) -> httpx.Response:
    raw = (FILES / name).read_bytes()
    if multipart:
        files = {"file": (name, raw, "application/octet-stream")}
        return await client.post(url, files=files, params=params, headers=headers)
    kind = "text/vcard" if name.endswith(".vcf") else "text/csv"
    return await client.post(
        url, content=raw, params=params, headers=headers | {"content-type": kind}
    )


async def _book(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    listed = (await client.get(URL, params={"limit": 100}, headers=headers)).json()
    return {c["first_name"]: {k: c[k] for k in FIELDS} for c in listed}


def _outcomes(report: Any) -> list[tuple[int, str]]:
    return [(record["line"], record["outcome"]) for record in report["records"]]


async def test_apple_vcard_3(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    answer = await _import(client, alice, "apple-3.0.vcf")
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 2
    book = await _book(client, alice)
    grace = book["Grace"]
    # The preferred email and phone are the primaries; every other one follows them.
    assert grace["email"] == "grace@navy.example"
    assert grace["phone"] == "+12025550199"
    assert grace["birthday"] == "1906-12-09"
    assert grace["tags"] == ["Navy", "Pioneers"]
    assert grace["notes"].startswith(
        "Invented the first compiler, and COBOL; a long note that goes on and on past"
    )
    assert "Other emails" not in grace["notes"]
    contacts = (await client.get(URL, headers=alice)).json()
    full = next(c for c in contacts if c["first_name"] == "Grace")
    assert [e["value"] for e in full["emails"]] == ["grace@navy.example", "grace.home@example.com"]
    assert [p["value"] for p in full["phones"]] == ["+12025550199", "+12025550143"]
    assert book["Zoë"]["last_name"] == "Åström"


async def test_android_vcard_2_1(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    answer = await _import(client, alice, "android-2.1.vcf", multipart=False)
    assert answer.status_code == 200, answer.text
    book = await _book(client, alice)
    francois = book["François"]
    assert francois["last_name"] == "Élodie"
    assert francois["phone"] == "+33123456789"  # the PREF one
    assert francois["notes"].startswith("Rencontré à Lyon, une très longue note qui continue")
    assert book["Solo"]["phone"] == "+442079460000"


async def test_vcard_4_with_a_broken_card_in_the_middle(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    report = (await _import(client, alice, "rfc6350-4.0.vcf")).json()
    assert (report["created"], report["invalid"]) == (2, 1)
    assert _outcomes(report) == [(1, "created"), (11, "invalid"), (16, "created")]
    assert "Failed to parse line" in report["records"][1]["errors"][0]
    book = await _book(client, alice)
    assert book["Alan"]["email"] == "alan@example.org"  # PREF=1
    assert book["Alan"]["phone"] == "+442079460001"
    # A birthday without a year stays one.
    assert book["Katherine"]["birthday"] == "--08-26"
    assert book["Katherine"]["notes"] is None


async def test_google_csv(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    report = (await _import(client, alice, "google.csv")).json()
    assert _outcomes(report) == [(2, "created"), (3, "created"), (4, "created")]
    book = await _book(client, alice)
    assert book["Ada"]["tags"] == ["Family"]  # "* myContacts" is Google's own group
    assert book["Ada"]["notes"] == "Analytical Engine"
    ada = next(c for c in (await client.get(URL, headers=alice)).json() if c["first_name"] == "Ada")
    assert ada["emails"] == [
        {"value": "ada@example.com", "label": "home"},
        {"value": "ada@work.example", "label": "work"},
    ]
    assert ada["phones"] == [{"value": "+442079460958", "label": "mobile"}]
    assert book["Ada"]["birthday"] == "1815-12-10"
    assert book["Nameless"]["phone"] == "+12025550100"


async def test_outlook_csv_in_windows_1252(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    report = (await _import(client, alice, "outlook.csv", multipart=False)).json()
    assert _outcomes(report) == [(2, "created"), (3, "invalid"), (4, "created")]
    assert report["records"][1]["errors"][0].startswith("emails.0.value:")
    book = await _book(client, alice)
    assert book["Hedy"]["birthday"] == "1914-11-09"
    assert book["Hedy"]["notes"].endswith("saut de fréquence")
    assert book["Margaret"]["birthday"] == "1936-08-17"


async def test_a_dry_run_reports_and_writes_nothing(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    since = (await client.get(f"{URL}/changes", headers=alice)).json()["next"]
    dry = (await _import(client, alice, "google.csv", dry_run="true")).json()
    assert dry["dry_run"] is True
    assert dry["created"] == 3
    assert await _book(client, alice) == {}
    assert (await client.get("/api/tags", headers=alice)).json() == []
    changes = await client.get(f"{URL}/changes", params={"since": since}, headers=alice)
    assert changes.json()["changed"] == []
    real = (await _import(client, alice, "google.csv")).json()
    assert _outcomes(real) == _outcomes(dry)
    changes = await client.get(f"{URL}/changes", params={"since": since}, headers=alice)
    assert len(changes.json()["changed"]) == 3


async def test_conflicts_by_email_are_skipped_or_update(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    mine = await client.post(
        URL,
        json={"first_name": "Adeline", "email": "ADA@example.com", "notes": "mine"},
        headers=alice,
    )
    skipped = (await _import(client, alice, "google.csv")).json()
    assert skipped["records"][0] == {
        "line": 2,
        "outcome": "skipped",
        "id": mine.json()["id"],
        "merge_id": None,
        "errors": [],
    }
    assert (await _book(client, alice))["Adeline"]["notes"] == "mine"
    updated = (await _import(client, alice, "google.csv", on_conflict="update")).json()
    # Keyed by email: the row without one is a new contact again.
    assert [r["outcome"] for r in updated["records"]] == ["updated", "updated", "created"]
    book = await _book(client, alice)
    assert "Adeline" not in book
    assert book["Ada"]["notes"].startswith("Analytical Engine")
    assert book["Ada"]["last_name"] == "Lovelace"
    # The same email twice in one file: the second meets the first.
    twice = "First Name,E-mail Address\r\nOne,same@example.com\r\nTwo,SAME@example.com\r\n"
    answer = await client.post(IMPORT, content=twice, headers=alice | {"content-type": "text/csv"})
    assert [r["outcome"] for r in answer.json()["records"]] == ["created", "skipped"]
    # With on_conflict=update the later record updates what the earlier one created.
    thrice = (
        twice.replace("same@", "again@").replace("SAME@", "Again@") + "Three,again@example.com\r\n"
    )
    answer = await client.post(
        IMPORT,
        content=thrice,
        params={"on_conflict": "update"},
        headers=alice | {"content-type": "text/csv"},
    )
    records = answer.json()["records"]
    assert [r["outcome"] for r in records] == ["created", "updated", "updated"]
    assert len({r["id"] for r in records}) == 1
    found = await client.get(URL, params={"email": "again@"}, headers=alice)
    assert [c["first_name"] for c in found.json()] == ["Three"]


@pytest.mark.parametrize(
    "params", [{"format": "vcard"}, {"format": "vcard", "version": "3.0"}, {"format": "csv"}]
)
async def test_export_then_import_gives_the_same_book(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], params: dict[str, str]
) -> None:
    for body in BOOK:
        assert (await client.post(URL, json=body, headers=alice)).status_code == 201
    exported = await client.get(f"{URL}/export", params=params, headers=alice)
    kind = "text/csv" if params["format"] == "csv" else "text/vcard"
    answer = await client.post(
        IMPORT, content=exported.content, headers=bob | {"content-type": kind}
    )
    assert answer.json()["created"] == len(BOOK), answer.text
    assert await _book(client, bob) == await _book(client, alice)


async def test_what_is_not_an_address_book_is_one_clear_4xx(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    for content, kind in (
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"just some words", "text/plain"),
        (b"a,b,c\r\n1,2,3\r\n", "application/octet-stream"),
        (b"", "text/vcard"),
    ):
        answer = await client.post(IMPORT, content=content, headers=alice | {"content-type": kind})
        assert answer.status_code == 415, (content, answer.text)
        assert answer.json()["code"] == "IMPORT_UNREADABLE"
    form = await client.post(IMPORT, files={"other": ("x.vcf", b"x")}, headers=alice)
    assert form.status_code == 400
    assert (await client.get(IMPORT, headers=alice)).status_code == 405
    assert (await client.post(IMPORT, content=b"BEGIN:VCARD")).status_code == 401
    assert await _book(client, alice) == {}


async def test_limits_of_size_records_and_rate(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        import_max_bytes=2048,
        import_max_records=2,
        rate_limit_enabled=True,
        rate_limit_import="2/hour",
        rate_limit_auth="100/minute",
    )
    async with RunningApp(settings) as running:
        client = running.client
        headers = await auth_headers(client, "limits@example.com")
        big = b"First Name\r\n" + b"x" * 3000 + b"\r\n"
        too_big = await client.post(
            IMPORT, content=big, headers=headers | {"content-type": "text/csv"}
        )
        assert too_big.status_code == 413
        many = await _import(client, headers, "google.csv")
        assert many.status_code == 413
        assert "3 records" in many.json()["detail"]
        limited = await _import(client, headers, "apple-3.0.vcf")
        assert limited.status_code == 429
        assert await _book(client, headers) == {}


async def test_import_in_a_host_app_under_its_own_prefix(database_url: str, tmp_path: Path) -> None:
    async with embedded_user(database_url, tmp_path, "import@example.com") as (client, headers):
        answer = await _import(client, headers, "google.csv", url=f"{API}/contacts/import")
        assert answer.status_code == 200
        assert answer.headers["x-host-middleware"] == "yes"
        assert answer.json()["created"] == 3
