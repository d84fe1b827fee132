"""Contacts folded into one, and back: what the merged contact holds, and what its undo
writes. Plain values in, plain values out: `ContactService` reads and writes the rows.

A merge keeps two snapshots of the primary (`snapshot`): its fields before and right after.
The undo writes the first back when the contact still holds the second; when it changed
since, `?force=true` keeps those changes (`undone`): a field changed since keeps its value,
and a list keeps the entries added since and loses the ones removed since.

The photo goes as one piece (`Photo`: the link, the stored file's key, an imported card's
inline `PHOTO` lines). When the merged contact takes another's photo, the two swap: the
merged-away contact keeps the primary's old photo in the trash, so that no file is left
without a contact (the purge removes it with the contact), and the undo swaps them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from contacts_kit.contact.cards import split_line
from contacts_kit.contact.schemas import (
    MAX_ENTRIES,
    MAX_TAGS_PER_CONTACT,
    ContactRecord,
)
from contacts_kit.contact.text import fold, tag_key
from contacts_kit.errors import InvalidField

_SCALARS = (
    "first_name",
    "last_name",
    "nickname",
    "organization",
    "job_title",
    "birthday",
    "anniversary",
    "notes",
    "favorite",
)
_LISTS = ("emails", "phones", "addresses", "urls", "tags")
_PHOTO = ("photo_url", "photo_key", "photo_lines")
SNAPSHOT = (*_SCALARS, *_LISTS, "extra", *_PHOTO)
"""The fields of a snapshot: what a merge may change on the primary."""
_DATES = ("birthday", "anniversary")
MAX_NOTES = 2000
# Properties a card has once: the merged contact keeps the primary's, not the others'.
_ONCE = frozenset(
    {"UID", "N", "FN", "ORG", "KIND", "REV", "PRODID", "NICKNAME", "TITLE", "BDAY", "NOTE"}
    | {"ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY", "PHOTO"}
)


def _is_photo(line: str) -> bool:
    return split_line(line)[1] == "PHOTO"


@dataclass(frozen=True, slots=True)
class Photo:
    """A contact's photo, whichever way it has one."""

    url: str | None
    key: str | None
    lines: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.url is not None or bool(self.lines)

    def columns(self, extra: Sequence[str]) -> dict[str, Any]:
        """The columns of a contact with `extra` (its other lines) that has this photo."""
        kept = [line for line in extra if not _is_photo(line)]
        return {"photo_url": self.url, "photo_key": self.key, "extra": kept + list(self.lines)}


@dataclass(frozen=True, slots=True)
class MergedCard:
    """A contact as a merge reads it: its record and its stored photo's key."""

    record: ContactRecord
    photo_key: str | None

    @property
    def photo(self) -> Photo:
        lines = tuple(line for line in self.record.extra if _is_photo(line))
        return Photo(self.record.photo_url, self.photo_key, lines)


def snapshot(card: MergedCard) -> dict[str, Any]:
    """The fields of `SNAPSHOT` as JSON values."""
    record = card.record
    values: dict[str, Any] = {name: getattr(record, name) for name in (*_SCALARS, *_LISTS)}
    values["last_name"] = record.last_name or ""
    for day in _DATES:
        values[day] = None if values[day] is None else values[day].isoformat()
    photo = card.photo
    values["extra"] = [line for line in record.extra if not _is_photo(line)]
    values |= {"photo_url": photo.url, "photo_key": photo.key, "photo_lines": list(photo.lines)}
    return values


def photo_of(values: Mapping[str, Any]) -> Photo:
    """The photo a snapshot holds."""
    return Photo(values["photo_url"], values["photo_key"], tuple(values["photo_lines"]))


def columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a snapshot writes, as `ContactService` takes them (the primaries and the
    dates' keys are derived there)."""
    written = {name: values[name] for name in (*_SCALARS, *_LISTS)}
    for day in _DATES:
        written[day] = None if values[day] is None else date.fromisoformat(values[day])
    written |= photo_of(values).columns(values["extra"])
    return written


def _entry_key(name: str, entry: Mapping[str, Any]) -> Any:
    if name == "addresses":
        parts = ("street", "locality", "region", "postal_code", "country")
        return tuple(fold(entry.get(part) or "") for part in parts)
    return entry["value"]


def _union(name: str, lists: Sequence[Sequence[Any]]) -> list[Any]:
    """The entries of every list, in order, each once (the first one's label kept)."""
    seen: set[Any] = set()
    union = []
    for entries in lists:
        for entry in entries:
            key = tag_key(entry) if name == "tags" else _entry_key(name, entry)
            if key not in seen:
                seen.add(key)
                union.append(entry)
    return union


def _first(entries: list[Any], chosen: Sequence[Any]) -> list[Any]:
    """`entries` with the first of `chosen` (the contact `fields` named) moved to the front."""
    if not chosen:
        return entries
    lead = next(entry for entry in entries if entry["value"] == chosen[0]["value"])
    return [lead, *(entry for entry in entries if entry is not lead)]


def _joined_notes(cards: Sequence[MergedCard]) -> str | None:
    notes: list[str] = []
    for card in cards:
        note = (card.record.notes or "").strip()
        if note and note not in notes:
            notes.append(note)
    joined = "\n\n".join(notes) or None
    if joined is not None and len(joined) > MAX_NOTES:
        raise InvalidField(
            "fields.notes",
            f"the joined notes would be {len(joined)} characters, at most {MAX_NOTES}: "
            "choose the contact whose notes the merged one keeps",
            None,
        )
    return joined


def _extra(cards: Sequence[MergedCard]) -> list[str]:
    """The primary's other lines, then the others' that are new, but for the properties a
    card has once."""
    lines = [line for line in cards[0].record.extra if not _is_photo(line)]
    for card in cards[1:]:
        for line in card.record.extra:
            if split_line(line)[1] not in _ONCE and line not in lines:
                lines.append(line)
    return lines


def _photo_source(cards: Sequence[MergedCard], chosen: int | None) -> MergedCard:
    if chosen is not None:
        return next(card for card in cards if card.record.id == chosen)
    return next((card for card in cards if card.photo), cards[0])


@dataclass(frozen=True, slots=True)
class Merged:
    """What a merge writes: the primary's new snapshot, and the contact whose photo it took
    (None: its own), which gets the primary's old photo."""

    values: dict[str, Any]
    photo_from: MergedCard | None


def merged(cards: Sequence[MergedCard], fields: Mapping[str, int]) -> Merged:
    """The primary (`cards[0]`) with the others folded in: its own values but where
    `fields` names the contact to take one from (and a value it lacks from the first that
    has it); every email, phone, address, URL and tag
    once; the notes joined; a favourite if any was; the photo of the primary, or of the
    first that has one. `InvalidField` when a list would pass its limit."""
    by_id = {card.record.id: card for card in cards}
    values = snapshot(cards[0])
    shots = [snapshot(card) for card in cards]
    for name in _SCALARS:
        if name in fields:
            values[name] = snapshot(by_id[fields[name]])[name]
        elif not values[name]:  # what the primary lacks: the first that has it
            values[name] = next((shot[name] for shot in shots if shot[name]), values[name])
    if "notes" not in fields:
        values["notes"] = _joined_notes(cards)
    values["favorite"] = any(card.record.favorite for card in cards)
    for name in _LISTS:
        values[name] = _union(name, [getattr(card.record, name) for card in cards])
        limit = MAX_TAGS_PER_CONTACT if name == "tags" else MAX_ENTRIES
        if len(values[name]) > limit:
            raise InvalidField(
                name,
                f"the merged contact would have {len(values[name])} {name}, at most {limit}: "
                "remove some from the contacts first",
                None,
            )
    for single, many in (("email", "emails"), ("phone", "phones")):
        if single in fields:
            values[many] = _first(values[many], getattr(by_id[fields[single]].record, many))
    values["extra"] = _extra(cards)
    source = _photo_source(cards, fields.get("photo"))
    photo = source.photo
    values |= {"photo_url": photo.url, "photo_key": photo.key, "photo_lines": list(photo.lines)}
    return Merged(values, None if source is cards[0] else source)


_SHOWN = {"photo_url": "photo", "photo_key": "photo", "photo_lines": "photo"}


def changed_since(after: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The fields (as the API names them) that changed between two snapshots."""
    names = {_SHOWN.get(name, name) for name in SNAPSHOT if after[name] != now[name]}
    return sorted(names)


def undone(
    before: Mapping[str, Any], after: Mapping[str, Any], now: Mapping[str, Any]
) -> dict[str, Any]:
    """The snapshot an undo writes: `before`, but for what changed between `after` and
    `now`: a field keeps its value now; a list keeps the entries added since and loses
    those removed since; a photo changed since stays."""
    values = dict(before)
    for name in (*_SCALARS, *_LISTS, "extra"):
        if after[name] == now[name]:
            continue
        if name not in (*_LISTS, "extra"):
            values[name] = now[name]
            continue
        removed = [entry for entry in after[name] if entry not in now[name]]
        added = [entry for entry in now[name] if entry not in after[name]]
        kept = [entry for entry in before[name] if entry not in removed]
        values[name] = kept + [entry for entry in added if entry not in kept]
    if photo_of(after) != photo_of(now):
        values |= {name: now[name] for name in _PHOTO}
    return values
