"""A record serializes as the response model would, field for field, without its version."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, date, datetime

from contacts_kit.contact.schemas import (
    BIRTHDAYS_JSON,
    CONTACT_JSON,
    BirthdayRecord,
    ContactBirthday,
    ContactRead,
    ContactRecord,
)

RECORD = ContactRecord(
    id=7,
    first_name="Ada",
    last_name="Lovelace",
    email="ada@example.com",
    phone="+442079460958",
    emails=[
        {"value": "ada@example.com", "label": "home"},
        {"value": "ada@engines.example", "label": None},
    ],
    phones=[{"value": "+442079460958", "label": "mobile"}],
    addresses=[
        {
            "street": "12 St James's Square",
            "locality": "London",
            "region": None,
            "postal_code": "SW1Y 4JH",
            "country": "United Kingdom",
            "label": "home",
        }
    ],
    urls=[{"value": "https://example.com/ada", "label": None}],
    nickname="Ada",
    organization="Analytical Engines Ltd",
    job_title="Mathematician",
    birthday=date(1815, 12, 10),
    anniversary=date(1604, 7, 8),
    notes=None,
    favorite=True,
    tags=["Family", "Mathematics"],
    photo_url="https://media.example/ada.jpg",
    version=3,  # read for the ETag, never shown in a body
    extra=["X-SPOUSE:William King"],  # written back by exports, never shown in a body
    created_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    updated_at=datetime(2026, 1, 2, 8, 30, 15, 250000, tzinfo=UTC),
)


def test_a_record_serializes_as_the_model_does() -> None:
    expected = ContactRead.model_validate(asdict(RECORD)).model_dump_json()
    assert CONTACT_JSON.dump_json(RECORD).decode() == expected
    assert "version" not in json.loads(expected)
    assert "extra" not in json.loads(expected)
    assert json.loads(expected)["anniversary"] == "--07-08"


def test_a_list_of_birthday_records_serializes_as_the_models_do() -> None:
    records = [
        BirthdayRecord.of(RECORD, date(2026, 12, 10)),
        BirthdayRecord.of(
            ContactRecord(**(asdict(RECORD) | {"id": 8, "notes": "x"})),
            date(2027, 7, 8),
            "anniversary",
        ),
    ]
    expected = [
        json.loads(ContactBirthday.model_validate(asdict(record)).model_dump_json())
        for record in records
    ]
    assert json.loads(BIRTHDAYS_JSON.dump_json(records)) == expected
    assert [(e["occasion"], e["next_birthday"]) for e in expected] == [
        ("birthday", "2026-12-10"),
        ("anniversary", None),
    ]
