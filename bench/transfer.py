"""Import and export at scale: `python -m bench.transfer`.

Seeds the benchmark database, starts `contacts-kit serve` (1 worker, rate limits off), then
imports a 10,000-card vCard file into a user's book and exports the 100,000-contact book as
vCard and as CSV, sampling the worker's RSS while the export streams. Prints the figures
that docs/benchmarks.md quotes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from redis import Redis

from bench.__main__ import (
    DEFAULT_DATABASE,
    DEFAULT_REDIS,
    _free_port,
    project_command,
    rss_mb,
    server_env,
    started,
)
from bench.scenarios import token_for
from bench.seed import seed
from contacts_kit.auth.tokens import TokenCodec

CARDS = 10_000


def vcard_file(count: int) -> bytes:
    """`count` vCard 3.0 cards, each with a name, an email, a phone, a birthday, a note and
    a tag, as an address book app writes them."""
    cards = [
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"N:Imported{i};Card;;;\r\nFN:Card Imported{i}\r\n"
        f"EMAIL;type=INTERNET;type=pref:card{i}@import.example\r\n"
        f"TEL;type=CELL:+1 202 555 {i % 10000:04d}\r\n"
        f"BDAY:19{50 + i % 50:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}\r\n"
        f"NOTE:Imported card number {i}\\, for the benchmark\r\n"
        f"CATEGORIES:Imported,Group{i % 10}\r\n"
        "END:VCARD\r\n"
        for i in range(count)
    ]
    return "".join(cards).encode()


def full_card_file(count: int) -> bytes:
    """`count` full vCard 3.0 cards, as a phone's address book has them: three phones, two
    emails, an address, an organisation and a job title each."""
    cards = [
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"N:Full{i};Card;;;\r\nFN:Card Full{i}\r\n"
        f"EMAIL;type=INTERNET;type=HOME;type=pref:card{i}@home.example\r\n"
        f"EMAIL;type=INTERNET;type=WORK:card{i}@work.example\r\n"
        f"TEL;type=CELL;type=pref:+1 202 555 {i % 10000:04d}\r\n"
        f"TEL;type=WORK:+1 312 555 {i % 10000:04d}\r\n"
        f"TEL;type=HOME:+1 415 555 {i % 10000:04d}\r\n"
        f"ADR;type=HOME:;;{i} Main Street;Springfield;IL;62701;United States\r\n"
        f"ORG:Company {i % 500}\r\nTITLE:Engineer\r\n"
        "END:VCARD\r\n"
        for i in range(count)
    ]
    return "".join(cards).encode()


class RssSampler:
    """The worker's RSS every 50 ms on a thread, while the block runs: the peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def _worker_pid(parent: int) -> int:
    """The uvicorn worker under `contacts-kit serve` (the process serving requests)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return int(children[0]) if children else parent


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench.transfer`."""
    parser = argparse.ArgumentParser(prog="python -m bench.transfer")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CONTACTS_KIT_BENCH_DATABASE_URL", DEFAULT_DATABASE),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("CONTACTS_KIT_BENCH_REDIS_URL", DEFAULT_REDIS)
    )
    parser.add_argument("--cards", type=int, default=CARDS)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args(argv)
    seeded = asyncio.run(seed(args.database_url, users=10, per_user=10, big=args.big))
    Redis.from_url(args.redis_url).flushdb()
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(secret.encode(), lambda: datetime.now(UTC))
    big = {"Authorization": f"Bearer {token_for(codec, str(seeded.big_user))}"}
    small = {"Authorization": f"Bearer {token_for(codec, str(seeded.small_user))}"}
    env = server_env(args.database_url, args.redis_url, secret)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    body = vcard_file(args.cards)
    print(f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python -m bench.transfer`", flush=True)
    with (
        started(project_command(port, 1), env, base) as parent,
        httpx.Client(base_url=base, timeout=600) as client,
    ):
        pid = _worker_pid(parent)
        client.get("/api/contacts", headers=big)  # warm: the user in the cache
        start = time.perf_counter()
        answer = client.post(
            "/api/contacts/import",
            content=body,
            headers=small | {"content-type": "text/vcard"},
        )
        took = time.perf_counter() - start
        report = answer.json()
        print(
            f"- import of {args.cards:,} vCards ({len(body) / 1e6:.1f} MB): {took:.2f} s, "
            f"status {answer.status_code}, created {report.get('created')}, "
            f"invalid {report.get('invalid')}",
            flush=True,
        )
        full = full_card_file(args.cards)
        start = time.perf_counter()
        answer = client.post(
            "/api/contacts/import",
            content=full,
            headers=small | {"content-type": "text/vcard"},
        )
        took = time.perf_counter() - start
        report = answer.json()
        print(
            f"- import of {args.cards:,} full cards ({len(full) / 1e6:.1f} MB; 3 phones, 2 "
            f"emails, an address, an organisation each): {took:.2f} s, status "
            f"{answer.status_code}, created {report.get('created')}, "
            f"invalid {report.get('invalid')}",
            flush=True,
        )
        for kind in ("vcard", "csv", "google-csv"):
            before = rss_mb(pid)
            size = 0
            start = time.perf_counter()
            with (
                RssSampler(pid) as sampler,
                client.stream(
                    "GET", "/api/contacts/export", params={"format": kind}, headers=big
                ) as response,
            ):
                for chunk in response.iter_bytes():
                    size += len(chunk)
            took = time.perf_counter() - start
            print(
                f"- export of the {args.big:,}-contact book as {kind}: {size / 1e6:.1f} MB in "
                f"{took:.2f} s; worker RSS {before:.0f} MB before, peak {sampler.peak:.0f} MB "
                f"(+{sampler.peak - before:.0f} MB)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
