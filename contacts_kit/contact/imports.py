"""Reading address books for import: vCard 2.1, 3.0 and 4.0 (with vobject) and the CSV of
Google Contacts, Outlook and contacts-kit's own export (with the csv module). No SQL and no
HTTP here: text in, one `ParsedRecord` per card or row out, each with what it could not read.

Every email, phone, address and URL of a card becomes an entry of its list, with its label;
what a contact has no field for (`X-...`, `IMPP`, `GEO`, `RELATED`, an inline photo, ...) is
kept as the card's own content lines (`ParsedRecord.extra`), which the export writes back."""

from __future__ import annotations

import csv
import io
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import vobject

from contacts_kit.contact import sheets
from contacts_kit.contact.cards import FAVORITE, TAG_SEPARATOR, split_line
from contacts_kit.contact.errors import ImportTooLarge, ImportUnreadable
from contacts_kit.contact.labels import label_of

ImportFormat = Literal["vcard", "csv"]
_BOM = "\ufeff"


@dataclass
class ParsedRecord:
    """One card or row: where it starts, the contact's fields as `POST /contacts` takes
    them, and what could not be read (a record with errors is not imported)."""

    line: int
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    """Content lines of the properties the contact has no field for, unfolded."""
    photo_url: str | None = None
    """A photo the card links to (`PHOTO` as a URI)."""


# A multi-byte UTF-8 sequence: a file holding one is UTF-8, whatever else it holds.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def decode(raw: bytes) -> str:
    """The text of an uploaded file: UTF-8 (a BOM dropped), else Windows-1252 (what Outlook
    writes), with any line endings. UTF-8 with a broken byte is refused, never read as
    Windows-1252 (`ZoÃ«`): `ImportUnreadable` says where."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _UTF8_SEQUENCE.search(raw):
            raise ImportUnreadable(
                f"The file is UTF-8 but for the byte at offset {exc.start}: save it as UTF-8 "
                "again and send that."
            ) from exc
        text = raw.decode("cp1252", errors="replace")
    return text.removeprefix(_BOM)


def parse(raw: bytes, max_records: int) -> list[ParsedRecord]:
    """The records of an uploaded file, every one read (CPU work: run it off the event
    loop); `ImportUnreadable` for a file of neither format or one the CSV reader refuses,
    `ImportTooLarge` past `max_records`."""
    text = decode(raw)
    kind = sniff(text)
    if kind is None:
        raise ImportUnreadable()
    try:
        records = list(read(text, kind))
    except csv.Error as exc:
        raise ImportUnreadable(f"The CSV file could not be read: {exc}.") from exc
    if len(records) > max_records:
        raise ImportTooLarge(
            f"The file has {len(records)} records; an import takes at most {max_records}: split it."
        )
    if not records:
        raise ImportUnreadable("The file holds no contact.")
    return records


def sniff(text: str) -> ImportFormat | None:
    """vCard or CSV, by the first line: a vCard starts with `BEGIN:VCARD`, a CSV with a
    header naming a name column. None for anything else, whatever type the upload declared
    (that says what the client hopes; the text says what it is)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.upper() == "BEGIN:VCARD":
        return "vcard"
    if _columns(next(csv.reader([first]), [])):
        return "csv"
    return None


def _merge_other(data: dict[str, Any], label: str, values: list[str]) -> None:
    if values:
        extra = f"{label}: {', '.join(values)}"
        data["notes"] = f"{data['notes']}\n{extra}" if data.get("notes") else extra


def _birthday(text: str, data: dict[str, Any], key: str = "birthday") -> None:
    """A vCard or CSV birthday: `1815-12-10`, `18151210`, `12/10/1815` (Outlook), with or
    without a time; `--1210` or `--12-10` without a year (Apple's 3.0 writes the year 1604
    with `X-APPLE-OMIT-YEAR`, which is how contacts-kit stores it too)."""
    value = text.strip().split("T")[0]
    if not value or value in ("0/0/00", "0000-00-00"):
        return
    digits = value.replace("-", "")
    if value.startswith("--"):
        data[key] = value  # --MMDD or --MM-DD: the API takes both
        return
    if re.fullmatch(r"\d{8}", digits):
        data[key] = f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
        return
    us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
    if us:
        month, day, year = (int(part) for part in us.groups())
        data[key] = date(year, month, day).isoformat() if _valid(year, month, day) else value
        return
    data[key] = value  # validation explains what is wrong with it


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


