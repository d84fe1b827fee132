"""Read replicas: which node serves a read, and how far behind each replica is.

The rule (defended in docs/scaling.md): a read goes to a replica only when

- the replica was seen fully caught up with the primary within `replica_max_lag` (a check
  every `replica_check_interval` compares its replay position with the primary's WAL
  position), and
- the reader has not written in the last `read_your_writes_window` (the max lag, the check
  interval, and room for the request itself): a write marks its user in the cache (shared by
  every instance with Redis), and that user's reads stay on the primary until the mark
  expires. Any write older than that is on every replica still in use.

A replica that refuses connections is skipped at once: its pool falls back to the primary for
new connections, and the next check takes it out of the rotation until it answers again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
from pydantic_core import from_json
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contacts_kit.backends.protocols import Cache
from contacts_kit.db.engine import postgres_connect_args, watch_statements
from contacts_kit.settings import Settings

logger = logging.getLogger("contacts_kit.replicas")

ReplicaState = Literal["unknown", "ok", "lagging", "down"]

PROBE_TIMEOUT = 2.0
"""Seconds a check waits for a node."""

REQUEST_ROOM = 5.0
"""Seconds added to the read-your-writes window for the writing request's own time (its mark
is set before its commit)."""

# Connection options that belong to SQLAlchemy's asyncpg adapter, not to asyncpg.connect.
_ADAPTER_ARGS = ("prepared_statement_cache_size", "prepared_statement_name_func")


def lsn(value: str) -> int:
    """A PostgreSQL WAL position (`16/B374D848`) as a number."""
    high, _, low = value.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def node_name(url: str) -> str:
    """A replica as readiness shows it: host, port and database, no credentials."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _driver_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class ReplicaNode:
    """One replica: the engine reads use, the probe's, and what the last check found."""

    name: str
    probe: AsyncEngine
    engine: AsyncEngine = field(init=False)
    state: ReplicaState = "unknown"
    lag: float | None = None
    caught_up_at: float | None = None
    reason: str | None = None
    reads: int = field(default=0)

    def mark_down(self, reason: str) -> None:
        if self.state != "down":
            logger.warning("replica %s is down (%s): reads go to the primary", self.name, reason)
        self.state = "down"
        self.reason = reason


def _replica_engine(settings: Settings, url: str, node: ReplicaNode) -> AsyncEngine:
    """The pool of one replica. A connection the replica refuses is made to the primary
    instead (and the replica marked down), so a read never fails because a replica stopped."""
    args = postgres_connect_args(
        connect_timeout=settings.database_connect_timeout.total_seconds(),
        statement_timeout=settings.database_statement_timeout.total_seconds(),
        pgbouncer=settings.database_pgbouncer,
    )
    adapter = {key: args.pop(key) for key in _ADAPTER_ARGS if key in args}
    replica, primary = _driver_dsn(url), _driver_dsn(settings.database_url)

    async def replica_or_primary() -> Any:
        try:
            return await asyncpg.connect(replica, **args)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            node.mark_down(f"{type(exc).__name__}: {exc}")
            return await asyncpg.connect(primary, **args)

    def creator() -> Any:
        # SQLAlchemy's documented way to pass the adapter's options with a custom connect.
        dbapi: Any = engine.sync_engine.dialect.dbapi
        return dbapi.connect(async_creator_fn=replica_or_primary, **adapter)

    engine = create_async_engine(
        "postgresql+asyncpg://",
        creator=creator,
        json_deserializer=from_json,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_connect_timeout.total_seconds(),
        pool_pre_ping=False,
        isolation_level="READ COMMITTED" if settings.database_pgbouncer else "AUTOCOMMIT",
    )
    return watch_statements(engine)


def _probe_engine(settings: Settings, url: str) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_pre_ping=True,
        connect_args=postgres_connect_args(
            connect_timeout=PROBE_TIMEOUT, pgbouncer=settings.database_pgbouncer
        ),
    )


class Replicas:
    """The replicas of the primary, the checks that keep their states, and the choice of the
    engine that serves a read."""

    def __init__(
        self,
        settings: Settings,
        primary: AsyncEngine,
        cache: Cache,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.cache = cache
        self.max_lag = settings.replica_max_lag.total_seconds()
        self.interval = settings.replica_check_interval.total_seconds()
        self.window = math.ceil(self.max_lag + self.interval + REQUEST_ROOM)
        self.clock = clock
        self.nodes: list[ReplicaNode] = []
        for url in settings.database_replica_urls:
            node = ReplicaNode(name=node_name(url), probe=_probe_engine(settings, url))
            node.engine = _replica_engine(settings, url, node)
            self.nodes.append(node)
        self._turn = itertools.count()

    @property
    def enabled(self) -> bool:
        """Whether any replica is configured."""
        return bool(self.nodes)

    async def note_write(self, writer: str) -> None:
        """`writer` (an owner key, or an account) writes: their reads stay on the primary for
        the window."""
        if self.nodes:
            await self.cache.set(f"wrote:{writer}", "1", self.window)

    async def reader(self, writer: str | None = None) -> AsyncEngine:
        """The engine for a read of `writer` (None: a reader who never writes)."""
        usable = [node for node in self.nodes if node.state == "ok"]
        if not usable:
            return self.primary
        if writer is not None and await self.cache.get(f"wrote:{writer}"):
            return self.primary
        node = usable[next(self._turn) % len(usable)]
        node.reads += 1
        return node.engine

    async def check(self) -> None:
        """Measure each replica against the primary's WAL position now."""
        started = self.clock()
        try:
            async with asyncio.timeout(PROBE_TIMEOUT), self.primary.connect() as connection:
                position = (
                    await connection.execute(text("SELECT pg_current_wal_lsn()::text"))
                ).scalar_one()
        except Exception as exc:  # the primary's own troubles are readiness's to report
            logger.warning("replica check: the primary did not answer (%s)", type(exc).__name__)
            return
        await asyncio.gather(*(self._check(node, lsn(position), started) for node in self.nodes))

    async def _check(self, node: ReplicaNode, primary_lsn: int, started: float) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT), node.probe.connect() as connection:
                replayed, recovering = (
                    await connection.execute(
                        text("SELECT pg_last_wal_replay_lsn()::text, pg_is_in_recovery()")
                    )
                ).one()
        except Exception as exc:
            node.mark_down(f"{type(exc).__name__}: {exc}".strip())
            node.lag = None
            return
        if not recovering or (replayed is not None and lsn(replayed) >= primary_lsn):
            node.caught_up_at = started
        node.lag = None if node.caught_up_at is None else self.clock() - node.caught_up_at
        was = node.state
        node.state = "ok" if node.lag is not None and node.lag <= self.max_lag else "lagging"
        node.reason = None if node.state == "ok" else f"{node.lag or math.inf:.1f} s behind"
        if was == "down":
            # Connections made to the primary while it was down go; new ones are its own.
            await node.engine.dispose()
            logger.warning("replica %s answers again (%s)", node.name, node.state)

    async def run(self) -> None:
        """Check every `replica_check_interval`, until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        """Release the replicas' connections."""
        for node in self.nodes:
            await node.engine.dispose()
            await node.probe.dispose()
