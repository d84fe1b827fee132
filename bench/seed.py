"""Seed a benchmark database straight through SQL: the project's migrations, then
`INSERT ... SELECT generate_series` (never through the API)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

import contacts_kit.models  # noqa: F401 (registers every table on the metadata)
from contacts_kit.contact.service import sync_token
from contacts_kit.contact.text import tag_key
from contacts_kit.db.base import Base
from contacts_kit.migrate import upgrade_engine
from contacts_kit.settings import Settings, normalize_database_url

LOGIN_EMAIL = "bench-login@example.com"
LOGIN_PASSWORD = "bench password 123"

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Edsger",
    "Margaret",
    "Dennis",
    "Frances",
    "John",
    "Radia",
    "Donald",
    "Hedy",
    "Tim",
    "Katherine",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Dijkstra",
    "Hamilton",
    "Ritchie",
    "Allen",
    "McCarthy",
    "Perlman",
    "Knuth",
    "Lamarr",
    "Berners",
    "Johnson",
]

CONTACTS = text(
    """
    INSERT INTO contacts_kit_contacts
        (owner_id, first_name, last_name, email, phone, birthday, birthday_key, notes,
         version, created_at, updated_at)
    SELECT replace(u.id::text, '-', ''),
           (CAST(:first AS text[]))[1 + (n * 7 + u.k) % 16],
           (CAST(:last AS text[]))[1 + (n * 13 + u.k) % 16] || (n % 100)::text,
           'p' || n::text || '.' || u.k::text || '@example' || (n % 37)::text || '.org',
           '+1202555' || lpad(((n * 31 + u.k) % 10000)::text, 4, '0'),
           d,
           (extract(month FROM d) * 100 + extract(day FROM d))::smallint,
           CASE WHEN n % 5 = 0 THEN 'met at conference ' || (n % 20)::text END,
           1, :now, :now
    FROM (SELECT id, row_number() OVER (ORDER BY email) AS k
          FROM contacts_kit_users WHERE email LIKE :pattern) AS u,
         generate_series(1, :per_user) AS n,
         LATERAL (SELECT date '1950-01-01' + ((n * 7919 + u.k * 104729) % 25000)::int AS d) AS b
    """
)


# Full cards, as a phone's address book holds them: a second email, three phones, an
# address, an organisation and a job title each, stored as the API stores them.
FULL_CARDS = """
    UPDATE contacts_kit_contacts SET
        emails = json_build_array(
            json_build_object('value', email, 'label', 'home'),
            json_build_object('value', 'w' || id::text || '@work.example', 'label', 'work')),
        phones = json_build_array(
            json_build_object('value', phone, 'label', 'mobile'),
            json_build_object('value', '+1312555' || lpad((id % 10000)::text, 4, '0'),
                              'label', 'work'),
            json_build_object('value', '+1415555' || lpad((id % 10000)::text, 4, '0'),
                              'label', 'home')),
        addresses = json_build_array(json_build_object(
            'street', (id % 900)::text || ' Main Street', 'locality', 'Springfield',
            'region', 'IL', 'postal_code', '62701', 'country', 'United States',
            'label', 'home')),
        organization = 'Company ' || (id % 500)::text,
        job_title = 'Engineer'
"""
CLAIM_EMAILS = (
    "INSERT INTO contacts_kit_contact_emails (owner_id, email, contact_id)"
    " SELECT c.owner_id, e ->> 'value', c.id"
    " FROM contacts_kit_contacts c, json_array_elements(c.emails) AS e"
)
# The application folds the search column (`contact.text.search_text`): for this ASCII data
# that is lower(); a +1 number's digits are all search keeps of it.
FOLD_SEARCH_TEXT = """
    UPDATE contacts_kit_contacts SET search_text = lower(
        first_name || chr(31) || last_name || chr(31)
        || coalesce((SELECT string_agg(e ->> 'value', ' ') FROM json_array_elements(emails) e), '')
        || chr(31) || concat_ws(' ',
            (SELECT string_agg(replace(p ->> 'value', '+', ''), ' ')
             FROM json_array_elements(phones) p),
            organization, nickname))
"""


# Every contact its own change number, as writes one by one would leave them, and each
# owner's change counter at the last.
NUMBER_CHANGES = "UPDATE contacts_kit_contacts SET change_seq = id"
CHANGE_COUNTERS = (
    "INSERT INTO contacts_kit_change_logs (owner_id, seq, horizon)"
    " SELECT owner_id, max(change_seq), 0 FROM contacts_kit_contacts GROUP BY owner_id"
)
TAG = "Family"
TAGGED_EVERY = 100
"""One contact in a hundred of the big book carries `TAG`."""
CHANGES_BEHIND = 100
"""The changes a client syncing from `Seeded.changes_token` has to catch up on."""


@dataclass(frozen=True)
class Seeded:
    """What the scenarios need to know about the seeded data."""

    big_user: uuid.UUID
    small_user: uuid.UUID
    login_user: uuid.UUID
    sample_contact_big: int
    big_ids: tuple[int, int]
    """The lowest and highest id of the big book's contacts."""
    users: int
    contacts: int
    changes_token: str


async def _users(connection: AsyncConnection, count: int, prefix: str, hashed: str) -> None:
    now = datetime.now(UTC)
    await connection.execute(
        text(
            "INSERT INTO contacts_kit_users (id, email, hashed_password, is_verified, "
            "token_version, created_at, updated_at) "
            "SELECT gen_random_uuid(), :prefix || lpad(n::text, 6, '0') || '@example.com', "
            ":hashed, true, 0, :now, :now FROM generate_series(1, :count) AS n"
        ),
        {"prefix": prefix, "count": count, "hashed": hashed, "now": now},
    )


