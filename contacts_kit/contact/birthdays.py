"""Calendar arithmetic of birthdays: pure functions, the SQL window is built from them."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

FEB_28 = 228
FEB_29 = 229


def birthday_key(day: date) -> int:
    """Month and day as one sortable number: 14 March is 314."""
    return day.month * 100 + day.day


def celebration(birthday: date, year: int) -> date:
    """The day a birthday is celebrated in `year`: 29 February falls on 28 February in a
    non-leap year."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def next_birthday(birthday: date, today: date) -> date:
    """The first celebration of `birthday` on or after `today`."""
    this_year = celebration(birthday, today.year)
    return this_year if this_year >= today else celebration(birthday, today.year + 1)


@dataclass(frozen=True, slots=True)
class BirthdayWindow:
    """The stored `birthday_key` values whose next celebration is in [today, today + days].

    `ranges` are inclusive key intervals; `everything` is set when the window covers a whole
    year. `leap_this_year` / `leap_next_year` tell the SQL ordering where 29 February falls.
    """

    today: date
    end: date
    ranges: tuple[tuple[int, int], ...]
    everything: bool

    @property
    def start_key(self) -> int:
        """Key of today: keys below it are celebrated next year."""
        return birthday_key(self.today)

    @property
    def leap_this_year(self) -> bool:
        """Whether today's year has a 29 February."""
        return calendar.isleap(self.today.year)

    @property
    def leap_next_year(self) -> bool:
        """Whether next year has a 29 February."""
        return calendar.isleap(self.today.year + 1)


def birthday_window(today: date, days: int) -> BirthdayWindow:
    """The key intervals of the window from `today` through `today + days`."""
    end = today + timedelta(days=days)
    start_key, end_key = birthday_key(today), birthday_key(end)
    if end.year > today.year and (end_key >= start_key or end.year > today.year + 1):
        return BirthdayWindow(today, end, (), everything=True)
    if end.year == today.year:
        ranges = [(start_key, end_key)]
    else:
        ranges = [(start_key, 1231), (101, end_key)]
    # In a non-leap year 29 February is celebrated on the 28th: include it when the 28th is in.
    if end_key == FEB_28 and not calendar.isleap(end.year):
        ranges[-1] = (ranges[-1][0], FEB_29)
    return BirthdayWindow(today, end, tuple(ranges), everything=False)
