"""Webhooks end to end, on both dialects, with a real receiver (an HTTP server on
127.0.0.1): Standard Webhooks signatures verified by the `standardwebhooks` package, the
outbox (nothing sent for a rolled-back write), retries with the same id after a 500 and a
timeout, one endpoint's messages in order, rotation, the test message, the delivery log and
its retry, disabling, the refused addresses, two dispatchers at once, a host app."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contacts_kit.webhooks.dispatcher import Dispatcher
from tests.conftest import Harness, RunningApp, auth_headers, make_settings
from tests.test_host_users import host_settings, running_host
from tests.webhooks.receiver import Receiver, receiver

API = "/api"
FAST = {
    "webhook_allow_private_urls": True,
    "webhook_retry_schedule": "0.3,0.3,0.3",
    "webhook_timeout": 1,
}


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with RunningApp(make_settings(database_url, tmp_path, **FAST)) as running:
        yield running


async def _endpoint(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    body = {"url": url, "events": events or ["contact.created", "contact.updated"]}
    created = await client.post(f"{API}/webhooks", json=body, headers=headers)
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


async def _drain(dispatcher: Dispatcher, rounds: int = 10, wait: float = 0.0) -> None:
    """Run the dispatcher until nothing is due (or `rounds` rounds), `wait` s apart."""
    for _ in range(rounds):
        if await dispatcher.run_once() == 0 and not wait:
            return
        if wait:
            await asyncio.sleep(wait)


def _verified(secret: str, received: Any) -> dict[str, Any]:
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


async def test_a_change_is_signed_and_delivered_as_the_api_shows_it(
    app: Harness, hook: Receiver
) -> None:
    client = app.client
    alice = await auth_headers(client, "alice@example.com")
    endpoint = await _endpoint(client, alice, hook.url)
    assert endpoint["secret"].startswith("whsec_")
    assert (
        "secret" not in (await client.get(f"{API}/webhooks/{endpoint['id']}", headers=alice)).json()
    )
    created = await client.post(
        f"{API}/contacts", json={"first_name": "Ada", "email": "ada@example.com"}, headers=alice
    )
    contact = created.json()
    # A write that fails (the email is taken) and an atomic batch that fails send nothing.
    taken = await client.post(
        f"{API}/contacts", json={"first_name": "Ada", "email": "ada@example.com"}, headers=alice
    )
    assert taken.status_code == 409
    batch = {
        "operations": [
            {"op": "create", "data": {"first_name": "B", "email": "b@x.org"}},
            {"op": "delete", "id": 10**12},
        ]
    }
    failed = await client.post(f"{API}/contacts/batch?atomic=true", json=batch, headers=alice)
    assert failed.status_code == 404
    await _drain(app.kit.dispatcher)
    (received,) = hook.received
    payload = _verified(endpoint["secret"], received)
    assert payload["type"] == "contact.created"
    assert payload["data"] == contact
    assert received.headers["webhook-id"].startswith("msg_")
    # Someone else's key does not verify it.
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(received.body, received.headers)
    # Events not subscribed to are not sent.
    assert (
        await client.delete(f"{API}/contacts/{contact['id']}", headers=alice)
    ).status_code == 204
    await _drain(app.kit.dispatcher)
    assert len(hook.received) == 1
    log = (await client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=alice)).json()
    (delivery,) = log["items"]
    assert (delivery["state"], delivery["event_type"]) == ("delivered", "contact.created")
    assert [a["status_code"] for a in delivery["attempts"]] == [204]


async def test_a_failed_message_is_retried_with_the_same_id_in_order(
    app: Harness, hook: Receiver
) -> None:
    client = app.client
    alice = await auth_headers(client, "alice@example.com")
    endpoint = await _endpoint(client, alice, hook.url)
    contact = (
        await client.post(
            f"{API}/contacts", json={"first_name": "Ada", "phone": "+12025550143"}, headers=alice
        )
    ).json()
    for note in ("one", "two"):
        changed = await client.patch(
            f"{API}/contacts/{contact['id']}", json={"notes": note}, headers=alice
        )
        assert changed.status_code == 200
    hook.statuses = [500]
    await _drain(app.kit.dispatcher)
    # The first failed: nothing after it went (one endpoint's messages go in order).
    assert len(hook.received) == 1
    hook.delay = 1.5  # longer than the timeout
    await asyncio.sleep(0.35)
    await _drain(app.kit.dispatcher)
    hook.delay = 0
    await asyncio.sleep(0.35)
    await _drain(app.kit.dispatcher, rounds=5, wait=0.05)
    ids = [r.headers["webhook-id"] for r in hook.received]
    assert ids[0] == ids[1] == ids[2]  # 500, timed out, delivered: one message
    notes = [_verified(endpoint["secret"], r)["data"]["notes"] for r in hook.received[2:]]
    assert notes == [None, "one", "two"]
    log = (await client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=alice)).json()
    first = log["items"][-1]
    assert [a["status_code"] for a in first["attempts"]] == [500, None, 204]
    assert first["attempts"][1]["error"] == "timed out"
    assert all(d["state"] == "delivered" for d in log["items"])
    # The log a page at a time, and a message sent again on request, with its id.
    page = await client.get(
        f"{API}/webhooks/{endpoint['id']}/deliveries", params={"limit": 2}, headers=alice
    )
    assert len(page.json()["items"]) == 2
    rest = await client.get(
        f"{API}/webhooks/{endpoint['id']}/deliveries",
        params={"before": page.json()["next"]},
        headers=alice,
    )
    assert [d["id"] for d in rest.json()["items"]] == [first["id"]]
    again = await client.post(
        f"{API}/webhooks/{endpoint['id']}/deliveries/{first['id']}/retry", headers=alice
    )
    assert again.status_code == 202
    await _drain(app.kit.dispatcher)
    assert hook.received[-1].headers["webhook-id"] == ids[0]


async def test_rotation_test_messages_and_disabling(
    database_url: str, tmp_path: Path, hook: Receiver
) -> None:
    settings = make_settings(database_url, tmp_path, **FAST, webhook_disable_after=0.5)
    async with RunningApp(settings) as app:
        client = app.client
        alice = await auth_headers(client, "alice@example.com")
        endpoint = await _endpoint(client, alice, hook.url, ["tag.renamed", "tag.deleted"])
        rotated = await client.post(f"{API}/webhooks/{endpoint['id']}/secret", headers=alice)
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new != endpoint["secret"]
        assert rotated.json()["previous_valid_until"]
        ping = await client.post(f"{API}/webhooks/{endpoint['id']}/test", headers=alice)
        assert ping.status_code == 202
        await _drain(app.kit.dispatcher)
        (received,) = hook.received
        # Signed with both secrets while the old one still signs: either verifies it.
        assert len(received.headers["webhook-signature"].split()) == 2
        assert _verified(endpoint["secret"], received)["type"] == "webhook.test"
        assert _verified(new, received)["data"] == {"endpoint_id": endpoint["id"]}
        # Tag events.
        tag = (await client.post(f"{API}/tags", json={"name": "Work"}, headers=alice)).json()
        await client.patch(f"{API}/tags/{tag['id']}", json={"name": "Job"}, headers=alice)
        await client.delete(f"{API}/tags/{tag['id']}", headers=alice)
        await _drain(app.kit.dispatcher)
        events = [_verified(new, r) for r in hook.received[1:]]
        assert [(e["type"], e["data"]["name"]) for e in events] == [
            ("tag.renamed", "Job"),
            ("tag.deleted", "Job"),
        ]
        assert events[0]["data"]["previous_name"] == "Work"
        # Failing for longer than `webhook_disable_after`: disabled, and nothing more is sent.
        hook.statuses = [503] * 10
        await client.post(f"{API}/webhooks/{endpoint['id']}/test", headers=alice)
        await _drain(app.kit.dispatcher, rounds=8, wait=0.35)
        shown = (await client.get(f"{API}/webhooks/{endpoint['id']}", headers=alice)).json()
        assert shown["enabled"] is False
        assert shown["disabled_reason"].startswith("failed since")
        sent = len(hook.received)
        await client.post(f"{API}/webhooks/{endpoint['id']}/test", headers=alice)
        await _drain(app.kit.dispatcher, rounds=2, wait=0.35)
        assert len(hook.received) == sent
        # Turned back on: what waited goes.
        hook.statuses = []
        back = await client.patch(
            f"{API}/webhooks/{endpoint['id']}", json={"enabled": True}, headers=alice
        )
        assert back.json()["enabled"] is True
        assert back.json()["failing_since"] is None
        await _drain(app.kit.dispatcher, rounds=5, wait=0.35)
        assert len(hook.received) > sent


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hooks", "127.0.0.1 is not a public address"),
        ("https://10.0.0.1/hooks", "10.0.0.1 is not a public address"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is not a public address"),
        ("https://[::1]/hooks", "::1 is not a public address"),
        ("https://localhost/hooks", "localhost resolves to"),
        ("http://example.com/hooks", "only https URLs"),
        ("https://user:pw@example.com/hooks", "user name or password"),
        ("ftp://example.com/", "only https URLs"),
    ],
)
async def test_private_and_plain_addresses_are_refused(
    client: httpx.AsyncClient, alice: dict[str, str], url: str, reason: str
) -> None:
    refused = await client.post(
        f"{API}/webhooks", json={"url": url, "events": ["contact.created"]}, headers=alice
    )
    assert refused.status_code == 422, refused.text
    assert reason in refused.text
    assert (await client.get(f"{API}/webhooks", headers=alice)).json() == []


async def test_a_url_that_turned_private_is_not_sent_to(
    database_url: str, tmp_path: Path, hook: Receiver
) -> None:
    """Saved while private addresses were allowed, sent when they are not: the address is
    checked again at each send (as a name that now resolves elsewhere would be)."""
    allowed = make_settings(database_url, tmp_path, **FAST)
    async with RunningApp(allowed) as app:
        alice = await auth_headers(app.client, "alice@example.com")
        endpoint = await _endpoint(app.client, alice, hook.url.replace("127.0.0.1", "localhost"))
        dispatcher = app.kit.dispatcher
        dispatcher.settings = dataclasses.replace(dispatcher.settings, allow_private=False)
        await app.client.post(
            f"{API}/contacts", json={"first_name": "Ada", "email": "a@x.org"}, headers=alice
        )
        await _drain(app.kit.dispatcher)
        assert hook.received == []
        log = await app.client.get(f"{API}/webhooks/{endpoint['id']}/deliveries", headers=alice)
        (attempt,) = log.json()["items"][0]["attempts"]
        assert attempt["error"].startswith("refused: localhost resolves to 127.0.0.1")


async def test_two_dispatchers_send_each_message_once(app: Harness, hook: Receiver) -> None:
    client = app.client
    alice = await auth_headers(client, "alice@example.com")
    for index in range(3):
        await _endpoint(client, alice, f"{hook.url}/{index}")
    operations = [
        {"op": "create", "data": {"first_name": f"P{i}", "email": f"p{i}@x.org"}} for i in range(20)
    ]
    assert (
        await client.post(f"{API}/contacts/batch", json={"operations": operations}, headers=alice)
    ).status_code == 200
    settings = app.kit.dispatcher.settings
    other = Dispatcher(app.kit.sessions, lambda: app.kit.webhook_secrets, settings, app.kit.now)
    for _ in range(30):
        sent = await asyncio.gather(app.kit.dispatcher.run_once(), other.run_once())
        if sum(sent) == 0:
            break
    await other.aclose()
    ids = [r.headers["webhook-id"] for r in hook.received]
    assert len(ids) == 60
    assert len(set(ids)) == 60  # none twice
    for index in range(3):
        names = [
            json.loads(r.body)["data"]["first_name"]
            for r in hook.received
            if r.path == f"/hooks/{index}"
        ]
        assert names == [f"P{i}" for i in range(20)]  # each endpoint's in order


async def test_endpoints_are_the_owners_own_and_checked(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    bad = await client.post(
        f"{API}/webhooks", json={"url": "https://example.com", "events": []}, headers=alice
    )
    assert bad.status_code == 422
    unknown = await client.post(
        f"{API}/webhooks", json={"url": "https://example.com", "events": ["x.y"]}, headers=alice
    )
    assert unknown.status_code == 422
    assert (await client.get(f"{API}/webhooks/1", headers=bob)).status_code == 404
    assert (await client.get(f"{API}/webhooks/x", headers=bob)).status_code == 422


async def test_webhooks_work_in_a_host_app(
    database_url: str, redis_url: str, tmp_path: Path, hook: Receiver
) -> None:
    settings = host_settings(database_url, tmp_path, redis_url=redis_url, **FAST)
    async with running_host(settings) as host:
        ada, grace = host.users
        created = await ada.post(
            "/api/webhooks", json={"url": hook.url, "events": ["contact.created"]}
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        await ada.post("/api/contacts", json={"first_name": "Kateryna", "email": "k@x.org"})
        await grace.post("/api/contacts", json={"first_name": "Grace", "email": "g@x.org"})
        await _drain(host.kit.dispatcher)
        (received,) = hook.received
        assert _verified(secret, received)["data"]["first_name"] == "Kateryna"
        assert (await grace.get("/api/webhooks")).json() == []
        erased = await host.kit.erase_owner(host.ids[0])
        assert erased.rows["contacts_kit_webhook_endpoints"] == 1
