"""The row serializers write what the response models would write, field for field."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from contacts_kit.contact.schemas import ContactBirthday, ContactRead, row_serializer

ROW = {
    "id": 7,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+442079460958",
    "birthday": date(1815, 12, 10),
    "notes": None,
    "version": 3,  # read for the ETag, never shown in a body
    "created_at": datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    "updated_at": datetime(2026, 1, 2, 8, 30, 15, 250000, tzinfo=UTC),
}


def test_a_row_serializes_as_the_model_does() -> None:
    expected = ContactRead.model_validate(ROW).model_dump_json()
    assert row_serializer(ContactRead).dump_json(ROW).decode() == expected
    assert "version" not in json.loads(expected)


def test_a_list_of_birthday_rows_serializes_as_the_models_do() -> None:
    rows = [ROW | {"next_birthday": date(2026, 12, 10)}, ROW | {"id": 8, "notes": "x"}]
    rows[1]["next_birthday"] = date(2027, 12, 10)
    expected = [json.loads(ContactBirthday.model_validate(row).model_dump_json()) for row in rows]
    assert json.loads(row_serializer(ContactBirthday, many=True).dump_json(rows)) == expected
