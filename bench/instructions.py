"""Instructions per request, counted by valgrind's callgrind: a figure that does not move
with the machine's load, unlike requests per second on a shared 2-core VM.

    python -m bench.instructions get             # the project, GET /api/contacts/{id}
    python -m bench.instructions list floor      # the floor, first page
    python -m bench.instructions get fastapi     # a bare FastAPI route (no deps, fixed body)
    python -m bench.instructions get starlette   # the same bare route on Starlette
    python -m bench.instructions get project --read-cache-bytes 0   # nothing kept: cold

The app runs in-process under an ASGI loop (no HTTP server, requests one after the other)
against the seeded PostgreSQL and Redis. Two runs of different lengths are counted and
subtracted, so start-up and warm-up cancel out. Needs `valgrind` (Debian's package).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.__main__ import DEFAULT_DATABASE, DEFAULT_REDIS, ROOT, server_env
from bench.scenarios import scenarios
from bench.seed import Seeded, seed
from contacts_kit.auth.tokens import TokenCodec

PICK = {"list": 0, "search": 1, "birthdays": 2, "get": 3, "random": 4}
SECRET = "bench-instructions-" + "s" * 40
SHORT, LONG = 300, 1200
_TYPES: dict[str, Any] = {
    "big_user": uuid.UUID,
    "small_user": uuid.UUID,
    "login_user": uuid.UUID,
    "sample_contact_big": int,
    "big_ids": tuple,
    "users": int,
    "contacts": int,
    "changes_token": str,
}


def _app(target: str, path: str) -> Any:
    if target == "project":
        from contacts_kit import create_app

        return create_app()
    if target == "floor":
        from bench.floor import build

        return build()
    from starlette.requests import Request
    from starlette.responses import Response

    def fixed() -> Response:
        return Response(b"{}", media_type="application/json")

    if target == "fastapi":
        from fastapi import FastAPI

        app = FastAPI()

        @app.get(path)
        async def bare() -> Response:
            return fixed()

        return app
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def bare_starlette(request: Request) -> Response:
        return fixed()

    return Starlette(routes=[Route(path, bare_starlette)])


async def _loop(target: str, scenario_name: str, requests: int, seeded: Seeded) -> None:
    """The measured process: warm up, then `requests` requests one after the other."""
    codec = TokenCodec(SECRET.encode(), lambda: datetime.now(UTC))
    scenario = scenarios(seeded, codec)[PICK[scenario_name]]
    path, _, query = scenario.path.partition("?")
    paths = [path]
    if scenario.random_ids is not None:
        # The ids of the book in a fixed scattered order: every request reads another one.
        low, high = scenario.random_ids
        paths = [f"{path}{low + (i * 7919) % (high - low + 1)}" for i in range(1000)]
        path = f"{path}{{contact_id:int}}"
    app = _app(target, path)
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {scenario.token}".encode())]

    async def one(path: str) -> None:
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        await app(scope, receive, send)
        if status != [200]:
            raise RuntimeError(f"{scenario.path} answered {status}")

    async with app.router.lifespan_context(app):
        for i in range(200 + requests):
            await one(paths[i % len(paths)])


def _count(target: str, scenario_name: str, requests: int, seeded_file: Path) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        completed = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-m",
                "bench.instructions",
                "--inner",
                target,
                scenario_name,
                str(requests),
                str(seeded_file),
            ],
            cwd=ROOT,
            env=os.environ | {"PYTHONMALLOC": "malloc"},
            capture_output=True,
            text=True,
            check=False,
        )
    match = re.search(r"Collected : (\d+)", completed.stderr)
    if match is None or completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    return int(match.group(1))


def main(argv: list[str]) -> int:
    """`python -m bench.instructions SCENARIO [TARGET]`."""
    if argv and argv[0] == "--inner":
        target, scenario_name, requests, seeded_file = argv[1:5]
        raw = json.loads(Path(seeded_file).read_text())
        seeded = Seeded(**{f.name: _TYPES[f.name](raw[f.name]) for f in dataclasses.fields(Seeded)})
        import uvloop

        uvloop.run(_loop(target, scenario_name, int(requests), seeded))
        return 0
    kept = None
    if "--read-cache-bytes" in argv:
        at = argv.index("--read-cache-bytes")
        kept = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
    scenario_name = argv[0] if argv else "get"
    target = argv[1] if len(argv) > 1 else "project"
    os.environ.update(server_env(DEFAULT_DATABASE, DEFAULT_REDIS, SECRET))
    # The stale-keys check reads its table once per interval of wall time; under valgrind a
    # request takes fifty times as long, so at the default interval that read would land on
    # every few requests and the count would follow the machine's load.
    os.environ["CONTACTS_KIT_CACHE_CHECK_INTERVAL"] = "3600"
    # The same for the background work (webhooks, the purge): its rounds follow wall time.
    os.environ["CONTACTS_KIT_JOBS_IN_PROCESS"] = "false"
    if kept is not None:
        os.environ["CONTACTS_KIT_READ_CACHE_BYTES"] = kept
    seeded = asyncio.run(seed(DEFAULT_DATABASE, users=50, per_user=20, big=20_000))
    with tempfile.TemporaryDirectory() as folder:
        seeded_file = Path(folder) / "seeded"
        seeded_file.write_text(json.dumps(dataclasses.asdict(seeded), default=str))
        # The project fills the user cache that the floor reads.
        _count("project", scenario_name, 1, seeded_file)
        short = _count(target, scenario_name, SHORT, seeded_file)
        long = _count(target, scenario_name, LONG, seeded_file)
    per_request = (long - short) / (LONG - SHORT)
    print(f"{scenario_name} on {target}: {per_request:,.0f} instructions per request")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
