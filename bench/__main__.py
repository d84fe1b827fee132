"""`python -m bench run`: seed PostgreSQL, start the project and the floor as a user would,
load each scenario with wrk, and print (or write into docs/benchmarks.md) the results.

    python -m bench run                 # the full run documented in docs/benchmarks.md
    python -m bench run --quick         # a tiny data set and 2-second runs (a smoke test)
    python -m bench profile             # pyinstrument on the hot path, under wrk load
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from redis import Redis

from bench import wrk
from bench.scenarios import Scenario, scenarios
from bench.seed import Seeded, seed
from contacts_kit.auth.tokens import TokenCodec

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = ROOT / "docs" / "benchmarks.md"
LOG = ROOT / "docs" / "benchmarks-log.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/contacts_kit_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, redis_url: str, secret: str) -> dict[str, str]:
    """The environment of both servers: PostgreSQL, Redis, rate limits off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTS_KIT_")}
    env.update(
        CONTACTS_KIT_DATABASE_URL=database_url,
        CONTACTS_KIT_REDIS_URL=redis_url,
        CONTACTS_KIT_JWT_SECRET=secret,
        CONTACTS_KIT_ENVIRONMENT="production",
        CONTACTS_KIT_MEDIA_DIR_SHARED="true",  # one machine
        CONTACTS_KIT_RATE_LIMIT_ENABLED="false",
        CONTACTS_KIT_USER_CACHE_TTL="3600",
    )
    return env


@contextmanager
def started(command: list[str], env: dict[str, str], base_url: str) -> Iterator[int]:
    """Run a server until the block ends; yield its pid once `/api/contacts` answers."""
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base_url + "/api/contacts", timeout=1)
                break
            except httpx.TransportError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(output) from exc
                time.sleep(0.2)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def project_command(port: int, workers: int) -> list[str]:
    """`contacts-kit serve`, as a user starts it."""
    return [
        sys.executable,
        "-m",
        "contacts_kit",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]


def floor_command(port: int, workers: int) -> list[str]:
    """The bare Starlette + asyncpg floor."""
    return [
        sys.executable,
        "-c",
        "import uvicorn; uvicorn.run('bench.floor:build', factory=True, host='127.0.0.1', "
        f"port={port}, workers={workers}, log_level='warning')",
    ]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def warm(base_url: str, items: list[Scenario]) -> None:
    """One request per scenario: the users land in the Redis cache."""
    for scenario in items:
        if scenario.read:
            path = scenario.path
            if scenario.random_ids is not None:
                path += str(scenario.random_ids[0])
            response = httpx.get(
                base_url + path,
                headers={"Authorization": f"Bearer {scenario.token}"},
                timeout=30,
            )
            response.raise_for_status()


def measure(
    base_url: str, scenario: Scenario, args: argparse.Namespace, connections: int | None = None
) -> wrk.Result:
    """Warm up, then the measured run."""
    conns = connections or scenario.connections or args.connections
    wrk.run(base_url, scenario, seconds=args.warmup, connections=conns)
    return wrk.run(base_url, scenario, seconds=args.seconds, connections=conns)


def _row(name: str, result: wrk.Result, floor: wrk.Result | None) -> str:
    ratio = f"{result.rps / floor.rps:.0%}" if floor else "n/a"
    p99 = f"{result.p99_ms / floor.p99_ms:.2f}x" if floor else "n/a"
    floor_cells = (
        f"{floor.rps:,.0f} | {floor.p50_ms:.1f} | {floor.p99_ms:.1f}" if floor else "- | - | -"
    )
    return (
        f"| {name} | {result.rps:,.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} | "
        f"{result.non_2xx + result.errors} | {floor_cells} | {ratio} | {p99} |"
    )


