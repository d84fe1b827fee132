"""Cards as Apple Contacts, Google Contacts, Outlook, Thunderbird and Nextcloud export them
(tests/contact/files/cards, written to each one's format: several emails, phones and
addresses, a photo, properties contacts-kit has no field for) go in through the import and
come out of the export with every property and value, compared as parsed vCards; Google's
and Outlook's CSV come out with the same columns and values.

Compared as parsed: what the formats let a writer choose is not compared (line folding,
parameter case, a vCard group's name, the order of properties, `PRODID`, `REV`, `VERSION`,
`VALUE=` and the default types INTERNET, VOICE and PREF); a phone number is compared by its
digits (the export writes it in E.164); an Apple label (`X-ABLabel:_$!<Other>!$_`) and a
type (`TYPE=OTHER`) that say the same say the same; `ANNIVERSARY`, `X-ANNIVERSARY`,
`X-MS-ANNIVERSARY` and Apple's anniversary `X-ABDATE` are one property."""

from __future__ import annotations

import csv
import io
import quopri
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import vobject

CARDS = Path(__file__).parent / "files" / "cards"
_IGNORED = {"VERSION", "PRODID", "REV", "X-ABLABEL"}
_DEFAULT_TYPES = {"PREF", "INTERNET", "VOICE"}
_ANNIVERSARY = {"ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY"}


def _label(line: Any, labels: dict[str, str]) -> str:
    group = (line.group or "").lower()
    if group in labels:
        text = labels[group]
        wrapped = re.fullmatch(r"_\$!<(.+)>!\$_", text)
        return wrapped.group(1).lower() if wrapped else text
    types = {str(name).upper() for name in getattr(line, "singletonparams", [])}
    for value in line.params.get("TYPE", []):
        types |= {part.strip().upper() for part in str(value).split(",")}
    words = sorted(types - _DEFAULT_TYPES)
    return ",".join("mobile" if word == "CELL" else word.lower() for word in words)


def _day(text: str, params: dict[str, Any]) -> str:
    digits = re.sub(r"\D", "", text.split("T")[0])
    if text.startswith("--") or "X-APPLE-OMIT-YEAR" in params:
        return "--" + digits[-4:]
    return digits


def _value(name: str, line: Any) -> object:
    value = line.value
    if name == "TEL":
        return re.sub(r"\D", "", str(value).split(";ext=")[0])
    if name == "EMAIL":
        return str(value).lower()
    if name in ("ADR", "N"):
        parts = [
            str(getattr(value, part, "") or "")
            for part in (
                ("box", "extended", "street", "city", "region", "code", "country")
                if name == "ADR"
                else ("family", "given", "additional", "prefix", "suffix")
            )
        ]
        return tuple(parts)
    if name == "ORG":
        parts = value if isinstance(value, list) else [value]
        while parts and not parts[-1]:
            parts = parts[:-1]
        return tuple(parts)
    if name == "CATEGORIES":
        return frozenset(value if isinstance(value, list) else str(value).split(","))
    if name == "BDAY" or name in _ANNIVERSARY:
        return _day(str(value), line.params)
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _decoded(text: str) -> str:
    """vCard 2.1's quoted-printable lines decoded (vobject cuts such a value at its first
    comma), soft line breaks joined, as plain escaped text."""
    lines = re.split(r"\r\n|\n", text)
    out: list[str] = []
    while lines:
        line = lines.pop(0)
        head, _, value = line.partition(":")
        if "QUOTED-PRINTABLE" not in head.upper():
            out.append(line)
            continue
        while value.endswith("=") and lines:
            value = value[:-1] + lines.pop(0)
        plain = quopri.decodestring(value.encode()).decode().replace("\r\n", "\n")
        plain = plain.replace("\\", "\\\\").replace(",", "\\,").replace("\n", "\\n")
        params = [p for p in head.split(";") if not p.upper().startswith(("ENCODING", "CHARSET"))]
        out.append(";".join(params) + ":" + plain)
    return "\r\n".join(out)


def properties(text: str) -> list[Counter[tuple[Any, ...]]]:
    """Each card of a vCard file as a multiset of (name, label, value)."""
    cards = []
    for card in vobject.readComponents(_decoded(text)):
        labels = {
            (line.group or "").lower(): str(line.value)
            for line in card.getChildren()
            if line.name.upper() == "X-ABLABEL" and line.group
        }
        found: Counter[tuple[Any, ...]] = Counter()
        for line in card.getChildren():
            name = line.name.upper()
            if name in _IGNORED:
                continue
            label = _label(line, labels)
            if name == "X-ABDATE" and label == "anniversary":
                name, label = "ANNIVERSARY", ""
            if name in _ANNIVERSARY:
                name = "ANNIVERSARY"
            if name in ("N", "FN", "ORG", "BDAY", "ANNIVERSARY", "NOTE", "CATEGORIES", "UID"):
                label = ""
            found[(name, label, _value(name, line))] += 1
        cards.append(found)
    return cards


