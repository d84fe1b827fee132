"""Contacts as vCards (RFC 6350 for 4.0, RFC 2426 for 3.0) and as CSV rows, for export.
No SQL and no HTTP here: records in, text out, one contact at a time."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Literal

from contacts_kit.contact.schemas import NO_YEAR, ContactRecord, birthday_text

VCardVersion = Literal["4.0", "3.0"]
FOLD_AT = 75
"""Octets per vCard line before it is folded (RFC 6350, 3.2)."""
FAVORITE = "X-CONTACTS-KIT-FAVORITE"
"""The property that carries `favorite` (vCard has none)."""
CSV_COLUMNS = (
    "First Name",
    "Last Name",
    "E-mail Address",
    "Phone",
    "Birthday",
    "Notes",
    "Favorite",
    "Tags",
)
TAG_SEPARATOR = " ::: "
"""Between the tags of a CSV cell, as Google Contacts writes its labels."""
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# Every line break a reader could split on: each is written as an escaped newline.
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _text(value: str) -> str:
    """A vCard text value, escaped (RFC 6350, 3.4): no line break of any kind is left to
    start a line, and with it a property, of its own."""
    escaped = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return _LINE_BREAKS.sub("\\\\n", escaped)


def _fold(line: str) -> str:
    """A content line folded into lines of at most `FOLD_AT` octets, never inside a UTF-8
    sequence, each continuation starting with a space."""
    encoded = line.encode()
    if len(encoded) <= FOLD_AT:
        return line + "\r\n"
    parts: list[str] = []
    current = ""
    size = 0
    limit = FOLD_AT
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, FOLD_AT - 1  # the leading space counts
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts) + "\r\n"


def _bday(birthday: date, version: VCardVersion) -> str:
    """BDAY: 4.0 writes `--MMDD` without a year (RFC 6350, 4.3.1); 3.0 has no such form and
    takes Apple's `X-APPLE-OMIT-YEAR`."""
    if birthday.year != NO_YEAR:
        return f"BDAY:{birthday:%Y%m%d}" if version == "4.0" else f"BDAY:{birthday.isoformat()}"
    if version == "4.0":
        return f"BDAY:--{birthday:%m%d}"
    return f"BDAY;X-APPLE-OMIT-YEAR={NO_YEAR}:{birthday.isoformat()}"


def vcard(record: ContactRecord, version: VCardVersion = "4.0") -> str:
    """One contact as a vCard, CRLF line endings, folded."""
    last = record.last_name or ""
    full = f"{record.first_name} {last}".strip()
    lines = [
        "BEGIN:VCARD",
        f"VERSION:{version}",
        f"UID:urn:contacts-kit:contact:{record.id}",
        f"FN:{_text(full)}",
        f"N:{_text(last)};{_text(record.first_name)};;;",
    ]
    if record.email:
        lines.append(f"EMAIL:{_text(record.email)}")
    if record.phone:
        # 4.0 writes a phone as a tel: URI (RFC 3966), which keeps an `;ext=`; 3.0 as text.
        lines.append(
            f"TEL;VALUE=uri:tel:{record.phone}" if version == "4.0" else f"TEL:{record.phone}"
        )
    if record.birthday:
        lines.append(_bday(record.birthday, version))
    if record.notes:
        lines.append(f"NOTE:{_text(record.notes)}")
    if record.tags:
        lines.append("CATEGORIES:" + ",".join(_text(tag) for tag in record.tags))
    if record.favorite:
        lines.append(f"{FAVORITE}:TRUE")
    stamp = record.updated_at.strftime("%Y%m%dT%H%M%SZ")
    lines += [f"REV:{stamp}", "END:VCARD"]
    return "".join(_fold(line) for line in lines)


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula: a leading `'` before a value
    starting with `=`, `+`, `-`, `@` or a control character (import removes it)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_header() -> str:
    """The header row of the export."""
    return _csv_row(list(CSV_COLUMNS))


def csv_row(record: ContactRecord) -> str:
    """One contact as a CSV row. The phone is E.164 (`+...`): kept as is, in its own
    column; every other text cell is guarded against formulas."""
    return _csv_row(
        [
            _cell(record.first_name),
            _cell(record.last_name or ""),
            _cell(record.email or ""),
            record.phone or "",
            _cell(birthday_text(record.birthday)) if record.birthday else "",
            _cell(record.notes or ""),
            "true" if record.favorite else "",
            _cell(TAG_SEPARATOR.join(record.tags)),
        ]
    )


def _csv_row(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()
