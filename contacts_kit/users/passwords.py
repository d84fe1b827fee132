"""Password hashing with argon2 (pwdlib), always off the event loop."""

from __future__ import annotations

import os

import anyio
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from contacts_kit.settings import Settings


class PasswordHasher:
    """Hashes and verifies passwords in a worker thread so requests keep flowing."""

    def __init__(self, settings: Settings) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.password_hash_time_cost,
                    memory_cost=settings.password_hash_memory_cost,
                    parallelism=settings.password_hash_parallelism,
                ),
            )
        )
        # Verified when an email is unknown, so that both failures cost the same time.
        self._dummy_hash = self._hash.hash("contacts-kit-dummy-password")
        # Each argon2 run takes `memory_cost` KiB: no more runs at once than cores, so a burst
        # of logins queues instead of taking the memory and the CPU of the whole machine.
        self._limiter = anyio.CapacityLimiter(os.cpu_count() or 1)

    async def hash(self, password: str) -> str:
        """Return the argon2 hash of `password`."""
        return await anyio.to_thread.run_sync(self._hash.hash, password, limiter=self._limiter)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check `password` against `hashed`; with no hash, burn the same time and say no."""
        if hashed is None:
            await anyio.to_thread.run_sync(
                self._hash.verify, password, self._dummy_hash, limiter=self._limiter
            )
            return False
        return await anyio.to_thread.run_sync(
            self._hash.verify, password, hashed, limiter=self._limiter
        )