async def _round_trip(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, export: dict[str, str]
) -> str:
    raw = (CARDS / name).read_bytes()
    imported = await client.post(
        "/api/contacts/import", files={"file": (name, raw, "text/plain")}, headers=headers
    )
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert report["invalid"] == 0, report
    exported = await client.get("/api/contacts/export", params=export, headers=headers)
    assert exported.status_code == 200
    return exported.text


def _without_kit_uid(card: Counter[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    """A card without the UID contacts-kit gives a card that had none."""
    return Counter(
        {key: n for key, n in card.items() if not (key[0] == "UID" and "contacts-kit" in key[2])}
    )


@pytest.mark.parametrize(
    "name", ["apple.vcf", "google.vcf", "outlook.vcf", "thunderbird.vcf", "nextcloud.vcf"]
)
@pytest.mark.parametrize("version", ["3.0", "4.0"])
async def test_a_card_comes_back_with_every_property(
    client: httpx.AsyncClient, alice: dict[str, str], name: str, version: str
) -> None:
    original = properties((CARDS / name).read_text(encoding="utf-8"))
    exported = await _round_trip(client, alice, name, {"format": "vcard", "version": version})
    again = [_without_kit_uid(card) for card in properties(exported)]
    assert len(again) == len(original) == 1
    missing = original[0] - again[0]
    invented = again[0] - original[0]
    assert (missing, invented) == (Counter(), Counter())


async def test_the_fields_of_an_apple_card_are_the_contacts(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    await _round_trip(client, alice, "apple.vcf", {"format": "vcard"})
    (contact,) = (await client.get("/api/contacts", headers=alice)).json()
    assert [e["label"] for e in contact["emails"]] == ["home", "work", "other"]
    assert [p["label"] for p in contact["phones"]] == [
        "mobile",
        "mobile,iphone",
        "work",
        "London office",
    ]
    assert [a["label"] for a in contact["addresses"]] == ["home", "work"]
    assert contact["urls"] == [{"value": "https://example.com/johnny", "label": "homepage"}]
    assert (contact["anniversary"], contact["nickname"]) == ("2004-06-12", "Jonny")
    # A query by the second phone's digits finds the imported card.
    found = await client.get("/api/contacts", params={"q": "020 7946 0958"}, headers=alice)
    assert [c["id"] for c in found.json()] == [contact["id"]]


async def test_a_number_that_is_no_phone_number_is_kept_with_the_card(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    exported = await _round_trip(client, alice, "outlook.vcf", {"format": "vcard"})
    (contact,) = (await client.get("/api/contacts", headers=alice)).json()
    assert [p["value"] for p in contact["phones"]] == [
        "+2348031234567",
        "+2348057654321",
        "+2348030001111",
    ]
    assert "TEL;TYPE=HOME:+234 1 461 0000" in exported
    assert contact["anniversary"] == "2015-06-06"  # X-MS-ANNIVERSARY


def _sheet(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    none = {"0/0/00"}  # Outlook's "no date"
    return [{k: v for k, v in row.items() if v and v not in none} for row in rows]


def _same(column: str, value: str) -> str:
    if "Phone" in column or "Fax" in column:
        return re.sub(r"\D", "", value)
    return value


@pytest.mark.parametrize(
    ("name", "kind"), [("google.csv", "google-csv"), ("outlook.csv", "outlook-csv")]
)
async def test_a_csv_comes_back_with_the_same_columns_and_values(
    client: httpx.AsyncClient, alice: dict[str, str], name: str, kind: str
) -> None:
    encoding = "cp1252" if name == "outlook.csv" else "utf-8"
    original = _sheet((CARDS / name).read_text(encoding=encoding))
    exported = _sheet(await _round_trip(client, alice, name, {"format": kind}))
    by_name = {row["First Name"]: row for row in exported}
    assert len(by_name) == len(original)
    for row in original:
        back = by_name[row["First Name"]]
        assert {c: _same(c, v) for c, v in back.items()} == {c: _same(c, v) for c, v in row.items()}
