"""The benchmark's seeding, scenarios and floor, end to end on a tiny data set (the full
benchmark is not part of the suite)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bench import wrk
from bench.__main__ import floor_command, project_command, server_env, started, warm
from bench.scenarios import scenarios
from bench.seed import CHANGES_BEHIND, TAG, seed
from contacts_kit.auth.tokens import TokenCodec
from contacts_kit.contact.repository import search_text_of
from tests.server import free_port, temporary_database

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:8000/api/contacts
  2 threads and 32 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.50ms
     99%   10.31ms
  5210 requests in 1.00s, 2.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   5201.12
"""


def test_wrk_reports_are_read() -> None:
    result = wrk.parse(WRK_OUTPUT)
    assert (result.requests, result.non_2xx) == (5210, 3)
    assert result.rps == pytest.approx(5201.12)
    assert result.p50_ms == pytest.approx(0.812)
    assert result.p99_ms == pytest.approx(10.31)


async def _seeded_card(database_url: str, contact_id: int) -> tuple[dict[str, Any], int]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from contacts_kit.settings import normalize_database_url

    engine = create_async_engine(normalize_database_url(database_url))
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT first_name, last_name, emails::text, phones::text, "
                        "addresses::text, organization, nickname, search_text "
                        "FROM contacts_kit_contacts WHERE id = :id"
                    ),
                    {"id": contact_id},
                )
            ).one()
            claimed = (
                await connection.execute(
                    text("SELECT count(*) FROM contacts_kit_contact_emails WHERE contact_id = :id"),
                    {"id": contact_id},
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    names = ("first_name", "last_name", "emails", "phones", "addresses")
    card: dict[str, Any] = dict(zip(names, row[:5], strict=True))
    for key in ("emails", "phones", "addresses"):
        card[key] = json.loads(card[key])
    card |= {"organization": row[5], "nickname": row[6], "search_text": row[7]}
    return card, int(claimed)


def test_seeding_and_every_scenario_run_end_to_end(
    postgres_server_url: str | None, redis_server_url: str | None
) -> None:
    if postgres_server_url is None or redis_server_url is None:
        from tests.services import unavailable

        unavailable("PostgreSQL and Redis")
    # A database the server does not have yet: seeding creates it, as on a fresh machine.
    with temporary_database(
        postgres_server_url, "contacts_kit_bench_test", create=False
    ) as database_url:
        seeded = asyncio.run(seed(database_url, users=5, per_user=10, big=300))
        assert seeded.contacts == 5 * 10 + 300
        # The seed stores full cards as the API would: the search column as it folds it,
        # every email claimed.
        stored, claimed = asyncio.run(_seeded_card(database_url, seeded.sample_contact_big))
        assert stored["search_text"] == search_text_of(stored)
        assert [len(stored[k]) for k in ("emails", "phones", "addresses")] == [2, 3, 1]
        assert claimed == 2
        secret = secrets.token_urlsafe(48)
        items = scenarios(seeded, TokenCodec(secret.encode(), lambda: datetime.now(UTC)))
        assert len(items) == 11
        env = server_env(database_url, redis_server_url, secret)
        project_port, floor_port = free_port(), free_port()
        project = f"http://127.0.0.1:{project_port}"
        floor = f"http://127.0.0.1:{floor_port}"
        with (
            started(project_command(project_port, 1), env, project),
            started(floor_command(floor_port, 1), env, floor),
        ):
            warm(project, items)
            for scenario in items:
                headers = {"content-type": "application/json"}
                if scenario.token:
                    headers["Authorization"] = f"Bearer {scenario.token}"
                body = re.sub(
                    "@@EMAIL@@", lambda _: f"{uuid.uuid4()}@example.com", scenario.body or ""
                )
                path = scenario.path
                if scenario.random_ids is not None:
                    path += str(scenario.random_ids[0])
                if scenario.write_every:
                    body = ""  # its reads here; its write below, after the changes feed's
                response = httpx.request(
                    scenario.method,
                    project + path,
                    content=body or None,
                    headers=headers,
                    timeout=30,
                )
                assert response.status_code in (200, 201), (scenario.name, response.text)
                if scenario.read:
                    floor_response = httpx.get(floor + path, headers=headers, timeout=30)
                    assert floor_response.status_code == 200, scenario.name
                    # The floor answers the same question: the same contacts, in the same order.
                    ours, theirs = response.json(), floor_response.json()
                    if isinstance(ours, list):
                        assert [c["id"] for c in theirs] == [c["id"] for c in ours], scenario.name
                    else:
                        assert theirs["id"] == ours["id"]
            changes, tagged, batch = (
                httpx.request(
                    s.method,
                    project + s.path,
                    content=re.sub("@@EMAIL@@", lambda _: f"{uuid.uuid4()}@example.com", s.body)
                    if s.body
                    else None,
                    headers={
                        "Authorization": f"Bearer {s.token}",
                        "content-type": "application/json",
                    },
                    timeout=30,
                ).json()
                for s in items[8:]
            )
            # As many changes behind as seeded, contacts tagged and only those, 100 created.
            assert len(changes["changed"]) == CHANGES_BEHIND
            assert changes["has_more"] is False
            assert tagged
            assert all(contact["tags"] == [TAG] for contact in tagged)
            assert [r["status"] for r in batch["results"]] == [201] * 100, batch
            # The read-after-write mix's write, on both: the same contact changed.
            mix = items[5]
            assert mix.write_path is not None
            assert mix.body is not None
            for base in (project, floor):
                written = httpx.patch(
                    base + mix.write_path,
                    content=mix.body,
                    headers={
                        "Authorization": f"Bearer {mix.token}",
                        "content-type": "application/json",
                    },
                    timeout=30,
                )
                assert written.status_code == 200, (base, written.text)
                assert written.json()["notes"] == json.loads(mix.body)["notes"]
            if wrk.available():
                # A read, random ids, the read-after-write mix, creation with a unique email,
                # and a batch with a hundred of them.
                for scenario in (items[0], items[4], items[5], items[6], items[10]):
                    # A batch of a hundred creations takes a third of a second alone, more
                    # beside the other test process: a second could end before any answer.
                    seconds = 3 if scenario is items[10] else 1
                    result = wrk.run(project, scenario, seconds=seconds, connections=4)
                    assert result.requests > 0, scenario.name
                    assert result.non_2xx == 0, scenario.name


def test_the_instruction_counters_loop_runs_every_target(
    postgres_server_url: str | None, redis_server_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop that `python -m bench.instructions` runs under valgrind, here without it.
    from bench.instructions import SECRET, _loop

    if postgres_server_url is None or redis_server_url is None:
        from tests.services import unavailable

        unavailable("PostgreSQL and Redis")
    with temporary_database(postgres_server_url, "contacts_kit_instr_test") as database_url:
        seeded = asyncio.run(seed(database_url, users=3, per_user=5, big=50))
        for name, value in server_env(database_url, redis_server_url, SECRET).items():
            if name.startswith("CONTACTS_KIT_"):
                monkeypatch.setenv(name, value)
        # The project first: it puts the user in the cache that the floor reads.
        for target in ("project", "floor", "fastapi", "starlette"):
            for scenario in ("get", "list"):
                asyncio.run(_loop(target, scenario, 3, seeded))  # raises unless every answer is 200


def test_the_transfer_bench_file_is_a_valid_address_book() -> None:
    from bench.transfer import vcard_file
    from contacts_kit.contact.imports import decode, read, sniff
    from contacts_kit.contact.schemas import ContactCreate

    text = decode(vcard_file(30))
    assert sniff(text) == "vcard"
    records = list(read(text, "vcard"))
    assert len(records) == 30
    assert not any(record.errors for record in records)
    contacts = [ContactCreate.model_validate(record.data) for record in records]
    assert len({contact.email for contact in contacts}) == 30
    assert contacts[3].tags == ["Imported", "Group3"]


def test_the_full_card_bench_file_imports_every_field() -> None:
    from bench.transfer import full_card_file
    from contacts_kit.contact.imports import decode, read
    from contacts_kit.contact.phones import normalize_phone
    from contacts_kit.contact.schemas import ContactCreate

    records = list(read(decode(full_card_file(20)), "vcard"))
    contacts = [ContactCreate.model_validate(record.data) for record in records]
    assert [len(c.phones) for c in contacts] == [3] * 20
    assert [len(c.emails) for c in contacts] == [2] * 20
    assert all(len(c.addresses) == 1 and c.organization for c in contacts)
    assert not any(record.extra for record in records)  # nothing but fields
    for contact in contacts:
        for phone in contact.phones:
            normalize_phone(phone.value, "US")  # raises for a number that is no number