async def _one(connection: AsyncConnection, sql: str) -> uuid.UUID:
    value = (await connection.execute(text(sql))).scalar_one()
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def create_database(database_url: str) -> None:
    """Create the benchmark database if the server does not have it yet (a fresh machine)."""
    target = make_url(normalize_database_url(database_url))
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = await connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            )
            if exists.scalar() is None:
                await connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        await admin.dispose()


async def seed(
    database_url: str, *, users: int = 1000, per_user: int = 100, big: int = 100_000
) -> Seeded:
    """Create and migrate `database_url`, then fill it: `users` x `per_user` contacts, one
    user with `big`."""
    await create_database(database_url)
    settings = Settings(_env_file=None, database_url=database_url)
    hasher = PasswordHash(
        (
            Argon2Hasher(
                time_cost=settings.password_hash_time_cost,
                memory_cost=settings.password_hash_memory_cost,
                parallelism=settings.password_hash_parallelism,
            ),
        )
    )
    login_hash = hasher.hash(LOGIN_PASSWORD)
    engine = create_async_engine(normalize_database_url(database_url))
    now = datetime.now(UTC)
    await upgrade_engine(engine)
    try:
        async with engine.begin() as connection:
            # Every table of the kit: books are keyed by owner, with no foreign key to the
            # users (a host's owners have none), so emptying the users empties nothing else.
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
            await _users(connection, users, "small", "unused")
            await _users(connection, 1, "big", "unused")
            await connection.execute(
                text(
                    "INSERT INTO contacts_kit_users (id, email, hashed_password, is_verified, "
                    "token_version, created_at, updated_at) VALUES (gen_random_uuid(), :email, "
                    ":hashed, true, 0, :now, :now)"
                ),
                {"email": LOGIN_EMAIL, "hashed": login_hash, "now": now},
            )
            params = {"first": FIRST, "last": LAST, "now": now}
            await connection.execute(
                CONTACTS, {**params, "pattern": "small%", "per_user": per_user}
            )
            await connection.execute(CONTACTS, {**params, "pattern": "big%", "per_user": big})
            await connection.execute(text(FULL_CARDS))
            await connection.execute(text(CLAIM_EMAILS))
            await connection.execute(text(FOLD_SEARCH_TEXT))
            await connection.execute(text(NUMBER_CHANGES))
            await connection.execute(text(CHANGE_COUNTERS))
            await _tag(connection, now)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE contacts_kit_users"))
            await connection.execute(text("ANALYZE contacts_kit_contacts"))
            await connection.commit()
            big_user = await _one(
                connection, "SELECT id FROM contacts_kit_users WHERE email LIKE 'big%'"
            )
            small_user = await _one(
                connection,
                "SELECT id FROM contacts_kit_users WHERE email LIKE 'small%' "
                "ORDER BY email LIMIT 1",
            )
            login_user = await _one(
                connection, f"SELECT id FROM contacts_kit_users WHERE email = '{LOGIN_EMAIL}'"
            )
            sample = (
                await connection.execute(
                    text(
                        "SELECT id FROM contacts_kit_contacts WHERE owner_id = :o ORDER BY id "
                        "OFFSET :off LIMIT 1"
                    ),
                    {"o": big_user.hex, "off": big // 2},
                )
            ).scalar_one()
            total = (
                await connection.execute(text("SELECT count(*) FROM contacts_kit_contacts"))
            ).scalar_one()
            low, high = (
                await connection.execute(
                    text("SELECT min(id), max(id) FROM contacts_kit_contacts WHERE owner_id = :o"),
                    {"o": big_user.hex},
                )
            ).one()
            behind = (
                await connection.execute(
                    text(
                        "SELECT change_seq, id FROM contacts_kit_contacts WHERE owner_id = :o "
                        "ORDER BY change_seq DESC, id DESC OFFSET :n LIMIT 1"
                    ),
                    {"o": big_user.hex, "n": min(CHANGES_BEHIND, big - 1)},
                )
            ).one()
    finally:
        await engine.dispose()
    token = sync_token(big_user.hex, behind[0], behind[1])
    return Seeded(
        big_user, small_user, login_user, sample, (low, high), users + 2, int(total), token
    )


async def _tag(connection: AsyncConnection, now: datetime) -> None:
    """`TAG` on one contact in `TAGGED_EVERY` of the big book, as the API would store it."""
    tag_id = (
        await connection.execute(
            text(
                "INSERT INTO contacts_kit_tags (owner_id, name, name_key, created_at) "
                "SELECT replace(id::text, '-', ''), :name, :key, :now FROM contacts_kit_users "
                "WHERE email LIKE 'big%' "
                "RETURNING id"
            ),
            {"name": TAG, "key": tag_key(TAG), "now": now},
        )
    ).scalar_one()
    tagged = (
        "FROM contacts_kit_contacts c JOIN contacts_kit_tags t ON t.owner_id = c.owner_id "
        "WHERE t.id = :tag AND c.id % :every = 0"
    )
    params = {"tag": tag_id, "every": TAGGED_EVERY}
    await connection.execute(
        text(
            f"INSERT INTO contacts_kit_contact_tags (contact_id, tag_id) SELECT c.id, t.id {tagged}"
        ),
        params,
    )
    await connection.execute(
        text(
            "UPDATE contacts_kit_contacts SET tags = CAST(:names AS json) WHERE id IN "
            f"(SELECT c.id {tagged})"
        ),
        params | {"names": json.dumps([TAG])},
    )
