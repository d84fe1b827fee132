"""The CSV of Google Contacts and of Outlook, both ways: the columns of each entry of a
card (`E-mail 1 - Value`, `Phone 2 - Label`, `Address 1 - City`, ...; Outlook's fixed
`Mobile Phone`, `Business Street`, ...) and of its other fields. A column neither format
maps to a field is kept with the contact as an `X-CONTACTS-KIT-COLUMN` line (see
`ParsedRecord.extra`) and written back, under its name, by an export in that format. No SQL
and no HTTP here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from contacts_kit.contact.cards import TAG_SEPARATOR, split_line
from contacts_kit.contact.labels import label_of
from contacts_kit.contact.schemas import NO_YEAR, ContactRecord, birthday_text

Flavour = Literal["google", "outlook"]
COLUMN = "X-CONTACTS-KIT-COLUMN"
"""The extra line that keeps a column no field holds:
`X-CONTACTS-KIT-COLUMN;X-NAME="Spouse":Jane`."""
_GOOGLE_ENTRY = re.compile(r"^(e-mail|phone|website|event|relation|im|address) (\d+) - (.+)$")
_STAR = "* "

# --- Google ------------------------------------------------------------------------------

GOOGLE_FIELDS = (
    "First Name",
    "Middle Name",
    "Last Name",
    "Name Prefix",
    "Name Suffix",
    "Nickname",
    "Organization Name",
    "Organization Title",
    "Organization Department",
    "Birthday",
    "Notes",
    "Labels",
)
_ADDRESS_PARTS = (
    ("Formatted", None),
    ("Street", "street"),
    ("City", "locality"),
    ("PO Box", None),
    ("Region", "region"),
    ("Postal Code", "postal_code"),
    ("Country", "country"),
    ("Extended Address", None),
)
_WORDS = {"home": "Home", "work": "Work", "mobile": "Mobile", "other": "Other"}


def google_label(label: str | None) -> str:
    """A label as Google writes it (`Mobile`, `Work`, or the text)."""
    return _WORDS.get(label or "", label or "")


def _label(text: str) -> str | None:
    """A Google label as a card's: `* Mobile` -> `mobile` (the star marks the primary)."""
    text = text.removeprefix(_STAR).strip()
    return text.lower() if text.lower() in _WORDS else (text or None)


@dataclass
class Sheet:
    """One row of either format as fields: what `ParsedRecord` takes."""

    data: dict[str, Any]
    extra: list[str]


def _kept_column(name: str, value: str) -> str:
    return f'{COLUMN};X-NAME="{name.replace(chr(34), "")}":{value.replace(chr(10), chr(92) + "n")}'


def _kept_columns(record: ContactRecord) -> dict[str, str]:
    """The columns an imported row had that no field holds, by name."""
    found = {}
    for line in record.extra:
        _, name, params, value = split_line(line)
        if name == COLUMN:
            column = params.partition('X-NAME="')[2].partition('"')[0]
            found[column] = value.replace("\\n", "\n")
    return found


