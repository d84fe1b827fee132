"""A database left at an older revision, holding one user and one contact written the way
that revision's code wrote them: what a migration must keep."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contacts_kit.migrate import upgrade_engine

OWNER = "00000000000000000000000000000001"
INSERT_CONTACT = text(
    "INSERT INTO contacts_kit_contacts (owner_id, first_name, last_name, email, phone, "
    "birthday, birthday_key, search_text, version, created_at, updated_at) VALUES "
    f"('{OWNER}', 'Old', 'Row', 'row@example.com', '+12025550143', '1990-01-01', 101, "
    "'old row', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
)
"""The contact `row@example.com` of the user `OWNER` (columns every revision since 0005 has)."""


async def seed_at(engine: AsyncEngine, revision: str) -> None:
    """Migrate a new SQLite database to `revision`, then write the user and the contact."""
    await upgrade_engine(engine, revision)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO contacts_kit_users (id, email, hashed_password, is_verified, "
                f"token_version, created_at, updated_at) VALUES ('{OWNER}', "
                "'old@example.com', 'x', 1, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
        await connection.execute(INSERT_CONTACT)
