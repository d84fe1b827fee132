"""Concurrent writes to one contact by a single request and by a batch: every write of an
owner's book takes the owner's change counter before it locks a contact, so the two wait
for each other instead of deadlocking."""

from __future__ import annotations

import asyncio

import httpx

from tests.contact.test_router import URL, create


async def test_a_patch_and_a_batch_on_one_contact_at_once_both_succeed(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    ada = await create(client, alice, tags=["one"])
    for round_ in range(8):
        patch = client.patch(
            f"{URL}/{ada['id']}",
            json={"notes": f"p{round_}", "tags": [f"p{round_}"]},
            headers=alice,
        )
        batch = client.post(
            f"{URL}/batch",
            json={
                "operations": [
                    {"op": "create", "data": {"first_name": "B", "email": f"b{round_}@x.org"}},
                    {"op": "update", "id": ada["id"], "data": {"notes": f"b{round_}"}},
                ]
            },
            headers=alice,
        )
        patched, batched = await asyncio.gather(patch, batch)
        assert patched.status_code == 200, patched.text
        assert batched.status_code == 200, batched.text
        assert [r["status"] for r in batched.json()["results"]] == [201, 200], batched.text
