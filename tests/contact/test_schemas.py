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
    birthday=date(1815, 12, 10),
    notes=None,
    favorite=True,
    tags=["Family", "Mathematics"],
    version=3,  # read for the ETag, never shown in a body
    created_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    updated_at=datetime(2026, 1, 2, 8, 30, 15, 250000, tzinfo=UTC),
)


def test_a_record_serializes_as_the_model_does() -> None:
    expected = ContactRead.model_validate(asdict(RECORD)).model_dump_json()
    assert CONTACT_JSON.dump_json(RECORD).decode() == expected
    assert "version" not in json.loads(expected)


def test_a_list_of_birthday_records_serializes_as_the_models_do() -> None:
    records = [
        BirthdayRecord(**asdict(RECORD), next_birthday=date(2026, 12, 10)),
        BirthdayRecord(
            **(asdict(RECORD) | {"id": 8, "notes": "x"}), next_birthday=date(2027, 12, 10)
        ),
    ]
    expected = [
        json.loads(ContactBirthday.model_validate(asdict(record)).model_dump_json())
        for record in records
    ]
    assert json.loads(BIRTHDAYS_JSON.dump_json(records)) == expected
