"""Property tests (hypothesis) for the pieces with edge cases."""

from __future__ import annotations

import asyncio
import string
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.auth.errors import InvalidToken
from contacts_kit.auth.tokens import TokenCodec, TokenType
from contacts_kit.contact.birthdays import (
    birthday_key,
    birthday_window,
    celebration,
    next_birthday,
)
from contacts_kit.contact.phones import normalize_phone
from contacts_kit.contact.repository import ContactFilters, ContactReads
from contacts_kit.contact.text import fold, search_text
from contacts_kit.db.rows import rows_for

DETERMINISTIC = settings(derandomize=True, deadline=None, max_examples=300)
SLOW = settings(
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

days = st.dates(min_value=date(1996, 1, 1), max_value=date(2104, 12, 31))
birthdays = st.dates(min_value=date(1904, 1, 1), max_value=date(2020, 12, 31))
windows = st.integers(min_value=0, max_value=366)


def _oracle(birthday: date, today: date, days_ahead: int) -> bool:
    """Brute force: walk every day of the window and ask whether it is the celebration."""
    for offset in range(days_ahead + 1):
        day = today + timedelta(days=offset)
        if celebration(birthday, day.year) == day:
            return True
    return False


@DETERMINISTIC
@given(birthday=birthdays, today=days, days_ahead=windows)
@example(birthday=date(2000, 2, 29), today=date(2027, 2, 28), days_ahead=0)
@example(birthday=date(2000, 2, 29), today=date(2028, 2, 28), days_ahead=0)
@example(birthday=date(2000, 12, 31), today=date(2026, 12, 31), days_ahead=366)
def test_the_key_window_matches_a_brute_force_walk(
    birthday: date, today: date, days_ahead: int
) -> None:
    window = birthday_window(today, days_ahead)
    key = birthday_key(birthday)
    in_window = window.everything or any(low <= key <= high for low, high in window.ranges)
    assert in_window == _oracle(birthday, today, days_ahead)
    if in_window:
        assert today <= next_birthday(birthday, today) <= today + timedelta(days=days_ahead)


@SLOW
@given(
    # Some contacts have no birthday: never in any window.
    birthday_list=st.lists(st.one_of(st.none(), birthdays), min_size=1, max_size=12),
    today=days,
    days_ahead=windows,
)
def test_the_sql_birthday_query_matches_the_oracle(
    tmp_path_factory: pytest.TempPathFactory,
    birthday_list: list[date | None],
    today: date,
    days_ahead: int,
) -> None:
    url = _sqlite_book(tmp_path_factory)
    expected = sorted(
        (next_birthday(b, today), index)
        for index, b in enumerate(birthday_list)
        if b is not None and _oracle(b, today, days_ahead)
    )

    async def _run() -> list[tuple[date, int]]:
        engine = create_async_engine(url)
        owner = uuid.uuid4()
        try:
            async with engine.begin() as connection:
                await _insert_book(connection, owner, birthday_list)
            rows = await ContactReads(engine, rows_for(engine), owner.hex).upcoming_birthdays(
                birthday_window(today, days_ahead), limit=1000, offset=0
            )
            assert all(r.birthday is not None for r in rows)  # never one without
            return [
                (next_birthday(r.birthday, today), int(r.first_name))
                for r in rows
                if r.birthday is not None
            ]
        finally:
            await engine.dispose()

    found = asyncio.run(_run())
    assert sorted(found) == expected
    assert [day for day, _ in found] == sorted(day for day, _ in found)  # soonest first


@DETERMINISTIC
@given(
    region=st.sampled_from(["US", "GB", "DE", "FR", "UA", "JP", "BR", "IN", "AU", "CA"]),
    style=st.sampled_from(
        [
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.RFC3966,
        ]
    ),
    default_region=st.sampled_from(["US", "GB", "DE"]),
)
def test_any_notation_of_a_valid_number_normalizes_to_its_e164(
    region: str, style: int, default_region: str
) -> None:
    number = phonenumbers.example_number(region)
    assert number is not None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, style)
    assert normalize_phone(written, default_region) == e164
    assert normalize_phone(e164, default_region) == e164  # idempotent
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalize_phone(national, region) == e164