def summary(results: list[tuple[int, str, wrk.Result, wrk.Result | None]], header: str) -> str:
    """The ratios first, one row per read scenario: what the summary page shows."""
    counts = sorted({workers for workers, *_ in results})
    heads = [f"{n} worker{'s' if n > 1 else ''}: req/s vs floor" for n in counts]
    lines = [
        header,
        "",
        f"| scenario | {' | '.join(heads)} | p99 vs floor, 1 worker | req/s, 1 worker |",
        "|---|" + "---|" * (len(counts) + 2),
    ]
    names = list(dict.fromkeys(name for _, name, _, floor in results if floor is not None))
    for name in names:
        found = {w: (r, f) for w, n, r, f in results if n == name and f is not None}
        ratios = [f"{found[n][0].rps / found[n][1].rps:.0%}" if n in found else "-" for n in counts]
        one = found.get(counts[0])
        p99 = f"{one[0].p99_ms / one[1].p99_ms:.2f}x" if one else "-"
        rps = f"{one[0].rps:,.0f} (floor {one[1].rps:,.0f})" if one else "-"
        lines.append(f"| {name} | {' | '.join(ratios)} | {p99} | {rps} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> tuple[str, str]:
    """The whole benchmark; returns the full Markdown report and its summary."""
    if not wrk.available():
        raise SystemExit("wrk is not installed: apt-get install wrk")
    database_url = args.database_url
    sizes = {"users": 20, "per_user": 10, "big": 2000} if args.quick else {}
    started_at = time.monotonic()
    seeded: Seeded = asyncio.run(seed(database_url, **sizes))
    seed_seconds = time.monotonic() - started_at
    Redis.from_url(args.redis_url).flushdb()
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(secret.encode(), lambda: datetime.now(UTC))
    items = scenarios(seeded, codec)
    if args.reads_only:
        items = [scenario for scenario in items if scenario.read]
        flags_reads = " --reads-only"
    else:
        flags_reads = ""
    env = server_env(database_url, args.redis_url, secret)
    flags = (" --quick" if args.quick else "") + flags_reads
    if args.read_cache_bytes is not None:
        env["CONTACTS_KIT_READ_CACHE_BYTES"] = str(args.read_cache_bytes)
        flags += f" --read-cache-bytes {args.read_cache_bytes}"
    header = (
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"`python -m bench run{flags}` "
        f"({args.connections} connections, {args.warmup} s warm-up, {args.seconds} s measured)."
    )
    lines = [
        header,
        f"Seeded {seeded.users:,} users and {seeded.contacts:,} contacts in {seed_seconds:.0f} s.",
        "",
    ]
    results: list[tuple[int, str, wrk.Result, wrk.Result | None]] = []
    for workers in args.workers:
        project_port, floor_port = _free_port(), _free_port()
        project_url = f"http://127.0.0.1:{project_port}"
        floor_url = f"http://127.0.0.1:{floor_port}"
        lines += [
            f"### {workers} worker{'s' if workers > 1 else ''}",
            "",
            "| scenario | req/s | p50 ms | p99 ms | non-2xx | floor req/s | floor p50 | floor p99 "
            "| project/floor req/s | p99 vs floor |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        memory: list[str] = []
        with (
            started(project_command(project_port, workers), env, project_url) as pid,
            started(floor_command(floor_port, workers), env, floor_url),
        ):
            warm(project_url, items)
            total = 0
            for scenario in items:
                result = measure(project_url, scenario, args)
                total += result.requests
                floor = measure(floor_url, scenario, args) if scenario.read else None
                results.append((workers, scenario.name, result, floor))
                lines.append(_row(scenario.name, result, floor))
                print(lines[-1], flush=True)
            if workers == 1:
                single = [s for s in items if s.one_connection]
                for scenario in single:
                    one = measure(project_url, scenario, args, connections=1)
                    memory.append(
                        f"- {scenario.name} at 1 connection: p50 {one.p50_ms:.2f} ms, "
                        f"p99 {one.p99_ms:.2f} ms"
                    )
                list_scenario = items[0]
                if args.memory_requests > 0:
                    # RSS half the requests apart: at 50k and 100k served, or, when the
                    # scenarios above already served more than half, from there on for as
                    # many again.
                    span = args.memory_requests // 2
                    goal = max(args.memory_requests, total + span)
                    marks = [(total, rss_mb(pid))]
                    while total < goal:
                        total += wrk.run(
                            project_url, list_scenario, seconds=5, connections=args.connections
                        ).requests
                        marks.append((total, rss_mb(pid)))
                    half = min(marks, key=lambda m: abs(m[0] - (goal - span)))
                    memory.append(
                        f"- RSS of the worker: {half[1]:.0f} MB after {half[0]:,} requests, "
                        f"{marks[-1][1]:.0f} MB after {marks[-1][0]:,} "
                        f"({(marks[-1][1] - half[1]) / half[1]:+.1%})"
                    )
                else:
                    memory.append(f"- RSS of the worker: {rss_mb(pid):.0f} MB")
        lines += ["", *memory, ""]
    return "\n".join(lines), summary(results, header)


def write_docs(report: str, short: str) -> None:
    """Replace the results between the markers: the full report on the log page, its
    summary on the summary page."""
    for page, text in ((LOG, report), (SUMMARY, short)):
        content = page.read_text()
        head, _, rest = content.partition(BEGIN)
        _, _, tail = rest.partition(END)
        page.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench`."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="seed, serve, load, report")
    runner.add_argument(
        "--database-url",
        default=os.environ.get("CONTACTS_KIT_BENCH_DATABASE_URL", DEFAULT_DATABASE),
    )
    runner.add_argument(
        "--redis-url", default=os.environ.get("CONTACTS_KIT_BENCH_REDIS_URL", DEFAULT_REDIS)
    )
    runner.add_argument("--seconds", type=int, default=10)
    runner.add_argument("--warmup", type=int, default=3)
    runner.add_argument("--connections", type=int, default=32)
    runner.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    runner.add_argument("--memory-requests", type=int, default=100_000)
    runner.add_argument("--quick", action="store_true", help="tiny data, 1-second runs")
    runner.add_argument(
        "--reads-only",
        action="store_true",
        help="only the scenarios the floor serves too (no memory run)",
    )
    runner.add_argument(
        "--read-cache-bytes",
        type=int,
        default=None,
        help="the project's CONTACTS_KIT_READ_CACHE_BYTES (0: no read answers kept)",
    )
    runner.add_argument(
        "--write-docs",
        action="store_true",
        help="update docs/benchmarks.md and docs/benchmarks-log.md",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.memory_requests, args.workers = 1, 1, 0, [1]
    if args.reads_only:
        args.memory_requests = 0
    report, short = run(args)
    print(report)
    print(short)
    if args.write_docs:
        write_docs(report, short)
    return 0


if __name__ == "__main__":
    sys.exit(main())
