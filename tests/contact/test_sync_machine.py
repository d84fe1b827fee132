"""Two clients keep copies of one address book through the changes feed while the server's
book is written at random: creates, updates, tag edits, trash, restores, permanent deletes,
purges, batches (atomic or not, some with a failing operation) and bursts of concurrent
writes. After every sync, the client's copy is the server's book exactly. A hypothesis state
machine, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from contacts_kit.contact.service import purge
from contacts_kit.db.engine import make_session_factory, transactional
from tests.conftest import RunningApp, auth_headers, make_settings
from tests.contact.sync import Replica, server_book

URL = "/api/contacts"
TAG_NAMES = ("Family", "Work", "Gym")
T = TypeVar("T")


class _Book:
    """The running app and its event loop, shared by the steps of every example."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.running = RunningApp(make_settings(database_url, tmp_path))
        self.harness = self.run(self.running.__aenter__())
        self.examples = 0

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    def close(self) -> None:
        try:
            self.run(self.running.__aexit__(None, None, None))
        finally:
            self.loop.close()


def _machine(book: _Book) -> type[RuleBasedStateMachine]:
    class SyncMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            book.examples += 1
            self.client = book.harness.client
            self.headers = book.run(auth_headers(self.client, f"sync-{book.examples}@example.com"))
            self.replicas = [Replica(self.client, self.headers) for _ in range(2)]
            self.live: set[int] = set()
            self.trashed: set[int] = set()
            self.serial = 0

        def _create(self, tags: list[str]) -> Any:
            self.serial += 1
            body = {"first_name": f"C{self.serial}", "email": f"c{self.serial}@example.com"}
            return self.client.post(URL, json=body | {"tags": tags}, headers=self.headers)

        @rule(tags=st.lists(st.sampled_from(TAG_NAMES), max_size=2))
        def create(self, tags: list[str]) -> None:
            response = book.run(self._create(tags))
            assert response.status_code == 201, response.text
            self.live.add(response.json()["id"])

        @precondition(lambda self: self.live)
        @rule(
            data=st.data(),
            notes=st.text("abc ", max_size=5),
            tags=st.lists(st.sampled_from(TAG_NAMES), max_size=3),
        )
        def update(self, data: st.DataObject, notes: str, tags: list[str]) -> None:
            contact_id = data.draw(st.sampled_from(sorted(self.live)))
            response = book.run(
                self.client.patch(
                    f"{URL}/{contact_id}", json={"notes": notes, "tags": tags}, headers=self.headers
                )
            )
            assert response.status_code == 200, response.text

        @precondition(lambda self: self.live)
        @rule(data=st.data())
        def trash(self, data: st.DataObject) -> None:
            contact_id = data.draw(st.sampled_from(sorted(self.live)))
            response = book.run(self.client.delete(f"{URL}/{contact_id}", headers=self.headers))
            assert response.status_code == 204
            self.live.remove(contact_id)
            self.trashed.add(contact_id)

        @precondition(lambda self: self.trashed)
        @rule(data=st.data())
        def restore(self, data: st.DataObject) -> None:
            contact_id = data.draw(st.sampled_from(sorted(self.trashed)))
            response = book.run(
                self.client.post(f"{URL}/{contact_id}/restore", headers=self.headers)
            )
            assert response.status_code == 200, response.text
            self.trashed.remove(contact_id)
            self.live.add(contact_id)

        @precondition(lambda self: self.live or self.trashed)
        @rule(data=st.data())
        def delete_for_good(self, data: st.DataObject) -> None:
            contact_id = data.draw(st.sampled_from(sorted(self.live | self.trashed)))
            response = book.run(
                self.client.delete(
                    f"{URL}/{contact_id}", params={"permanent": "true"}, headers=self.headers
                )
            )
            assert response.status_code == 204
            self.live.discard(contact_id)
            self.trashed.discard(contact_id)

        @precondition(lambda self: self.trashed)
        @rule()
        def purge_the_trash(self) -> None:
            sessions = make_session_factory(transactional(book.harness.kit.engine))
            later = datetime.now(UTC) + timedelta(days=1)
            # Every user's trash goes, earlier examples' users included.
            assert book.run(purge(sessions, later, timedelta(0))) >= len(self.trashed)
            trash = book.run(self.client.get(f"{URL}/trash", headers=self.headers))
            assert trash.json() == []
            self.trashed.clear()

        @rule(
            data=st.data(),
            atomic=st.booleans(),
            size=st.integers(1, 5),
            failing=st.none() | st.integers(0, 5),
        )
        def batch(self, data: st.DataObject, atomic: bool, size: int, failing: int | None) -> None:
            operations: list[dict[str, Any]] = []
            left = set(self.live)
            for _ in range(size):
                kind = data.draw(
                    st.sampled_from(("create", "update", "delete") if left else ("create",))
                )
                if kind == "create":
                    self.serial += 1
                    body = {"first_name": f"B{self.serial}", "email": f"b{self.serial}@example.com"}
                    operations.append({"op": "create", "data": body | {"tags": ["Batch"]}})
                    continue
                contact_id = data.draw(st.sampled_from(sorted(left)))
                if kind == "update":
                    operations.append({"op": "update", "id": contact_id, "data": {"notes": "b"}})
                else:
                    operations.append({"op": "delete", "id": contact_id})
                    left.remove(contact_id)
            if failing is not None:  # an id no one has: a 404
                failure = {"op": "update", "id": 2**62, "data": {"notes": "never"}}
                operations.insert(min(failing, len(operations)), failure)
            response = book.run(
                self.client.post(
                    f"{URL}/batch",
                    json={"operations": operations},
                    params={"atomic": str(atomic).lower()},
                    headers=self.headers,
                )
            )
            if atomic and failing is not None:
                assert response.status_code == 404, response.text
                return  # nothing was written
            assert response.status_code == 200, response.text
            for operation, result in zip(operations, response.json()["results"], strict=True):
                if operation.get("id") == 2**62:
                    assert result["status"] == 404
                elif operation["op"] == "create":
                    assert result["status"] == 201, result
                    self.live.add(result["contact"]["id"])
                elif operation["op"] == "delete":
                    assert result["status"] == 204, result
                    self.live.remove(operation["id"])
                    self.trashed.add(operation["id"])
                else:
                    assert result["status"] == 200, result

        @rule(pick=st.integers(0, 7), name=st.sampled_from(("family", "WORK", "Gym", "Friends")))
        def rename_a_tag(self, pick: int, name: str) -> None:
            tags = book.run(self.client.get("/api/tags", headers=self.headers)).json()
            if not tags:
                return
            tag = tags[pick % len(tags)]
            response = book.run(
                self.client.patch(
                    f"/api/tags/{tag['id']}", json={"name": name}, headers=self.headers
                )
            )
            assert response.status_code in (200, 409), response.text

        @precondition(lambda self: self.live)
        @rule(size=st.integers(2, 5))
        def burst_of_concurrent_writes(self, size: int) -> None:
            targets = sorted(self.live)[:size]

            async def burst() -> list[Any]:
                writes = [self._create(["Work"]) for _ in range(size)]
                writes += [
                    self.client.patch(f"{URL}/{i}", json={"notes": "burst"}, headers=self.headers)
                    for i in targets
                ]
                return await asyncio.gather(*writes)

            answers = book.run(burst())
            for answer in answers[:size]:
                assert answer.status_code == 201, answer.text
                self.live.add(answer.json()["id"])
            assert all(answer.status_code == 200 for answer in answers[size:])

        @rule(which=st.integers(0, 1), limit=st.integers(1, 7))
        def sync(self, which: int, limit: int) -> None:
            replica = self.replicas[which]
            book.run(replica.sync(limit=limit))
            assert replica.contacts == book.run(server_book(self.client, self.headers))
            assert set(replica.contacts) == self.live

    return SyncMachine


def test_two_clients_syncing_always_hold_the_servers_book(
    database_url: str, tmp_path: Path
) -> None:
    book = _Book(database_url, tmp_path)
    try:
        run_state_machine_as_test(
            _machine(book),
            settings=settings(
                max_examples=12,
                stateful_step_count=30,
                deadline=None,
                derandomize=True,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        book.close()
