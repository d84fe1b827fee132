"""The birthday calendar feed: an iCalendar document (RFC 5545, built with icalendar) with
one yearly all-day event per birthday and per anniversary. No SQL and no HTTP here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import icalendar

from contacts_kit.contact.schemas import ContactRecord

PRODUCT_ID = "-//contacts-kit//birthday calendar//EN"


def _every_year(birthday: date) -> dict[str, object]:
    """The recurrence of a birthday. 29 February: the last day of February, so 28 February
    in common years, as `GET /contacts/birthdays` counts it."""
    if (birthday.month, birthday.day) == (2, 29):
        return {"freq": "yearly", "bymonth": 2, "bymonthday": -1}
    return {"freq": "yearly"}


def _name(record: ContactRecord) -> str:
    return f"{record.first_name} {record.last_name}" if record.last_name else record.first_name


def birthday_uid(contact_id: int, occasion: str = "birthday") -> str:
    """The event's UID: the same for a contact in every version of the feed."""
    return f"{occasion}-{contact_id}@contacts-kit"


def _event(record: ContactRecord, day: date, occasion: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", birthday_uid(record.id, occasion))
    event.add("dtstamp", record.updated_at)
    event.add("dtstart", day)  # a date: an all-day event
    event.add("rrule", _every_year(day))
    event.add("summary", f"{_name(record)}'s {occasion}")
    event.add("transp", "TRANSPARENT")  # a birthday does not make anyone busy
    return event


def birthday_calendar(records: Iterable[ContactRecord]) -> bytes:
    """The feed of the `records`' birthdays and anniversaries. Each event's DTSTAMP is its
    contact's last change, so the document changes only when a contact does (its ETag
    holds between polls)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Birthdays")
    for record in records:
        if record.birthday is not None:
            calendar.add_component(_event(record, record.birthday, "birthday"))
        if record.anniversary is not None:
            calendar.add_component(_event(record, record.anniversary, "anniversary"))
    document: bytes = calendar.to_ical()
    return document
