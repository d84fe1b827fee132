"""`python -m bench.scale`: read throughput on the scale lab (`scripts/scale-lab up`) with the
primary alone, with one streaming replica, through PgBouncer, and through PgBouncer with the
replica behind its own; printed, and with `--write-docs` put into docs/benchmarks.md.

    scripts/scale-lab up && python -m bench.scale --write-docs && scripts/scale-lab down

Every configuration serves the same seeded database with `contacts-kit serve` (2 workers),
Redis for the cache, rate limits off; wrk loads each read scenario in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
from redis import Redis
from sqlalchemy.engine import make_url

from bench import wrk
from bench.__main__ import _free_port, project_command, server_env, started, warm
from bench.scenarios import scenarios
from bench.seed import seed
from contacts_kit.auth.tokens import TokenCodec

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench-scale:begin -->", "<!-- bench-scale:end -->"
DATABASE = "contacts_kit_bench_scale"
READS = ("list first page", "get by id", "q search (100k book)")


def _on(url: str) -> str:
    return make_url(url).set(database=DATABASE).render_as_string(hide_password=False)


def _wait_for_replicas(base_url: str) -> None:
    """Until readiness says every replica serves (the checks run in the server)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        replicas = httpx.get(base_url + "/readyz", timeout=5).json().get("replicas", [])
        if all(node["state"] == "ok" for node in replicas):
            return
        time.sleep(0.2)
    raise RuntimeError("a replica never became ready")


def _vacuum(url: str) -> None:
    """Fresh statistics and visibility maps after the seeding, as a settled database has."""

    async def run() -> None:
        connection = await asyncpg.connect(
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            await connection.execute("VACUUM ANALYZE")
        finally:
            await connection.close()

    asyncio.run(run())


def _mean(results: list[wrk.Result]) -> wrk.Result:
    """The runs of one configuration and scenario, averaged."""
    count = len(results)
    return wrk.Result(
        requests=sum(r.requests for r in results),
        rps=sum(r.rps for r in results) / count,
        p50_ms=sum(r.p50_ms for r in results) / count,
        p99_ms=sum(r.p99_ms for r in results) / count,
        non_2xx=sum(r.non_2xx for r in results),
        errors=sum(r.errors for r in results),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--primary", default="postgresql://postgres@127.0.0.1:25432/postgres")
    parser.add_argument("--replica", default="postgresql://postgres@127.0.0.1:25433/postgres")
    parser.add_argument("--bouncer", default="postgresql://postgres@127.0.0.1:26432/postgres")
    parser.add_argument(
        "--bouncer-replica", default="postgresql://postgres@127.0.0.1:26433/postgres"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    if not wrk.available():
        raise SystemExit("wrk is not installed: apt-get install wrk")

    seeded = asyncio.run(seed(_on(args.primary), users=200, per_user=100, big=100_000))
    Redis.from_url(args.redis_url).flushdb()
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(secret.encode(), lambda: datetime.now(UTC))
    items = [s for s in scenarios(seeded, codec) if s.name in READS]
    base_env = server_env(_on(args.primary), args.redis_url, secret)
    configurations = {
        "primary alone": {},
        "primary + 1 replica": {"CONTACTS_KIT_DATABASE_REPLICA_URLS": _on(args.replica)},
        "through PgBouncer": {
            "CONTACTS_KIT_DATABASE_URL": _on(args.bouncer),
            "CONTACTS_KIT_DATABASE_PGBOUNCER": "true",
        },
        "PgBouncer + 1 replica": {
            "CONTACTS_KIT_DATABASE_URL": _on(args.bouncer),
            "CONTACTS_KIT_DATABASE_PGBOUNCER": "true",
            "CONTACTS_KIT_DATABASE_REPLICA_URLS": _on(args.bouncer_replica),
        },
    }
    _vacuum(_on(args.primary))
    runs: dict[tuple[str, str], list[wrk.Result]] = {}
    # Each configuration twice, in one order and then the reverse (A B C D D C B A): what a
    # configuration gains from running after another (warm caches, a settled replica) evens out.
    order = list(configurations)
    for name in order + order[::-1]:
        extra = configurations[name]
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        with started(project_command(port, args.workers), {**base_env, **extra}, base_url):
            _wait_for_replicas(base_url)
            warm(base_url, items)
            for scenario in items:
                wrk.run(base_url, scenario, seconds=args.warmup, connections=args.connections)
                result = wrk.run(
                    base_url, scenario, seconds=args.seconds, connections=args.connections
                )
                runs.setdefault((name, scenario.name), []).append(result)
                print(
                    f"{name:24} {scenario.name:24} {result.rps:8,.0f} req/s "
                    f"p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms "
                    f"non-2xx {result.non_2xx + result.errors}",
                    flush=True,
                )
    results = {key: _mean(found) for key, found in runs.items()}
    report = _report(args, configurations, results)
    print(report)
    if args.write_docs:
        page = SUMMARY.read_text()
        start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
        SUMMARY.write_text(page[:start] + "\n" + report + page[end:])
    return 0


def _report(
    args: argparse.Namespace,
    configurations: dict[str, dict[str, str]],
    results: dict[tuple[str, str], wrk.Result],
) -> str:
    header = (
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, `python -m bench.scale` "
        f"on the lab of `scripts/scale-lab up` ({args.workers} workers, {args.connections} "
        f"connections, {args.warmup} s warm-up, {args.seconds} s measured, each configuration "
        "twice in alternating order and averaged; every node on this one machine)."
    )
    names = list(configurations)
    lines = [
        header,
        "",
        "| scenario | " + " | ".join(f"{n} req/s (p99 ms)" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for scenario in READS:
        cells = []
        base = results[(names[0], scenario)]
        for name in names:
            result = results[(name, scenario)]
            ratio = "" if name == names[0] else f", {result.rps / base.rps:.2f}x"
            cells.append(f"{result.rps:,.0f} ({result.p99_ms:.1f}{ratio})")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    errors = sum(r.non_2xx + r.errors for r in results.values())
    lines += ["", f"Non-2xx answers and socket errors over all runs: {errors}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