def read_google(header: Sequence[str], row: Sequence[str], cell: Any) -> Sheet:
    """A row of a Google Contacts CSV (its current columns and the earlier `- Type` ones)."""
    data: dict[str, Any] = {}
    extra: list[str] = []
    entries: dict[tuple[str, int], dict[str, str]] = {}
    names: dict[str, str] = {}
    for index, column in enumerate(header):
        value = cell(row, index)
        if not value:
            continue
        entry = _GOOGLE_ENTRY.match(column.strip().lower())
        if entry and entry.group(1) in ("e-mail", "phone", "website", "event", "address"):
            kind, number, part = entry.groups()
            entries.setdefault((kind, int(number)), {})[part] = value
        elif column.strip() in GOOGLE_FIELDS or column.strip() in ("Given Name", "Family Name"):
            names[column.strip()] = value
        else:
            extra.append(_kept_column(column.strip(), value))
    first = names.get("First Name") or names.get("Given Name")
    last = names.get("Last Name") or names.get("Family Name")
    if first or last:
        data["first_name"] = first or last
        if first and last:
            data["last_name"] = last
    simple = {
        "Nickname": "nickname",
        "Organization Name": "organization",
        "Organization Title": "job_title",
        "Notes": "notes",
    }
    data |= {key: names[column] for column, key in simple.items() if column in names}
    if any(names.get(part) for part in ("Middle Name", "Name Prefix", "Name Suffix")):
        parts = [names.get(n, "") for n in ("Middle Name", "Name Prefix", "Name Suffix")]
        extra.append("N:" + ";".join(_escape(p) for p in [last or "", first or "", *parts]))
    if names.get("Organization Department"):
        org = _escape(names.get("Organization Name", ""))
        extra.append(f"ORG:{org};{_escape(names['Organization Department'])}")
    if names.get("Birthday"):
        data["birthday"] = names["Birthday"]
    if names.get("Labels"):
        tags = [t.strip() for t in names["Labels"].split(TAG_SEPARATOR.strip())]
        data["tags"] = [t for t in dict.fromkeys(tags) if t and not t.startswith("* ")]
    _google_entries(entries, data)
    return Sheet(data, extra)


def _google_entries(entries: dict[tuple[str, int], dict[str, str]], data: dict[str, Any]) -> None:
    for (kind, _), parts in sorted(entries.items(), key=lambda item: item[0][1]):
        label = _label(parts.get("label") or parts.get("type") or "")
        if kind == "address":
            address: dict[str, str | None] = {
                key: parts.get(part.lower()) or None for part, key in _ADDRESS_PARTS if key
            }
            if not any(address.values()) and parts.get("formatted"):
                address["street"] = parts["formatted"]
            data.setdefault("addresses", []).append(address | {"label": label})
            continue
        if kind == "event":
            if (label or "").lower() == "anniversary" and parts.get("value"):
                data["anniversary"] = parts["value"]
            continue
        key = {"e-mail": "emails", "phone": "phones", "website": "urls"}[kind]
        # Google writes several values of one label in one cell, split by " ::: ".
        for value in (parts.get("value") or "").split(TAG_SEPARATOR.strip()):
            if value.strip():
                data.setdefault(key, []).append({"value": value.strip(), "label": label})


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


def _n_parts(record: ContactRecord) -> list[str]:
    """Middle name, prefix and suffix of a card whose N held them (and still names it)."""
    for line in record.extra:
        _, name, _, value = split_line(line)
        if name == "N":
            parts = [
                p.replace("\\,", ",").replace("\\;", ";") for p in re.split(r"(?<!\\);", value)
            ]
            parts += [""] * (5 - len(parts))
            if parts[:2] == [record.last_name or "", record.first_name]:
                return parts[2:5]
    return ["", "", ""]


def _department(record: ContactRecord) -> str:
    for line in record.extra:
        _, name, _, value = split_line(line)
        if name == "ORG":
            parts = re.split(r"(?<!\\);", value)
            if len(parts) > 1 and parts[0] == _escape(record.organization or ""):
                return parts[1].replace("\\,", ",").replace("\\;", ";")
    return ""


def _phones(record: ContactRecord) -> list[dict[str, str | None]]:
    """The contact's phones, and the numbers an import kept as `TEL` lines (no valid phone
    number), so that a CSV export writes every number it was given."""
    phones = [{"value": entry["value"], "label": entry["label"]} for entry in record.phones]
    for line in record.extra:
        _, name, params, value = split_line(line)
        if name == "TEL":
            types = params.partition("TYPE=")[2].split(";")[0].split(",")
            phones.append({"value": value.replace("\\,", ","), "label": label_of(types)})
    return phones


def _day(day: date | None) -> str:
    return birthday_text(day) if day else ""


_COUNTED = (
    ("E-mail", "emails"),
    ("Phone", "phones"),
    ("Address", "addresses"),
    ("Website", "urls"),
)


