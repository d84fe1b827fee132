"""The user cache and the rate limits on a Redis Cluster of three masters with one replica each
(the lab of `scripts/scale-lab up`), named by `redis+cluster://`: limits exact with keys spread
over the masters, and a master failover that costs at most a short fail-open burst, no failed
request, after which the limits hold again."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from contacts_kit.backends.buckets import KEY_PREFIX
from tests.conftest import RunningApp, auth_headers, make_settings, statements
from tests.contact.test_router import URL
from tests.services import lab

pytestmark = pytest.mark.scale


@pytest.fixture(scope="module")
def cluster_url() -> str:
    return lab("CONTACTS_KIT_TEST_REDIS_CLUSTER_URL")


@pytest.fixture
async def cluster(cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = RedisCluster.from_url(cluster_url.replace("+cluster", ""), decode_responses=True)
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    await client.aclose()


async def _app(database_url: str, tmp_path: Path, cluster_url: str, **overrides: Any) -> Any:
    settings = make_settings(
        database_url,
        tmp_path,
        redis_url=cluster_url,
        rate_limit_enabled=True,
        rate_limit_auth="1000/minute",
        **overrides,
    )
    return RunningApp(settings)


def _contact(number: int) -> dict[str, str]:
    return {"first_name": f"C{number}", "email": f"c{number}@example.com"}


async def test_limits_and_the_user_cache_on_a_cluster(
    postgres_database_url: str, tmp_path: Path, cluster_url: str, cluster: RedisCluster
) -> None:
    running = await _app(
        postgres_database_url, tmp_path, cluster_url, rate_limit_contact_create="3/minute"
    )
    async with running as app:
        users = [await auth_headers(app.client, f"u{n}@example.com") for n in range(6)]
        for headers in users:
            statuses = [
                (await app.client.post(URL, json=_contact(n), headers=headers)).status_code
                for n in range(5)
            ]
            assert statuses == [201, 201, 201, 429, 429]
            assert (await app.client.get("/api/users/me", headers=headers)).status_code == 200
        # A user's entry and generation are read in one MGET, which a cluster allows only
        # within one slot: a read is kept, then served with no SQL and no cache failure.
        for _ in range(2):
            await app.client.get(URL, headers=users[0])
        async with statements(app.kit) as seen:
            assert (await app.client.get(URL, headers=users[0])).status_code == 200
        assert seen == []
        assert not app.kit.breaker.open
    buckets = await cluster.keys(f"{KEY_PREFIX}*", target_nodes=RedisCluster.PRIMARIES)
    users_cached = await cluster.keys("contacts_kit:user:*", target_nodes=RedisCluster.PRIMARIES)
    assert len(users_cached) == 6
    # The keys are spread over the masters: each operation is on one key, in one slot.
    masters = {cluster.get_node_from_key(key).port for key in [*buckets, *users_cached]}
    assert len(masters) >= 2


def _ctl(*args: str) -> None:
    command = [*shlex.split(os.environ["CONTACTS_KIT_TEST_REDIS_CLUSTER_CTL"]), *args]
    subprocess.run(command, check=True, capture_output=True, timeout=30)


async def _cluster_ok(cluster: RedisCluster, port: int) -> bool:
    """Whether the cluster has failed over from the node on `port`: another node sees it as
    failed (`fail`, not just suspected) and says the cluster is whole again."""
    for node in cluster.get_nodes():
        if node.port == port:
            continue
        try:
            info = await cluster.cluster_info(target_nodes=node)
            nodes = await node.execute_command("CLUSTER NODES")
        except Exception:  # noqa: S112 - a node that does not answer has no say
            continue
        flags = str(nodes.get(f"127.0.0.1:{port}", {}).get("flags", ""))
        return "fail" in flags.split(",") and info.get("cluster_state") == "ok"
    return False


async def test_a_master_failover_fails_no_request_and_the_limits_come_back(
    postgres_database_url: str,
    tmp_path: Path,
    cluster_url: str,
    cluster: RedisCluster,
) -> None:
    limit = 30
    running = await _app(
        postgres_database_url,
        tmp_path,
        cluster_url,
        rate_limit_contact_create=f"{limit}/minute",
        redis_timeout=0.5,
        cache_retry_after=1.0,
    )
    async with running as app:
        headers = await auth_headers(app.client, "failover@example.com")
        for n in range(5):
            assert (
                await app.client.post(URL, json=_contact(n), headers=headers)
            ).status_code == 201
        (bucket,) = [
            key
            for key in await cluster.keys(f"{KEY_PREFIX}*", target_nodes=RedisCluster.PRIMARIES)
            if key.startswith(f"{KEY_PREFIX}create:")
        ]
        master = cluster.get_node_from_key(bucket)
        await asyncio.to_thread(
            subprocess.run,
            ["redis-cli", "-p", str(master.port), "shutdown", "nosave"],
            check=False,
            timeout=10,
        )
        try:
            statuses: list[int] = []
            number = 5
            # Reads and writes go on while the cluster promotes the master's replica.
            for _ in range(200):
                me = await app.client.get("/api/users/me", headers=headers)
                listed = await app.client.get(URL, headers=headers)
                statuses += [me.status_code, listed.status_code]
                if await _cluster_ok(cluster, master.port):
                    break
                await asyncio.sleep(0.05)
            assert set(statuses) == {200}, statuses
            assert await _cluster_ok(cluster, master.port), "no replica was promoted"
            # The store's breaker skips it for `cache_retry_after` after a failure (the
            # fail-open burst); reads go on meanwhile, then the limits count again.
            for _ in range(30):
                assert (await app.client.get(URL, headers=headers)).status_code == 200
                await asyncio.sleep(0.05)
            # Back to counting: the limit bites again within what is left of it (the
            # creations admitted while the store was away are the fail-open burst).
            admitted = 0
            for _ in range(limit + 5):
                created = await app.client.post(URL, json=_contact(number), headers=headers)
                number += 1
                assert created.status_code in (201, 429), created.text
                if created.status_code == 429:
                    break
                admitted += 1
            assert admitted <= limit - 5, admitted
            assert created.status_code == 429
        finally:
            _ctl("start", str(master.port))