# Wildcards, and letters whose folded forms differ from their lower case: accents, ß, Σ.
SEARCH_ALPHABET = string.ascii_letters[:6] + "%_\\ .@" + "éÉßΣσ"


@SLOW
@given(
    names=st.lists(st.text(SEARCH_ALPHABET, min_size=1, max_size=8), min_size=1, max_size=8),
    needle=st.text(SEARCH_ALPHABET, min_size=1, max_size=4),
)
def test_search_matches_exactly_the_substring_oracle(
    tmp_path_factory: pytest.TempPathFactory, names: list[str], needle: str
) -> None:
    url = _sqlite_book(tmp_path_factory)

    async def _run() -> set[int]:
        engine = create_async_engine(url)
        owner = uuid.uuid4()
        try:
            async with engine.begin() as connection:
                await _insert_book(connection, owner, [date(1990, 1, 1)] * len(names), names)
            rows = await ContactReads(engine, rows_for(engine), owner.hex).search(
                ContactFilters(q=needle), limit=100, offset=0
            )
            return {int(row.first_name.split("#")[0]) for row in rows}
        finally:
            await engine.dispose()

    # Case- and accent-insensitive: both sides folded (NFKD, no marks, case-folded).
    expected = {
        index
        for index, name in enumerate(names)
        if any(
            fold(needle) in fold(field)
            for field in (f"{index}#{name}", f"last{name}", f"c{index}@example.com")
        )
    }
    assert asyncio.run(_run()) == expected


SECRET = b"p" * 40


@settings(derandomize=True, deadline=None, max_examples=400)
@given(
    position=st.integers(min_value=0),
    replacement=st.sampled_from(string.ascii_letters + "0123456789-_.="),
)
def test_any_change_to_a_token_makes_it_invalid(position: int, replacement: str) -> None:
    moment = datetime(2026, 11, 27, tzinfo=UTC)
    codec = TokenCodec(SECRET, lambda: moment)
    token, _ = codec.encode("user-id", TokenType.ACCESS, timedelta(minutes=5), ver=0)
    index = position % len(token)
    if token[index] == replacement:
        return
    changed = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(InvalidToken):
        codec.decode(changed, TokenType.ACCESS)
    assert codec.decode(token, TokenType.ACCESS).sub == "user-id"


def _sqlite_book(factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite file shared by the examples of one property."""
    from contacts_kit.migrate import upgrade

    path: Path = factory.getbasetemp() / "properties.db"
    url = f"sqlite+aiosqlite:///{path}"
    if not path.exists():
        upgrade(url)
    return url


async def _insert_book(
    connection: object,
    owner: uuid.UUID,
    dates: list[date | None],
    names: list[str] | None = None,
) -> None:
    now = datetime.now(UTC)
    await connection.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO contacts_kit_users (id, email, hashed_password, is_verified, "
            "token_version, created_at, updated_at) VALUES (:id, :email, 'x', 1, 0, :now, :now)"
        ),
        {"id": owner.hex, "email": f"{owner.hex}@example.com", "now": now},
    )
    for index, day in enumerate(dates):
        name = names[index] if names else ""
        await connection.execute(  # type: ignore[attr-defined]
            text(
                "INSERT INTO contacts_kit_contacts (owner_id, first_name, last_name, email, "
                "phone, birthday, birthday_key, search_text, version, created_at, updated_at) "
                "VALUES (:owner, :first, :last, :email, '+12025550143', :birthday, :key, "
                ":search, 1, :now, :now)"
            ),
            {
                "owner": owner.hex,
                "first": (first := f"{index}#{name}" if names else str(index)),
                "last": (last := f"last{name}"),
                "email": (email := f"c{index}@example.com"),
                "search": search_text(first, last, email),
                "birthday": day,
                "key": None if day is None else birthday_key(day),
                "now": now,
            },
        )
