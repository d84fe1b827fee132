"""Profile the project's hot path: `contacts-kit serve` under pyinstrument while wrk loads
one scenario; the text report goes to bench/results/profile-<scenario>.txt.

    python -m bench.profile [list|search|birthdays|get]   (after `python -m bench run --quick`)
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from bench import wrk
from bench.__main__ import DEFAULT_DATABASE, DEFAULT_REDIS, ROOT, _free_port, server_env
from bench.scenarios import scenarios
from bench.seed import seed
from contacts_kit.auth.tokens import TokenCodec

PICK = {"list": 0, "search": 1, "birthdays": 2, "get": 3}


def main() -> int:
    """Seed a small data set, profile one scenario for 10 s, write the report."""
    name = sys.argv[1] if len(sys.argv) > 1 else "list"
    seeded = asyncio.run(seed(DEFAULT_DATABASE, users=50, per_user=20, big=20_000))
    Redis.from_url(DEFAULT_REDIS).flushdb()
    secret = secrets.token_urlsafe(48)
    items = scenarios(seeded, TokenCodec(secret.encode(), lambda: datetime.now(UTC)))
    scenario = items[PICK[name]]
    port = _free_port()
    out = ROOT / "bench" / "results" / f"profile-{name}.txt"
    out.parent.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "session",
            "-o",
            str(out.with_suffix(".pyisession")),
            "-m",
            "contacts_kit",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=server_env(DEFAULT_DATABASE, DEFAULT_REDIS, secret),
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(
                    base + scenario.path, headers={"Authorization": f"Bearer {scenario.token}"}
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        result = wrk.run(base, scenario, seconds=10, connections=32)
        print(f"{scenario.name}: {result.rps:.0f} req/s under the profiler")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    out.write_text(self_times(out.with_suffix(".pyisession")))
    print(f"report: {out}")
    return 0


def self_times(session_file: Path, top: int = 40) -> str:
    """The functions that spent the most time themselves (not in what they called)."""
    from collections import Counter

    from pyinstrument.session import Session

    root = Session.load(str(session_file)).root_frame()
    spent: Counter[str] = Counter()

    def walk(frame: Any) -> None:
        key = f"{frame.function}  {frame.file_path_short}"
        spent[key] += frame.time - sum(child.time for child in frame.children)
        for child in frame.children:
            walk(child)

    if root is not None:
        walk(root)
    total = sum(spent.values()) or 1.0
    lines = [
        f"{seconds:7.3f} s {seconds / total:6.1%}  {name}"
        for name, seconds in spent.most_common(top)
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
