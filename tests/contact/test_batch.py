"""`POST /contacts/batch`: up to 100 creates, updates and deletes, each as its single request
would answer it, one at a time or all or nothing (`atomic=true`); rate limits count every
operation; on both dialects and embedded in a host app under its own prefix."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import RunningApp, auth_headers, make_settings
from tests.contact.test_router import URL, create
from tests.test_embedding import API, embedded_user
from tests.test_hooks import _Recorder

BATCH = f"{URL}/batch"
MISSING = 2**62


def _new(index: int, **fields: Any) -> dict[str, Any]:
    return {
        "op": "create",
        "data": {"first_name": f"N{index}", "email": f"n{index}@example.com"} | fields,
    }


async def _batch(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    operations: list[dict[str, Any]],
    *,
    atomic: bool = False,
    url: str = BATCH,
) -> httpx.Response:
    params = {"atomic": "true"} if atomic else {}
    return await client.post(url, json={"operations": operations}, params=params, headers=headers)


async def _book(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[int, Any]:
    listed = await client.get(URL, params={"limit": 100}, headers=headers)
    assert listed.status_code == 200, listed.text
    return {contact["id"]: contact for contact in listed.json()}


async def _changes(client: httpx.AsyncClient, headers: dict[str, str], since: str) -> Any:
    response = await client.get(f"{URL}/changes", params={"since": since}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_operation_stands_alone_and_answers_as_its_single_request(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    kept = await create(client, alice, email="kept@example.com")
    stale = await create(client, alice, email="stale@example.com", first_name="Stale")
    gone = await create(client, alice, email="gone@example.com", first_name="Gone")
    bobs = await create(client, bob, email="bob-contact@example.com")
    etag = (await client.get(f"{URL}/{stale['id']}", headers=alice)).headers["etag"]
    await client.patch(f"{URL}/{stale['id']}", json={"notes": "moved on"}, headers=alice)
    since = (await client.get(f"{URL}/changes", headers=alice)).json()["next"]

    answer = await _batch(
        client,
        alice,
        [
            _new(1, tags=["Batch"]),
            _new(2, email="KEPT@example.com", tags=["Doomed"]),  # the email is taken
            {"op": "update", "id": kept["id"], "data": {"favorite": True, "tags": ["Batch"]}},
            {"op": "update", "id": stale["id"], "if_match": etag, "data": {"notes": "x"}},
            {"op": "update", "id": bobs["id"], "data": {"notes": "mine now"}},
            {"op": "create", "data": {"first_name": "Nobody"}},  # no email, no phone
            {"op": "update", "id": kept["id"], "data": {"phone": "not a phone"}},
            {"op": "delete", "id": gone["id"]},
            {"op": "delete", "id": gone["id"]},  # in the trash since the operation before
        ],
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [result["status"] for result in results] == [201, 409, 200, 412, 404, 422, 422, 204, 404]

    created = results[0]
    assert created["contact"]["email"] == "n1@example.com"
    assert created["contact"]["tags"] == ["Batch"]
    assert created["etag"] == f'"{created["contact"]["id"]}-1"'
    assert created["error"] is None
    assert results[1]["error"]["code"] == "CONTACT_EMAIL_EXISTS"
    assert results[1]["contact"] is None
    assert results[2]["contact"]["favorite"] is True
    assert results[3]["error"]["code"] == "PRECONDITION_FAILED"
    assert results[4]["error"]["code"] == "CONTACT_NOT_FOUND"
    # A 422 as the single request's, each error located in the batch's body.
    [missing] = results[5]["error"]["detail"]
    assert missing["loc"] == ["body", "operations", 5, "data"]
    assert "email or a phone" in missing["msg"]
    [phone] = results[6]["error"]["detail"]
    assert phone["loc"] == ["body", "operations", 6, "data", "phone"]
    assert results[7] == {
        "status": 204,
        "contact": None,
        "etag": None,
        "merge_id": None,
        "error": None,
    }

    book = await _book(client, alice)
    assert set(book) == {kept["id"], stale["id"], created["contact"]["id"]}
    assert book[kept["id"]]["favorite"] is True
    assert book[kept["id"]]["phone"] == kept["phone"]
    assert book[stale["id"]]["notes"] == "moved on"
    assert [c["id"] for c in (await client.get(f"{URL}/trash", headers=alice)).json()] == [
        gone["id"]
    ]
    # The failed create left nothing, not even the tag it named.
    tags = (await client.get("/api/tags", headers=alice)).json()
    assert [(tag["name"], tag["contacts"]) for tag in tags] == [("Batch", 2)]
    assert (await client.get(f"{URL}/{bobs['id']}", headers=bob)).json()["notes"] == bobs["notes"]
    # The changes feed has every write of the batch, and only those.
    changes = await _changes(client, alice, since)
    assert sorted(c["id"] for c in changes["changed"]) == sorted(
        [kept["id"], created["contact"]["id"]]
    )
    assert changes["deleted"] == [gone["id"]]


async def test_an_atomic_batch_writes_everything(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    first = await create(client, alice, email="first@example.com")
    etag = (await client.get(f"{URL}/{first['id']}", headers=alice)).headers["etag"]
    operations = [_new(index) for index in range(3)]
    operations += [
        {"op": "update", "id": first["id"], "if_match": etag, "data": {"last_name": None}},
    ]
    answer = await _batch(client, alice, operations, atomic=True)
    assert answer.status_code == 200, answer.text
    assert [result["status"] for result in answer.json()["results"]] == [201, 201, 201, 200]
    book = await _book(client, alice)
    assert len(book) == 4
    assert book[first["id"]]["last_name"] is None


async def test_an_atomic_batch_with_one_failure_writes_nothing(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    first = await create(client, alice, email="first@example.com", notes="as it was")
    etag = (await client.get(f"{URL}/{first['id']}", headers=alice)).headers["etag"]
    since = (await client.get(f"{URL}/changes", headers=alice)).json()["next"]
    before = await _book(client, alice)
    update = {"op": "update", "id": first["id"], "data": {"notes": "changed", "tags": ["New"]}}
    cases = [
        (_new(9, email="first@example.com"), 409, "CONTACT_EMAIL_EXISTS"),
        ({"op": "delete", "id": first["id"], "if_match": '"1-999"'}, 412, "PRECONDITION_FAILED"),
        ({"op": "delete", "id": MISSING}, 404, "CONTACT_NOT_FOUND"),
        ({"op": "create", "data": {"first_name": "", "phone": "+12025550143"}}, 422, None),
    ]
    for failing, status, code in cases:
        operations = [update, _new(1), _new(2, tags=["Fresh"]), failing, _new(3)]
        answer = await _batch(client, alice, operations, atomic=True)
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["index"] == 3
        if code is None:  # a 422 like any other, located at the operation
            [error] = body["detail"]
            assert error["loc"] == ["body", "operations", 3, "data", "first_name"]
        else:
            assert body["detail"].startswith("Operation 3 failed, so the batch wrote nothing")
            assert body["code"] == body["error"]["code"] == code
        assert await _book(client, alice) == before
        assert (await client.get("/api/tags", headers=alice)).json() == []
        assert await _changes(client, alice, since) | {"next": None} == {
            "changed": [],
            "deleted": [],
            "next": None,
            "has_more": False,
        }
    # The contact's tag is as it was: a write with it still succeeds at the same version.
    unchanged = await client.patch(
        f"{URL}/{first['id']}", json={"notes": "later"}, headers=alice | {"If-Match": etag}
    )
    assert unchanged.status_code == 200


async def test_the_batch_itself_must_be_well_formed(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    contact = await create(client, alice)
    bad: list[tuple[Any, str]] = [
        ({"operations": []}, "operations"),
        ({"operations": [_new(i) for i in range(101)]}, "operations"),
        ({"operations": [{"op": "merge", "id": 1}]}, "operations"),
        ({"operations": [{"op": "delete"}]}, "id"),
        ({"operations": [{"op": "delete", "id": "1"}]}, "id"),
        ({"operations": [{"op": "delete", "id": 0}]}, "id"),
        ({"operations": [{"op": "delete", "id": contact["id"], "data": {}}]}, "data"),
        ({"operations": [{"op": "update", "id": contact["id"]}]}, "data"),
        ({"operations": [{"op": "create", "data": "Ada"}]}, "data"),
        ({"operations": [_new(1)], "atomic": True}, "atomic"),
        ([_new(1)], "body"),
    ]
    for body, named in bad:
        answer = await client.post(BATCH, json=body, headers=alice)
        assert answer.status_code == 422, (body, answer.text)
        assert named in answer.text
    not_json = await client.post(
        BATCH, content=b"{", headers=alice | {"content-type": "application/json"}
    )
    assert not_json.status_code in (400, 422)
    assert (await client.get(BATCH, headers=alice)).status_code == 405
    assert (await client.get(BATCH, headers=alice)).headers["allow"] == "POST"
    assert (await client.post(BATCH, json={"operations": [_new(1)]})).status_code == 401
    assert list(await _book(client, alice)) == [contact["id"]]


async def test_a_batch_of_100_creates_and_then_100_updates(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    answer = await _batch(client, alice, [_new(index) for index in range(100)])
    assert answer.status_code == 200
    ids = [result["contact"]["id"] for result in answer.json()["results"]]
    assert len(set(ids)) == 100
    updates = [
        {"op": "update", "id": contact_id, "if_match": f'"{contact_id}-1"', "data": {"notes": "v2"}}
        for contact_id in ids
    ]
    answer = await _batch(client, alice, updates, atomic=True)
    assert [result["etag"] for result in answer.json()["results"]] == [
        f'"{contact_id}-2"' for contact_id in ids
    ]
    book = await _book(client, alice)
    assert {contact["notes"] for contact in book.values()} == {"v2"}


async def test_rate_limits_count_every_operation(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_contact_create="3/minute",
        rate_limit_contacts="4/minute",
        rate_limit_auth="100/minute",
    )
    async with RunningApp(settings) as running:
        client = running.client
        alice = await auth_headers(client, "alice@example.com")
        answer = await _batch(client, alice, [_new(index) for index in range(3)])
        assert answer.status_code == 200
        ids = [result["contact"]["id"] for result in answer.json()["results"]]
        # The three creations spent the creation budget, as three requests would.
        single = await client.post(URL, json=_new(7)["data"], headers=alice)
        assert single.status_code == 429
        updates = [{"op": "update", "id": i, "data": {"notes": "x"}} for i in ids]
        assert (await _batch(client, alice, updates)).status_code == 200
        # Three of the four other requests are spent: two more operations are too many.
        over = await _batch(client, alice, updates[:2])
        assert over.status_code == 429
        assert over.json()["code"] == "RATE_LIMITED"
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert (await client.get(URL, headers=alice)).status_code == 200  # the last one

        # More operations than the limit could ever allow: a 429 that says so.
        bob = await auth_headers(client, "bob@example.com")
        too_many = await _batch(client, bob, [_new(index) for index in range(4)])
        assert too_many.status_code == 429
        assert "counts as 4" in too_many.json()["detail"]
        assert (await client.get(URL, headers=bob)).json() == []


async def test_a_batch_tells_the_plugins_what_it_wrote(database_url: str, tmp_path: Path) -> None:
    recorder = _Recorder()
    settings = make_settings(database_url, tmp_path)
    async with RunningApp(settings, plugins=(recorder,)) as running:
        client = running.client
        alice = await auth_headers(client, "alice@example.com")
        me = uuid.UUID((await client.get("/api/users/me", headers=alice)).json()["id"])
        kept = await create(client, alice, email="kept@example.com")
        gone = await create(client, alice, email="gone@example.com")
        recorder.events.clear()
        failed = await _batch(
            client, alice, [_new(1), {"op": "delete", "id": MISSING}], atomic=True
        )
        assert failed.status_code == 404
        assert recorder.events == []
        answer = await _batch(
            client,
            alice,
            [
                _new(2),
                {"op": "update", "id": kept["id"], "data": {"notes": "seen"}},
                {"op": "delete", "id": gone["id"], "permanent": True},
                {"op": "delete", "id": MISSING},
            ],
        )
        assert answer.status_code == 200
        seen = [
            (name, event.get("contact"), event.get("contact_id")) for name, event in recorder.events
        ]
        assert [name for name, _, _ in seen] == [
            "on_contact_created",
            "on_contact_updated",
            "on_contact_deleted",
        ]
        assert seen[0][1].email == "n2@example.com"
        assert seen[1][1].notes == "seen"
        assert seen[2][2] == gone["id"]
        assert recorder.events[2][1]["permanent"] is True
        assert all(event["owner_id"] == me for _, event in recorder.events)


async def test_a_batch_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "batch@example.com") as (client, headers):
        url = f"{API}/contacts/batch"
        answer = await _batch(client, headers, [_new(1), _new(1)], url=url)
        assert answer.status_code == 200
        assert answer.headers["x-host-middleware"] == "yes"
        assert [result["status"] for result in answer.json()["results"]] == [201, 409]
        atomic = await _batch(client, headers, [_new(2), _new(1)], url=url, atomic=True)
        assert atomic.status_code == 409
        assert atomic.json()["index"] == 1
        listed = await client.get(f"{API}/contacts", headers=headers)
        assert [contact["email"] for contact in listed.json()] == ["n1@example.com"]
        assert (await client.put(url, headers=headers)).status_code == 405
