"""Create or drop a PostgreSQL database on the server of CONTACTS_KIT_TEST_DATABASE_URL.

Usage: pgdb.py create|drop NAME   (prints the new database's URL on create)
"""

import asyncio
import os
import sys

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from contacts_kit.settings import normalize_database_url


async def main(action: str, name: str) -> None:
    server = make_url(normalize_database_url(os.environ["CONTACTS_KIT_TEST_DATABASE_URL"]))
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    statement = (
        f'CREATE DATABASE "{name}"'
        if action == "create"
        else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()
    if action == "create":
        print(server.set(database=name).render_as_string(hide_password=False))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
