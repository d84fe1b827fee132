"""The birthday calendar feed: a secret address (created, rotated, revoked), an iCalendar
document that a recurrence library expands to exactly the birthdays the API lists, 29 February
included, `ETag` polling, a per-address limit; on both dialects and embedded in a host app."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import icalendar
import pytest
import recurring_ical_events

from tests.conftest import Harness, RunningApp, auth_headers, make_settings
from tests.contact.test_router import URL
from tests.test_embedding import API, embedded_user

TOKEN = "/api/users/me/calendar-token"
BIRTHDAYS = {
    "Leap": "2004-02-29",
    "First": "1990-01-01",
    "Last": "1985-12-31",
    "March": "1970-03-01",
    "Feb28": "2001-02-28",
    "Ada": "1815-12-10",
    "Summer": "1999-07-14",
    "NoYear": "--03-15",
    "NoYearLeap": "--02-29",
}


def _freeze(harness: Harness, day: date) -> None:
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    harness.kit.now = lambda: moment


async def _book(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    ids = {}
    for index, (name, birthday) in enumerate(BIRTHDAYS.items()):
        body = {"first_name": name, "email": f"b{index}@example.com", "birthday": birthday}
        created = await client.post(URL, json=body, headers=headers)
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    # No birthday, and a birthday in the trash: neither is in the feed.
    await client.post(URL, json={"first_name": "None", "phone": "+12025550143"}, headers=headers)
    trashed = await client.post(
        URL,
        json={"first_name": "Gone", "phone": "+12025550144", "birthday": "1980-05-05"},
        headers=headers,
    )
    assert (
        await client.delete(f"{URL}/{trashed.json()['id']}", headers=headers)
    ).status_code == 204
    return ids


async def _feed_url(client: httpx.AsyncClient, headers: dict[str, str], token: str = TOKEN) -> str:
    created = await client.post(token, headers=headers)
    assert created.status_code == 201, created.text
    url: str = created.json()["url"]
    return url


def _path(url: str) -> str:
    return urlsplit(url).path


def _occurrences(document: bytes, start: date, end: date) -> dict[int, list[date]]:
    """Each contact's birthdays from `start` through `end`, as a calendar app expands them."""
    calendar = icalendar.Calendar.from_ical(document)
    found: dict[int, list[date]] = {}
    for event in recurring_ical_events.of(calendar).between(start, end + timedelta(days=1)):
        contact_id = int(str(event["UID"]).removeprefix("birthday-").split("@")[0])
        found.setdefault(contact_id, []).append(event.decoded("DTSTART"))
    return found


@pytest.mark.parametrize(
    ("today", "leapling"),
    [
        (date(2027, 1, 10), date(2027, 2, 28)),  # a common year: the last day of February
        (date(2027, 3, 1), date(2028, 2, 29)),
        (date(2027, 12, 31), date(2028, 2, 29)),
        (date(2028, 1, 15), date(2028, 2, 29)),  # a leap year
    ],
)
async def test_the_feed_expands_to_the_birthdays_the_api_lists(
    harness: Harness, today: date, leapling: date
) -> None:
    client = harness.client
    _freeze(harness, today)
    headers = await auth_headers(client, "cal@example.com")
    ids = await _book(client, headers)
    feed = await client.get(_path(await _feed_url(client, headers)))
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    listed = await client.get(f"{URL}/birthdays", params={"days": 366}, headers=headers)
    expected = {c["id"]: date.fromisoformat(c["next_birthday"]) for c in listed.json()}
    assert set(expected) == set(ids.values())

    found = _occurrences(feed.content, today, today + timedelta(days=366))
    assert {contact_id: dates[0] for contact_id, dates in found.items()} == expected
    for dates in found.values():  # a second one only on the window's last day
        assert dates[1:] in ([], [today + timedelta(days=366)])
    assert expected[ids["Leap"]] == leapling


async def test_the_events_are_all_day_yearly_and_stable(harness: Harness) -> None:
    client = harness.client
    headers = await auth_headers(client, "cal@example.com")
    ids = await _book(client, headers)
    url = _path(await _feed_url(client, headers))
    first = await client.get(url)
    calendar = icalendar.Calendar.from_ical(first.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"birthday-{i}@contacts-kit" for i in ids.values()}
    ada = events[f"birthday-{ids['Ada']}@contacts-kit"]
    assert ada.decoded("DTSTART") == date(1815, 12, 10)  # a date: all day
    assert str(ada["SUMMARY"]) == "Ada's birthday"
    assert ada["RRULE"]["FREQ"] == ["YEARLY"]
    leap = events[f"birthday-{ids['Leap']}@contacts-kit"]
    assert leap["RRULE"]["BYMONTHDAY"] == [-1]
    # Polling: the same document and tag while nothing changes, a 304 for the tag.
    again = await client.get(url)
    assert again.content == first.content
    unchanged = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    await client.patch(f"{URL}/{ids['Ada']}", json={"first_name": "Augusta"}, headers=headers)
    changed = await client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert b"Augusta's birthday" in changed.content


async def test_the_address_is_secret_rotated_and_revoked(harness: Harness) -> None:
    client = harness.client
    alice = await auth_headers(client, "alice@example.com")
    bob = await auth_headers(client, "bob@example.com")
    await _book(client, alice)
    assert (await client.post(TOKEN)).status_code == 401
    url = await _feed_url(client, alice)
    assert url.startswith("http://testserver/api/calendar/")
    assert url.endswith("/birthdays.ics")
    assert len(_path(url).split("/")[3]) >= 43  # 256 random bits
    # Bob's feed is Bob's book: empty, not Alice's.
    bobs = await client.get(_path(await _feed_url(client, bob)))
    assert b"VEVENT" not in bobs.content
    rotated = await _feed_url(client, alice)
    assert rotated != url
    old = await client.get(_path(url))
    assert old.status_code == 404
    assert old.json()["code"] == "CALENDAR_NOT_FOUND"
    assert (await client.get(_path(rotated))).status_code == 200
    assert (await client.delete(TOKEN, headers=alice)).status_code == 204
    assert (await client.get(_path(rotated))).status_code == 404
    assert (await client.delete(TOKEN, headers=alice)).status_code == 204  # idempotent
    for guess in ("x", "a" * 100, "a" * 101):
        assert (await client.get(f"/api/calendar/{guess}/birthdays.ics")).status_code in (404, 422)


async def test_guessing_is_limited_per_address(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_calendar="3/minute",
        rate_limit_auth="100/minute",
    )
    async with RunningApp(settings) as running:
        statuses = [
            (await running.client.get(f"/api/calendar/guess{i}/birthdays.ics")).status_code
            for i in range(4)
        ]
        assert statuses == [404, 404, 404, 429]


async def test_the_feed_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "cal@example.com") as (client, headers):
        body = {"first_name": "Host", "email": "h@example.com", "birthday": "1990-06-01"}
        assert (await client.post(f"{API}/contacts", json=body, headers=headers)).status_code == 201
        url = await _feed_url(client, headers, f"{API}/users/me/calendar-token")
        assert _path(url).startswith(f"{API}/calendar/")
        feed = await client.get(_path(url))
        assert feed.status_code == 200
        assert feed.headers["x-host-middleware"] == "yes"
        assert b"Host's birthday" in feed.content
        gone = await client.get(f"{API}/calendar/nothing-here/birthdays.ics")
        assert gone.status_code == 404
        assert gone.json()["code"] == "CALENDAR_NOT_FOUND"
