"""The replica routing that runs without the scale lab: a "replica" that is the primary itself
(never in recovery, so always caught up) serves reads after the write window; one that never
answers fails no request and shows as down; the settings refuse what cannot work. The lab's
real streaming replica is tests/db/test_replicas.py."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import URL as DatabaseURL
from sqlalchemy.engine import make_url

from contacts_kit import ContactsKit, Settings
from contacts_kit.db.replicas import lsn, node_name
from contacts_kit.errors import ConfigurationError
from tests.conftest import RunningApp, auth_headers, make_settings
from tests.contact.test_router import URL, contact_body
from tests.db.test_replicas import Counter, until
from tests.smtp import free_port


async def test_a_replica_serves_reads_once_the_writers_window_has_passed(
    postgres_database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        postgres_database_url,
        tmp_path,
        database_replica_urls=[postgres_database_url],
        replica_check_interval=0.05,
    )
    async with RunningApp(settings) as app:
        counter = Counter()
        counter.watch("primary", app.kit.engine)
        counter.watch("replica", app.kit.replicas.nodes[0].engine)
        await until(lambda: app.kit.replicas.nodes[0].state == "ok")
        headers = await auth_headers(app.client, "route@example.com")
        assert (await app.client.post(URL, json=contact_body(), headers=headers)).status_code == 201
        assert (await app.client.get(URL, headers=headers)).status_code == 200
        assert (await counter.settled())["replica"] == 0
        # The writer's mark expires (here: forgotten at once, as the window's end would).
        user_id = (await app.client.get("/api/users/me", headers=headers)).json()["id"]
        await app.kit.cache.delete(f"wrote:{uuid.UUID(user_id).hex}")  # the owner key
        before = await counter.settled()
        assert len((await app.client.get(URL, headers=headers)).json()) == 1
        assert (await counter.settled())["replica"] == 1
        assert (await counter.settled())["primary"] == before["primary"]
        # The changes feed and the tag list only read: the replica serves them too.
        changes = await app.client.get(f"{URL}/changes", headers=headers)
        assert len(changes.json()["changed"]) == 1
        assert (await app.client.get("/api/tags", headers=headers)).status_code == 200
        assert (await counter.settled())["replica"] > 1
        assert (await counter.settled())["primary"] == before["primary"]
        ready = (await app.client.get("/readyz")).json()
        assert [node["state"] for node in ready["replicas"]] == ["ok"]


def _unreachable(database_url: str) -> DatabaseURL:
    """The database's URL on a port nothing listens on: a replica that never answers."""
    return make_url(database_url).set(port=free_port())


async def test_a_replica_that_never_answers_fails_no_request(
    postgres_database_url: str, tmp_path: Path
) -> None:
    gone = _unreachable(postgres_database_url)
    settings = make_settings(
        postgres_database_url,
        tmp_path,
        database_replica_urls=[gone.render_as_string(hide_password=False)],
        replica_check_interval=0.05,
    )
    async with RunningApp(settings) as app:
        await until(lambda: app.kit.replicas.nodes[0].state == "down")
        headers = await auth_headers(app.client, "down@example.com")
        assert (await app.client.get(URL, headers=headers)).status_code == 200
        ready = await app.client.get("/readyz")
        assert ready.status_code == 200
        (node,) = ready.json()["replicas"]
        assert node["state"] == "down"
        assert node["reason"]
        assert node["name"] == f"127.0.0.1:{gone.port}/{gone.database}"


async def test_the_pool_of_a_replica_falls_back_to_the_primary(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """Between two checks a replica may stop: a connection it refuses is made to the primary."""
    gone = _unreachable(postgres_database_url)
    settings = make_settings(
        postgres_database_url,
        tmp_path,
        database_replica_urls=[gone.render_as_string(hide_password=False)],
    )
    kit = ContactsKit(settings)
    try:
        node = kit.replicas.nodes[0]
        async with node.engine.connect() as connection:
            assert (await connection.exec_driver_sql("SELECT 1")).scalar_one() == 1
        assert node.state == "down"
    finally:
        await kit.replicas.close()
        await kit.engine.dispose()


def test_replicas_need_postgresql(sqlite_database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(_env_file=None, database_replica_urls=["sqlite:///r.db"])
    settings = make_settings(
        sqlite_database_url, tmp_path, database_replica_urls=["postgresql://h/db"]
    )
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        ContactsKit(settings)


def test_replica_urls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CONTACTS_KIT_DATABASE_REPLICA_URLS", "postgresql://r1/db, postgres://u:p@r2:6432/db"
    )
    settings = Settings(_env_file=None)
    assert settings.database_replica_urls == [
        "postgresql+asyncpg://r1/db",
        "postgresql+asyncpg://u:p@r2:6432/db",
    ]
    assert node_name(settings.database_replica_urls[1]) == "r2:6432/db"


def test_wal_positions_compare_as_numbers() -> None:
    assert lsn("0/16B3748") < lsn("0/16B3750") < lsn("1/0") < lsn("16/B374D848")