def _google_header(most: dict[str, int], events: int) -> list[str]:
    """Google's columns, with `most[kind]` numbered groups of each kind."""
    header = list(GOOGLE_FIELDS)
    for kind in ("E-mail", "Phone"):
        header += [
            f"{kind} {n} - {p}" for n in range(1, most[kind] + 1) for p in ("Label", "Value")
        ]
    parts = ["Label", *(part for part, _ in _ADDRESS_PARTS)]
    header += [f"Address {n} - {p}" for n in range(1, most["Address"] + 1) for p in parts]
    header += [
        f"Website {n} - {p}" for n in range(1, most["Website"] + 1) for p in ("Label", "Value")
    ]
    return header + [f"Event {n} - {p}" for n in range(1, events + 1) for p in ("Label", "Value")]


def _google_cells(record: ContactRecord) -> dict[str, str]:
    """A contact's cells in Google's columns, by column."""
    middle, prefix, suffix = _n_parts(record)
    cells = {
        "First Name": record.first_name,
        "Middle Name": middle,
        "Last Name": record.last_name or "",
        "Name Prefix": prefix,
        "Name Suffix": suffix,
        "Nickname": record.nickname or "",
        "Organization Name": record.organization or "",
        "Organization Title": record.job_title or "",
        "Organization Department": _department(record),
        "Birthday": _day(record.birthday),
        "Notes": record.notes or "",
        "Labels": TAG_SEPARATOR.join([*record.tags, "* myContacts"]),
    }
    lists: tuple[tuple[str, Sequence[Mapping[str, Any]]], ...] = (
        ("E-mail", record.emails),
        ("Phone", _phones(record)),
        ("Website", record.urls),
    )
    for kind, entries in lists:
        for n, entry in enumerate(entries, start=1):
            star = _STAR if n == 1 and kind != "Website" else ""
            cells[f"{kind} {n} - Label"] = star + google_label(entry["label"])
            cells[f"{kind} {n} - Value"] = entry["value"] or ""
    for n, address in enumerate(record.addresses, start=1):
        cells[f"Address {n} - Label"] = google_label(address["label"])
        for part, key in _ADDRESS_PARTS:
            if key:
                cells[f"Address {n} - {part}"] = address[key] or ""  # type: ignore[literal-required]
    if record.anniversary:
        cells |= {"Event 1 - Label": "Anniversary", "Event 1 - Value": _day(record.anniversary)}
    return cells | _kept_columns(record)


class Layout:
    """The columns of a Google or Outlook CSV, which depend on every contact (how many
    numbered groups, which kept columns): `learn` them all first, then write each `row`."""

    def __init__(self, flavour: Flavour) -> None:
        self.flavour = flavour
        self.most = dict.fromkeys((kind for kind, _ in _COUNTED), 0)
        self.events = 0
        self.seen: dict[str, None] = {}
        """Columns past the format's own, in the order first met."""

    def _cells(self, record: ContactRecord) -> dict[str, str]:
        return _google_cells(record) if self.flavour == "google" else _outlook_cells(record)

    def learn(self, records: Iterable[ContactRecord]) -> None:
        """Take in what columns `records` need."""
        for record in records:
            if self.flavour == "google":
                for kind, key in _COUNTED:
                    count = len(_phones(record) if key == "phones" else getattr(record, key))
                    self.most[kind] = max(self.most[kind], count)
                self.events = max(self.events, 1 if record.anniversary else 0)
                self.seen |= dict.fromkeys(_kept_columns(record))
            else:
                self.seen |= dict.fromkeys(_outlook_cells(record))

    def header(self) -> list[str]:
        """Every column, the format's own first."""
        own = (
            _google_header(self.most, self.events)
            if self.flavour == "google"
            else list(OUTLOOK_COLUMNS)
        )
        known = set(own)
        return own + [column for column in self.seen if column not in known]

    def rows(self, records: Iterable[ContactRecord], header: Sequence[str]) -> list[list[str]]:
        """A row per contact, in `header`'s columns."""
        rows = []
        for record in records:
            cells = self._cells(record)
            rows.append([cells.get(column, "") for column in header])
        return rows


# --- Outlook -----------------------------------------------------------------------------

