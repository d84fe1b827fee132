"""Contacts as vCards (RFC 6350 for 4.0, RFC 2426 for 3.0) and as CSV rows, for export.
No SQL and no HTTP here: records in, text out, one contact at a time."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Literal

from contacts_kit.contact.labels import types_of
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


def split_line(line: str) -> tuple[str, str, str, str]:
    """(group, upper-cased name, parameters, value) of an unfolded content line; the
    parameters keep their leading `;`. A colon inside a quoted parameter value is not the
    value's start."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            head, value = line[:index], line[index + 1 :]
            break
    else:
        head, value = line, ""
    name, semicolon, params = head.partition(";")
    group, dot, bare = name.rpartition(".")
    return (group if dot else ""), bare.upper(), semicolon + params, value


def _components(value: str) -> list[str]:
    """The unescaped components of a structured value (`N`, `ORG`)."""
    parts = re.split(r"(?<!\\);", value)
    return [part.replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\") for part in parts]


def _kept(record: ContactRecord) -> list[str]:
    """The lines of `extra` to write: every one, but a card's own `N`, `FN` (kept when they
    held more than the first and last name) and `ORG` (more than the organisation) once the
    fields they repeat have changed."""
    names = [
        _components(split_line(line)[3]) for line in record.extra if split_line(line)[1] == "N"
    ]
    same_name = bool(names) and names[0][:2] == [record.last_name or "", record.first_name]
    kept = []
    for line in record.extra:
        name, value = split_line(line)[1], split_line(line)[3]
        if name in ("N", "FN") and not same_name:
            continue
        if name == "ORG" and _components(value)[0] != (record.organization or ""):
            continue
        kept.append(line)
    return kept


class _Groups:
    """Group names (`item1`, ...) for entries whose label is free text, none that a kept
    line already uses."""

    def __init__(self, kept: list[str]) -> None:
        self.taken = {split_line(line)[0].lower() for line in kept}
        self.number = 0

    def next(self) -> str:
        self.number += 1
        while f"item{self.number}" in self.taken:
            self.number += 1
        return f"item{self.number}"


def _entries(
    name: str,
    entries: Sequence[Mapping[str, Any]],
    values: list[str],
    version: VCardVersion,
    groups: _Groups,
    *,
    value_param: str = "",
) -> list[str]:
    """The lines of a list of labelled entries: the label as TYPE values (or an Apple
    `X-ABLabel` in a group of its own for free text), the first marked preferred."""
    lines = []
    for index, (entry, value) in enumerate(zip(entries, values, strict=True)):
        types = types_of(entry.get("label"))
        group = ""
        if types is None:
            group = groups.next() + "."
            types = []
        params = value_param
        if index == 0 and len(entries) > 1:
            params += ";PREF=1" if version == "4.0" else ""
            types = types if version == "4.0" else [*types, "PREF"]
        if types:
            params += ";TYPE=" + ",".join(types)
        lines.append(f"{group}{name}{params}:{value}")
        if group:
            lines.append(f"{group}X-ABLabel:{_text(entry.get('label') or '')}")
    return lines


def tel_line(entry: Mapping[str, Any]) -> str:
    """A phone entry as a plain `TEL` line (the label as TYPE values, when it is written
    so): how an imported number that is no valid phone number is kept."""
    types = types_of(entry.get("label")) or []
    params = ";TYPE=" + ",".join(types) if types else ""
    return f"TEL{params}:{_text(str(entry.get('value', '')))}"


def _address(entry: Mapping[str, Any]) -> str:
    parts = [
        entry.get(part) or "" for part in ("street", "locality", "region", "postal_code", "country")
    ]
    return ";;" + ";".join(_text(part) for part in parts)


def _day(name: str, day: date, version: VCardVersion) -> str:
    """BDAY or ANNIVERSARY: 4.0 writes `--MMDD` without a year (RFC 6350, 4.3.1); 3.0 has no
    such form and takes Apple's `X-APPLE-OMIT-YEAR` (and `X-ANNIVERSARY`, as Evolution and
    Thunderbird write it)."""
    if version == "3.0" and name == "ANNIVERSARY":
        name = "X-ANNIVERSARY"
    if day.year != NO_YEAR:
        return f"{name}:{day:%Y%m%d}" if version == "4.0" else f"{name}:{day.isoformat()}"
    if version == "4.0":
        return f"{name}:--{day:%m%d}"
    return f"{name};X-APPLE-OMIT-YEAR={NO_YEAR}:{day.isoformat()}"


def vcard(record: ContactRecord, version: VCardVersion = "4.0") -> str:
    """One contact as a vCard, CRLF line endings, folded: every field, and the properties
    an imported card had that the contact has no field for."""
    kept = _kept(record)
    present = {split_line(line)[1] for line in kept}
    groups = _Groups(kept)
    last = record.last_name or ""
    full = f"{record.first_name} {last}".strip()
    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    if "UID" not in present:
        lines.append(f"UID:urn:contacts-kit:contact:{record.id}")
    if "FN" not in present:
        lines.append(f"FN:{_text(full)}")
    if "N" not in present:
        lines.append(f"N:{_text(last)};{_text(record.first_name)};;;")
    if record.nickname:
        lines.append(f"NICKNAME:{_text(record.nickname)}")
    emails = [_text(entry["value"] or "") for entry in record.emails]
    lines += _entries("EMAIL", record.emails, emails, version, groups)
    # 4.0 writes a phone as a tel: URI (RFC 3966), which keeps an `;ext=`; 3.0 as text.
    tel = (";VALUE=uri", "tel:") if version == "4.0" else ("", "")
    phones = [tel[1] + (entry["value"] or "") for entry in record.phones]
    lines += _entries("TEL", record.phones, phones, version, groups, value_param=tel[0])
    addresses = [_address(entry) for entry in record.addresses]
    lines += _entries("ADR", record.addresses, addresses, version, groups)
    urls = [entry["value"] or "" for entry in record.urls]
    lines += _entries("URL", record.urls, urls, version, groups)
    if record.organization and "ORG" not in present:
        lines.append(f"ORG:{_text(record.organization)}")
    if record.job_title:
        lines.append(f"TITLE:{_text(record.job_title)}")
    if record.birthday:
        lines.append(_day("BDAY", record.birthday, version))
    if record.anniversary:
        lines.append(_day("ANNIVERSARY", record.anniversary, version))
    if record.notes:
        lines.append(f"NOTE:{_text(record.notes)}")
    if record.tags:
        lines.append("CATEGORIES:" + ",".join(_text(tag) for tag in record.tags))
    if record.favorite:
        lines.append(f"{FAVORITE}:TRUE")
    if record.photo_url and "PHOTO" not in present:
        lines.append(
            f"PHOTO:{record.photo_url}"
            if version == "4.0"
            else f"PHOTO;VALUE=uri:{record.photo_url}"
        )
    stamp = record.updated_at.strftime("%Y%m%dT%H%M%SZ")
    lines += [*kept, f"REV:{stamp}", "END:VCARD"]
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


def sheet_text(rows: list[list[str]], *, header: bool = True) -> str:
    """Rows (a header first) as CSV text, the header left out unless `header`, every cell
    but a phone number's guarded against formulas."""
    phones = {
        i for i, name in enumerate(rows[0]) if "Phone" in name or "Fax" in name or name == "Pager"
    }
    lines = [_csv_row(rows[0])] if header else []
    for row in rows[1:]:
        cells = [v if i in phones or _YEARLESS.match(v) else _cell(v) for i, v in enumerate(row)]
        lines.append(_csv_row(cells))
    return "".join(lines)


# A day without a year (`--07-04`), as Google writes it: data, no formula.
_YEARLESS = re.compile(r"^--\d{2}-\d{2}$")
