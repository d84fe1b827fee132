"""Upcoming birthdays: the window arithmetic, then the route with a frozen clock."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contacts_kit.contact.birthdays import birthday_key, birthday_window, next_birthday
from tests.conftest import Harness, auth_headers, login, make_settings

URL = "/api/contacts"


def _in_window_by_brute_force(birthday: date, today: date, days: int) -> bool:
    return next_birthday(birthday, today) <= today + timedelta(days=days)


def _in_window_by_keys(birthday: date, today: date, days: int) -> bool:
    window = birthday_window(today, days)
    key = birthday_key(birthday)
    return window.everything or any(low <= key <= high for low, high in window.ranges)


@pytest.mark.parametrize(
    "today",
    [
        date(2026, 12, 28),
        date(2027, 2, 25),
        date(2028, 2, 25),
        date(2028, 2, 29),
        date(2027, 3, 1),
        date(2026, 1, 1),
        date(2026, 12, 31),
        date(2027, 6, 15),
    ],
)
@pytest.mark.parametrize("days", [0, 1, 3, 7, 30, 364, 365, 366])
def test_key_window_agrees_with_the_calendar(today: date, days: int) -> None:
    # Every month/day of a leap year, as a birthday.
    birthdays = [date(2000, 1, 1) + timedelta(days=n) for n in range(366)]
    for birthday in birthdays:
        assert _in_window_by_keys(birthday, today, days) == _in_window_by_brute_force(
            birthday, today, days
        ), (birthday, today, days)


def test_next_birthday_of_29_february() -> None:
    leapling = date(2004, 2, 29)
    assert next_birthday(leapling, date(2027, 2, 1)) == date(2027, 2, 28)
    assert next_birthday(leapling, date(2028, 2, 1)) == date(2028, 2, 29)
    assert next_birthday(leapling, date(2027, 3, 1)) == date(2028, 2, 29)
    assert calendar.isleap(2028)


def _freeze(harness: Harness, day: date, hour: int = 12) -> None:
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    harness.kit.now = lambda: moment


async def _setup(harness: Harness, today: date, birthdays: dict[str, str]) -> dict[str, str]:
    _freeze(harness, today)
    headers = await auth_headers(harness.client, "bday@example.com")
    for index, (name, birthday) in enumerate(birthdays.items()):
        response = await harness.client.post(
            URL,
            json={
                "first_name": name,
                "last_name": "Test",
                "email": f"c{index}@example.com",
                "phone": "+12025550143",
                "birthday": birthday,
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
    return headers


async def _upcoming(harness: Harness, headers: dict[str, str], **params: Any) -> list[Any]:
    response = await harness.client.get(f"{URL}/birthdays", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [(c["first_name"], c["next_birthday"]) for c in response.json()]


async def test_default_window_is_seven_days_ordered_by_date(harness: Harness) -> None:
    headers = await _setup(
        harness,
        date(2026, 6, 10),
        {
            "Later": "1990-06-17",
            "Today": "1980-06-10",
            "TooLate": "1990-06-18",
            "Yesterday": "1985-06-09",
            "Soon": "2001-06-12",
        },
    )
    assert await _upcoming(harness, headers) == [
        ("Today", "2026-06-10"),
        ("Soon", "2026-06-12"),
        ("Later", "2026-06-17"),
    ]


async def test_window_across_new_year(harness: Harness) -> None:
    headers = await _setup(
        harness,
        date(2026, 12, 29),
        {"Jan2": "1990-01-02", "Dec31": "1970-12-31", "Dec28": "1990-12-28", "Jan6": "1990-01-06"},
    )
    assert await _upcoming(harness, headers, days=5) == [
        ("Dec31", "2026-12-31"),
        ("Jan2", "2027-01-02"),
    ]


async def test_29_february_in_a_non_leap_and_a_leap_year(harness: Harness) -> None:
    headers = await _setup(
        harness, date(2027, 2, 27), {"Leapling": "2004-02-29", "Mar1": "1990-03-01"}
    )
    assert await _upcoming(harness, headers, days=1) == [("Leapling", "2027-02-28")]
    assert await _upcoming(harness, headers, days=2) == [
        ("Leapling", "2027-02-28"),
        ("Mar1", "2027-03-01"),
    ]
    _freeze(harness, date(2028, 2, 28))
    tokens = await login(harness.client, "bday@example.com")  # a year later: a new login
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert await _upcoming(harness, headers, days=0) == []
    assert await _upcoming(harness, headers, days=1) == [("Leapling", "2028-02-29")]


async def test_days_zero_is_only_today(harness: Harness) -> None:
    headers = await _setup(
        harness, date(2026, 3, 14), {"Pi": "1879-03-14", "Tomorrow": "1990-03-15"}
    )
    assert await _upcoming(harness, headers, days=0) == [("Pi", "2026-03-14")]


async def test_a_whole_year_returns_everyone_soonest_first(harness: Harness) -> None:
    headers = await _setup(
        harness, date(2026, 3, 14), {"Feb": "1990-02-01", "Apr": "1990-04-01", "Mar": "1990-03-13"}
    )
    assert await _upcoming(harness, headers, days=366) == [
        ("Apr", "2026-04-01"),
        ("Feb", "2027-02-01"),
        ("Mar", "2027-03-13"),
    ]
    assert [n for n, _ in await _upcoming(harness, headers, days=366, limit=1, offset=1)] == ["Feb"]


@pytest.mark.parametrize("days", [-1, 367, "week"])
async def test_bad_days_are_422(harness: Harness, days: object) -> None:
    headers = await auth_headers(harness.client, "days@example.com")
    response = await harness.client.get(f"{URL}/birthdays", params={"days": days}, headers=headers)
    assert response.status_code == 422


async def test_today_follows_the_timezone_setting(database_url: str, tmp_path: Any) -> None:
    from tests.conftest import RunningApp

    # 23:30 UTC on 9 June is already 10 June in Auckland.
    settings = make_settings(database_url, tmp_path, timezone="Pacific/Auckland")
    async with RunningApp(settings) as running:
        moment = datetime(2026, 6, 9, 23, 30, tzinfo=UTC)
        running.kit.now = lambda: moment
        headers = await auth_headers(running.client, "tz@example.com")
        for index, birthday in enumerate(("1990-06-09", "1990-06-10")):
            await running.client.post(
                URL,
                json={
                    "first_name": f"B{birthday[-2:]}",
                    "last_name": "Tz",
                    "email": f"tz{index}@example.com",
                    "phone": "+12025550143",
                    "birthday": birthday,
                },
                headers=headers,
            )
        response = await running.client.get(f"{URL}/birthdays", params={"days": 0}, headers=headers)
        assert [c["first_name"] for c in response.json()] == ["B10"]


async def test_a_birthday_without_a_year(harness: Harness) -> None:
    _freeze(harness, date(2027, 2, 20))
    headers = await auth_headers(harness.client, "noyear@example.com")
    created = await harness.client.post(
        URL,
        json={"first_name": "Leap", "phone": "+12025550143", "birthday": "--02-29"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["birthday"] == "--02-29"
    for bad in ("--02-30", "--13-01", "--2-9", "-02-29", "0229"):
        refused = await harness.client.patch(
            f"{URL}/{created.json()['id']}", json={"birthday": bad}, headers=headers
        )
        assert refused.status_code == 422, bad
    listed = await harness.client.get(f"{URL}/birthdays", params={"days": 10}, headers=headers)
    [leap] = listed.json()
    assert leap["birthday"] == "--02-29"
    assert leap["next_birthday"] == "2027-02-28"  # a common year: the last day of February
    changed = await harness.client.patch(
        f"{URL}/{created.json()['id']}", json={"birthday": "--0301"}, headers=headers
    )
    assert changed.json()["birthday"] == "--03-01"