# --- vCard -------------------------------------------------------------------------------


_LINE_END = re.compile(r"\r\n|\r|\n")


def _vcard_blocks(text: str) -> Iterator[tuple[int, str | None, str]]:
    """(first line number, the card's text or None, a problem) per BEGIN:VCARD ... END:VCARD;
    lines outside any card are a problem of their own."""
    # Only CR and LF end a line of a vCard (RFC 6350, 3.2): U+2028 or U+0085 inside a value
    # stays in it, where `str.splitlines` would start a line (and a property) there.
    lines = _LINE_END.split(text)
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        marker = line.strip().upper()
        if marker == "BEGIN:VCARD":
            if start is not None:
                yield start, None, "a card that never ends (no END:VCARD before the next one)"
            start = number
        elif marker == "END:VCARD":
            if start is None:
                yield number, None, "END:VCARD without BEGIN:VCARD"
                continue
            yield start, "\r\n".join(lines[start - 1 : number]) + "\r\n", ""
            start = None
        elif start is None and marker:
            yield number, None, "text outside of any BEGIN:VCARD ... END:VCARD"
    if start is not None:
        yield start, None, "a card that never ends (no END:VCARD)"


_STRUCTURED = ("N", "ADR", "ORG")


def _plain_line(head: str, encoded: str) -> str:
    """A vCard 2.1 quoted-printable line as a plain one: decoded in its CHARSET, escaped as
    vCard text (vobject cuts such values at their first comma)."""
    params = [p for p in head.split(";")[1:] if p.split("=")[0].upper() not in _QP_PARAMS]
    params = [p for p in params if p.upper() != "QUOTED-PRINTABLE"]
    charset = next(
        (p.split("=", 1)[1] for p in head.split(";")[1:] if p.upper().startswith("CHARSET=")),
        "utf-8",
    )
    try:
        text = quopri.decodestring(encoded.encode("ascii", "replace")).decode(charset, "replace")
    except LookupError:  # an unknown charset
        text = quopri.decodestring(encoded.encode("ascii", "replace")).decode("utf-8", "replace")
    name = head.split(";")[0]
    text = text.replace("\\", "\\\\").replace("\r\n", "\n").replace("\n", "\\n")
    if name.split(".")[-1].upper() not in _STRUCTURED:
        text = text.replace(";", "\\;")
    text = text.replace(",", "\\,")
    return ";".join([name, *params]) + ":" + text


_QP_PARAMS = ("ENCODING", "CHARSET")


_SINGLE_TEXT = ("NOTE", "FN", "TITLE", "ROLE")
"""Text properties that hold one value: a bare comma in them is text (vobject would cut
the value there, so it is escaped first)."""
_BARE_COMMA = re.compile(r"(?<!\\),")
_BARE_SEMICOLON = re.compile(r"(?<!\\);")


def _readable(block: str) -> str:
    """A card as vobject reads it whole: quoted-printable lines (vCard 2.1) joined where a
    line ends in `=` and decoded; bare commas in one-value text escaped (and, in 2.1, where
    nothing is escaped, bare semicolons too)."""
    lines = block.split("\r\n")
    version_21 = any(line.strip().upper() == "VERSION:2.1" for line in lines)
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        head, colon, value = line.partition(":")
        if colon and "QUOTED-PRINTABLE" in head.upper():
            while value.endswith("=") and index + 1 < len(lines):
                index += 1
                value = value[:-1] + lines[index].lstrip(" \t")
            line = _plain_line(head, value)
        elif colon and head.split(";")[0].split(".")[-1].upper() in _SINGLE_TEXT:
            value = _BARE_COMMA.sub("\\,", value)
            if version_21:
                value = _BARE_SEMICOLON.sub("\\;", value)
            line = f"{head}:{value}"
        out.append(line)
        index += 1
    return "\r\n".join(out)


def _params(line: Any) -> set[str]:
    """A property's parameters, flattened and upper-cased: `TYPE=pref`, `PREF=1` and a
    vCard 2.1 bare `PREF` all give `PREF`."""
    found = {str(name).upper() for name in getattr(line, "singletonparams", [])}
    for name, values in line.params.items():
        found.add(str(name).upper())
        found.update(str(value).upper() for value in values)
    return found