OUTLOOK_PHONES = {
    "Home Phone": "home",
    "Home Phone 2": "home",
    "Business Phone": "work",
    "Business Phone 2": "work",
    "Mobile Phone": "mobile",
    "Car Phone": "car",
    "Other Phone": "other",
    "Primary Phone": "main",
    "Pager": "pager",
    "Business Fax": "fax,work",
    "Home Fax": "fax,home",
    "Other Fax": "fax,other",
}
OUTLOOK_EMAILS = ("E-mail Address", "E-mail 2 Address", "E-mail 3 Address")
OUTLOOK_ADDRESSES = {"Business": "work", "Home": "home", "Other": "other"}
_OUTLOOK_PARTS = (
    ("Street", "street"),
    ("City", "locality"),
    ("State", "region"),
    ("Postal Code", "postal_code"),
    ("Country/Region", "country"),
)
OUTLOOK_URLS = {"Web Page": None, "Personal Web Page": "home"}
OUTLOOK_FIELDS = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Nickname": "nickname",
    "Company": "organization",
    "Job Title": "job_title",
    "Notes": "notes",
}
OUTLOOK_COLUMNS = (
    "Title",
    "First Name",
    "Middle Name",
    "Last Name",
    "Suffix",
    "Nickname",
    "Company",
    "Department",
    "Job Title",
    *(f"{kind} {part}" for kind in OUTLOOK_ADDRESSES for part, _ in _OUTLOOK_PARTS),
    *OUTLOOK_PHONES,
    *OUTLOOK_EMAILS,
    *OUTLOOK_URLS,
    "Birthday",
    "Anniversary",
    "Notes",
    "Categories",
)


def is_outlook(header: Iterable[str]) -> bool:
    """Whether a header is Outlook's: its fixed phone and address columns."""
    names = {name.strip() for name in header}
    return "E-mail Address" in names and bool(
        names & {"Mobile Phone", "Business Phone", "Home Street", "Business Street"}
    )


def is_google(header: Iterable[str]) -> bool:
    """Whether a header is Google's: numbered entry columns (`E-mail 1 - Value`)."""
    return any(_GOOGLE_ENTRY.match(name.strip().lower()) for name in header)


def _outlook_date(text: str) -> str:
    """Outlook's `M/D/YYYY` (`0/0/00` for none) as the API's `YYYY-MM-DD`."""
    found = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2,4})", text.strip())
    if not found:
        return text
    month, day, year = (int(part) for part in found.groups())
    if not year:
        return ""
    try:
        written = date(year, month, day)
    except ValueError:
        return text
    return f"--{written:%m-%d}" if year == NO_YEAR else written.isoformat()


