"""What a page of 20 contacts costs from rows to JSON bytes, by way of each record type:

    python -m bench.records

- `ContactRecord`s (a dataclass) serialized by pydantic-core through a `TypeAdapter`, as
  the reads do;
- `ContactRead` models, validated from the rows, then serialized;
- `ContactRead` models built with `model_construct` (no validation), then serialized.

The first two give the same bytes (checked before timing).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from pydantic import TypeAdapter

from contacts_kit.contact.schemas import CONTACTS_JSON, ContactRead, ContactRecord

FIELDS = tuple(ContactRecord.__dataclass_fields__)
PAGES = 3000


def main() -> None:
    """Each way twice, in turn."""
    now = datetime.now(UTC)
    contact = ("Ada", "Lovelace", "ada@example.com", "+12025550143", date(1990, 1, 2), "notes")
    rows = [(n, *contact, False, ["Family"], 3, now, now) for n in range(20)]
    reads: TypeAdapter[list[ContactRead]] = TypeAdapter(list[ContactRead])

    def records() -> bytes:
        return CONTACTS_JSON.dump_json([ContactRecord(*row) for row in rows])

    def validated() -> bytes:
        return reads.dump_json(
            [ContactRead.model_validate(dict(zip(FIELDS, r, strict=True))) for r in rows]
        )

    def constructed() -> bytes:
        models = [ContactRead.model_construct(**dict(zip(FIELDS, r, strict=True))) for r in rows]
        return reads.dump_json(models, warnings=False)

    assert records() == validated()
    ways: list[tuple[str, Callable[[], bytes]]] = [
        ("ContactRecord + TypeAdapter", records),
        ("ContactRead.model_validate", validated),
        ("ContactRead.model_construct", constructed),
    ]
    for _ in range(2):
        for name, way in ways:
            for _ in range(300):
                way()
            started = time.process_time()
            for _ in range(PAGES):
                way()
            spent = (time.process_time() - started) / PAGES * 1e6
            print(f"{name:30} {spent:6.1f} us CPU per page of 20")


if __name__ == "__main__":
    main()