def _types(line: Any) -> list[str]:
    """A property's TYPE values (`TYPE=work,fax`, `TYPE=work;TYPE=fax`, 2.1's bare `WORK`)."""
    types = [str(name) for name in getattr(line, "singletonparams", [])]
    for value in line.params.get("TYPE", []):
        types += str(value).split(",")
    return types


def _text_value(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(part) for part in value if part)
    return str(value or "")


def _name(card: Any, data: dict[str, Any]) -> bool:
    """The first and last name; whether the card's N or FN holds more than them (a middle
    name, a prefix, a full name written otherwise)."""
    given = family = ""
    more = False
    if "n" in card.contents:
        name = card.contents["n"][0].value
        given = _text_value(getattr(name, "given", "")).strip()
        family = _text_value(getattr(name, "family", "")).strip()
        more = any(
            _text_value(getattr(name, part, "")) for part in ("additional", "prefix", "suffix")
        )
    if not given and "fn" in card.contents:
        full = str(card.contents["fn"][0].value).strip()
        if family and full.endswith(family):
            full = full[: -len(family)].strip()
        given = full or family
        family = "" if given == family else family
    if given:
        data["first_name"] = given
    if family:
        data["last_name"] = family
    if "fn" in card.contents:
        more = more or str(card.contents["fn"][0].value).strip() != f"{given} {family}".strip()
    return more


def _phone(value: str) -> str:
    return value.removeprefix("tel:").removeprefix("TEL:")


def _ordered(lines: list[Any]) -> list[Any]:
    """Lines with a value, the preferred one (PREF) first, the others in card order."""
    lines = [line for line in lines if _text_value(line.value).strip()]
    preferred = [line for line in lines if "PREF" in _params(line)][:1]
    return preferred + [line for line in lines if line not in preferred]


def _address(line: Any, label: str | None) -> dict[str, str | None]:
    value = line.value
    street = "\n".join(
        part
        for part in (
            _text_value(getattr(value, name, "")).strip() for name in ("box", "extended", "street")
        )
        if part
    )
    parts = {
        "street": street,
        "locality": _text_value(getattr(value, "city", "")).strip(),
        "region": _text_value(getattr(value, "region", "")).strip(),
        "postal_code": _text_value(getattr(value, "code", "")).strip(),
        "country": _text_value(getattr(value, "country", "")).strip(),
    }
    return {name: part or None for name, part in parts.items()} | {"label": label}


# Properties read into fields (or regenerated on export): never kept as extra lines.
_FIELDS = frozenset(
    {
        "VERSION",
        "PRODID",
        "REV",
        "N",
        "FN",
        "EMAIL",
        "TEL",
        "ADR",
        "URL",
        "ORG",
        "NICKNAME",
        "TITLE",
        "BDAY",
        "ANNIVERSARY",
        "X-ANNIVERSARY",
        "X-MS-ANNIVERSARY",
        "NOTE",
        "CATEGORIES",
        FAVORITE,
        "BEGIN",
        "END",
    }
)
_LISTED = ("EMAIL", "TEL", "ADR", "URL")
_URI = re.compile(r"^https?://", re.IGNORECASE)
_MAX_PHOTO_URL = 1024  # the column's size: a longer link is kept as an extra line