def read_outlook(header: Sequence[str], row: Sequence[str], cell: Any) -> Sheet:
    """A row of an Outlook CSV."""
    data: dict[str, Any] = {}
    extra: list[str] = []
    addresses: dict[str, dict[str, str | None]] = {}
    names: dict[str, str] = {}
    for index, column in enumerate(header):
        column, value = column.strip(), cell(row, index)
        if not value:
            continue
        kind, _, part = column.partition(" ")
        base = re.sub(r" \d+$", "", column)  # an export's overflow: `E-mail 4 Address`
        if column in OUTLOOK_FIELDS:
            data[OUTLOOK_FIELDS[column]] = value
        elif column in OUTLOOK_EMAILS or re.fullmatch(r"E-mail \d+ Address", column):
            data.setdefault("emails", []).append({"value": value, "label": None})
        elif column in OUTLOOK_PHONES or base in OUTLOOK_PHONES:
            phone = OUTLOOK_PHONES.get(column) or OUTLOOK_PHONES[base]
            data.setdefault("phones", []).append({"value": value, "label": phone})
        elif column in OUTLOOK_URLS or base in OUTLOOK_URLS:
            url = OUTLOOK_URLS.get(column, OUTLOOK_URLS.get(base))
            data.setdefault("urls", []).append({"value": value, "label": url})
        elif kind in OUTLOOK_ADDRESSES and part in dict(_OUTLOOK_PARTS):
            addresses.setdefault(kind, {})[dict(_OUTLOOK_PARTS)[part]] = value
        elif column in ("Birthday", "Anniversary"):
            if _outlook_date(value):
                data[column.lower()] = _outlook_date(value)
        elif column == "Categories":
            data["tags"] = list(dict.fromkeys(t.strip() for t in value.split(";") if t.strip()))
        elif column in ("Title", "Middle Name", "Suffix", "Department"):
            names[column] = value
        else:
            extra.append(_kept_column(column, value))
    for kind, address in addresses.items():
        parts = {key: address.get(key) for _, key in _OUTLOOK_PARTS}
        data.setdefault("addresses", []).append(parts | {"label": OUTLOOK_ADDRESSES[kind]})
    if "first_name" not in data and "last_name" in data:
        data["first_name"] = data.pop("last_name")
    if any(names.get(n) for n in ("Title", "Middle Name", "Suffix")):
        n = [data.get("last_name", ""), data.get("first_name", "")]
        n += [names.get(name, "") for name in ("Middle Name", "Title", "Suffix")]
        extra.append("N:" + ";".join(_escape(p) for p in n))
    if names.get("Department"):
        extra.append(f"ORG:{_escape(data.get('organization', ''))};{_escape(names['Department'])}")
    return Sheet(data, extra)


def _us_date(day: date | None) -> str:
    return f"{day.month}/{day.day}/{day.year}" if day else ""


def _outlook_cells(record: ContactRecord) -> dict[str, str]:
    middle, title, suffix = _n_parts(record)
    cells = {
        "Title": title,
        "First Name": record.first_name,
        "Middle Name": middle,
        "Last Name": record.last_name or "",
        "Suffix": suffix,
        "Nickname": record.nickname or "",
        "Company": record.organization or "",
        "Department": _department(record),
        "Job Title": record.job_title or "",
        "Birthday": _us_date(record.birthday),
        "Anniversary": _us_date(record.anniversary),
        "Notes": record.notes or "",
        "Categories": ";".join(record.tags),
    }
    _place(cells, OUTLOOK_EMAILS, [entry["value"] for entry in record.emails], "E-mail {} Address")
    by_label: dict[str, list[str]] = {}
    for phone in _phones(record):
        by_label.setdefault(phone["label"] or "other", []).append(phone["value"] or "")
    for label, numbers in by_label.items():
        columns = [c for c, kind in OUTLOOK_PHONES.items() if kind == label] or ["Other Phone"]
        _place(cells, columns, numbers, columns[0] + " {}")
    for url in record.urls:
        column = "Personal Web Page" if url["label"] == "home" else "Web Page"
        _place(cells, [column], [url["value"]], column + " {}")
    for address in record.addresses:
        kind = next(
            (k for k, label in OUTLOOK_ADDRESSES.items() if label == address["label"]), "Other"
        )
        prefix, number = kind, 1
        while any(cells.get(f"{prefix} {part}") for part, _ in _OUTLOOK_PARTS):
            number += 1
            prefix = f"{kind} {number}"
        for part, key in _OUTLOOK_PARTS:
            cells[f"{prefix} {part}"] = address[key] or ""  # type: ignore[literal-required]
    return cells | _kept_columns(record)


def _place(
    cells: dict[str, str], columns: Sequence[str], values: Sequence[str], overflow: str
) -> None:
    """`values` into the free `columns` in order, the rest into numbered `overflow` ones."""
    free = [column for column in columns if not cells.get(column)]
    number = len(columns)
    for value in values:
        if free:
            cells[free.pop(0)] = value
            continue
        number += 1
        while cells.get(overflow.format(number)):
            number += 1
        cells[overflow.format(number)] = value


def read_row(flavour: Flavour, header: Sequence[str], row: Sequence[str], cell: Any) -> Sheet:
    """A row of Google's or Outlook's CSV."""
    return (
        read_google(header, row, cell) if flavour == "google" else read_outlook(header, row, cell)
    )