def _unfolded(block: str) -> list[str]:
    """The content lines of a card, unfolded (RFC 6350, 3.2)."""
    lines: list[str] = []
    for line in block.split("\r\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        elif line.strip():
            lines.append(line)
    return lines


def _labels(card: Any) -> dict[str, str]:
    """Apple's `X-ABLabel` of each group."""
    return {
        str(line.group).lower(): str(line.value)
        for line in card.getChildren()
        if line.name.upper() == "X-ABLABEL" and line.group
    }


def _lists(card: Any, data: dict[str, Any]) -> set[str]:
    """The emails, phones, addresses and URLs, each with its label; the groups they used."""
    labels = _labels(card)
    used: set[str] = set()
    for name, key in (
        ("email", "emails"),
        ("tel", "phones"),
        ("adr", "addresses"),
        ("url", "urls"),
    ):
        entries = []
        for line in _ordered(card.contents.get(name, [])):
            group = str(line.group).lower() if line.group else ""
            used.add(group)
            label = label_of(_types(line), labels.get(group))
            if name == "adr":
                entries.append(_address(line, label))
                continue
            value = str(line.value).strip()
            entries.append({"value": _phone(value) if name == "tel" else value, "label": label})
        if entries:
            data[key] = entries
    return used


def _anniversary(card: Any, data: dict[str, Any]) -> set[str]:
    """ANNIVERSARY (4.0), X-ANNIVERSARY (Evolution, Thunderbird), X-MS-ANNIVERSARY (Outlook)
    or Apple's X-ABDATE labelled as one; the group of Apple's, when it was read."""
    for name in ("anniversary", "x-anniversary", "x-ms-anniversary"):
        if name in card.contents:
            _birthday(str(card.contents[name][0].value), data, "anniversary")
            return set()
    labels = _labels(card)
    for line in card.contents.get("x-abdate", []):
        group = str(line.group).lower() if line.group else ""
        if label_of([], labels.get(group)) == "anniversary":
            _birthday(str(line.value), data, "anniversary")
            return {group}
    return set()


def _extra(
    record: ParsedRecord, block: str, used: set[str], more_name: bool, organization: bool
) -> None:
    """Keep the lines of what the contact has no field for: unknown properties, a second
    nickname or title, an inline photo, the N/FN/ORG that held more than the fields do."""
    seen: set[str] = set()
    for line in _unfolded(block):
        group, name, params, value = split_line(line)
        repeated = name in seen
        seen.add(name)
        linked = (
            name == "PHOTO" and _URI.match(value) and "ENCODING" not in params.upper()
        ) and len(value) <= _MAX_PHOTO_URL
        if linked and record.photo_url is None:
            record.photo_url = value
            continue
        labelled = name in ("X-ABLABEL", "X-ABDATE") and group.lower() in used
        more = (name in ("N", "FN") and more_name) or (
            name == "ORG" and organization and len([p for p in value.split(";") if p]) > 1
        )
        if more or (repeated and name in _SINGLE) or (name not in _FIELDS and not labelled):
            record.extra.append(line)


_SINGLE = ("NICKNAME", "TITLE", "BDAY", "NOTE", "ANNIVERSARY", "X-ANNIVERSARY", "ORG")
"""Fields of one value: a second line of them is kept as extra."""


def _card(record: ParsedRecord, card: Any, block: str) -> None:
    data = record.data
    contents = card.contents
    more_name = _name(card, data)
    used = _lists(card, data) | _anniversary(card, data)
    for name, key in (("nickname", "nickname"), ("title", "job_title")):
        if name in contents and _text_value(contents[name][0].value).strip():
            data[key] = _text_value(contents[name][0].value).strip()
    if "org" in contents:
        units = contents["org"][0].value
        units = units if isinstance(units, list) else [units]
        if units and str(units[0]).strip():
            data["organization"] = str(units[0]).strip()
    if "note" in contents:
        notes = str(contents["note"][0].value)
        if notes:
            data["notes"] = notes
    if "bday" in contents:
        _birthday(str(contents["bday"][0].value), data)
    tags: list[str] = []
    for line in contents.get("categories", []):
        values = line.value if isinstance(line.value, list) else str(line.value).split(",")
        tags += [str(value).strip() for value in values if str(value).strip()]
    if tags:
        data["tags"] = list(dict.fromkeys(tags))
    favorite = contents.get(FAVORITE.lower())
    if favorite and str(favorite[0].value).strip().upper() == "TRUE":
        data["favorite"] = True
    _extra(record, block, used - {""}, more_name, "organization" in data)


def read_vcards(text: str) -> Iterator[ParsedRecord]:
    """Every card of a vCard file, in order; one that cannot be read is a record with an
    error, and the next one is read all the same."""
    for line, block, problem in _vcard_blocks(text):
        record = ParsedRecord(line)
        if block is None:
            record.errors.append(problem)
            yield record
            continue
        try:
            readable = _readable(block)
            card = vobject.readOne(readable, ignoreUnreadable=False)
            _card(record, card, readable)
        except Exception as exc:  # vobject raises anything from a malformed card
            record.errors.append(f"unreadable vCard: {str(exc).strip() or type(exc).__name__}")
        yield record


# --- CSV ---------------------------------------------------------------------------------

_CSV_FIELDS: dict[str, tuple[str, ...]] = {
    "first_name": ("first name", "given name"),
    "last_name": ("last name", "family name", "surname"),
    "email": ("e-mail address", "e-mail 1 - value", "email", "email address", "e-mail"),
    "phone": (
        "phone",
        "mobile phone",
        "phone 1 - value",
        "primary phone",
        "home phone",
        "business phone",
    ),
    "birthday": ("birthday",),
    "notes": ("notes", "note"),
    "favorite": ("favorite", "favourite"),
    "tags": ("tags", "labels", "group membership", "categories"),
}
_OTHER_EMAILS = re.compile(r"^e-mail [2-9] - value$|^e-mail [23] address$")
_OTHER_PHONES = re.compile(r"^phone [2-9] - value$")
_GUARD = re.compile(r"^'[=+\-@\t\r]")


def _columns(header: list[str]) -> dict[str, int]:
    """Which column holds each field (the first of the known names); empty unless a name
    column is among them."""
    names = [name.strip().lower() for name in header]
    found: dict[str, int] = {}
    for field_name, aliases in _CSV_FIELDS.items():
        for alias in aliases:
            if alias in names:
                found[field_name] = names.index(alias)
                break
    return found if "first_name" in found or "last_name" in found else {}


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    value = row[index].strip()
    return value[1:] if _GUARD.match(value) else value  # the export's formula guard


def _tags(text: str) -> list[str]:
    # Google: "Family ::: * myContacts"; "* " marks its system groups. Outlook: "a;b".
    parts = text.split(TAG_SEPARATOR.strip()) if TAG_SEPARATOR.strip() in text else text.split(";")
    tags = [part.strip() for part in parts]
    return list(dict.fromkeys(tag for tag in tags if tag and not tag.startswith("* ")))


def _sheet_rows(reader: Any, header: list[str], flavour: sheets.Flavour) -> Iterator[ParsedRecord]:
    """The rows of Google's or Outlook's CSV (`contact.sheets`)."""
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        record = ParsedRecord(reader.line_num)
        sheet = sheets.read_row(flavour, header, row, _cell)
        record.data, record.extra = sheet.data, sheet.extra
        for key in ("birthday", "anniversary"):
            if key in record.data:
                _birthday(record.data.pop(key), record.data, key)
        yield record


def read_csv(text: str) -> Iterator[ParsedRecord]:
    """Every row of a CSV file after its header, in order (`line` is the row's line):
    Google's and Outlook's columns (`contact.sheets`), or contacts-kit's own export's."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    if sheets.is_google(header) or sheets.is_outlook(header):
        flavour: sheets.Flavour = "google" if sheets.is_google(header) else "outlook"
        yield from _sheet_rows(reader, header, flavour)
        return
    columns = _columns(header)
    lowered = [name.strip().lower() for name in header]
    extra_emails = [i for i, name in enumerate(lowered) if _OTHER_EMAILS.match(name)]
    extra_phones = [i for i, name in enumerate(lowered) if _OTHER_PHONES.match(name)]
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        record = ParsedRecord(reader.line_num)
        data = record.data
        for name in ("first_name", "last_name", "email", "phone", "notes"):
            value = _cell(row, columns.get(name))
            if value:
                data[name] = value
        if "first_name" not in data and "last_name" in data:
            data["first_name"] = data.pop("last_name")
        birthday = _cell(row, columns.get("birthday"))
        if birthday:
            _birthday(birthday, data)
        if _cell(row, columns.get("favorite")).lower() in ("true", "yes", "1"):
            data["favorite"] = True
        tags = _tags(_cell(row, columns.get("tags")))
        if tags:
            data["tags"] = tags
        _merge_other(data, "Other emails", [v for i in extra_emails if (v := _cell(row, i))])
        _merge_other(data, "Other phones", [v for i in extra_phones if (v := _cell(row, i))])
        yield record


def read(text: str, kind: ImportFormat) -> Iterator[ParsedRecord]:
    """The records of a file of either format."""
    return read_vcards(text) if kind == "vcard" else read_csv(text)
