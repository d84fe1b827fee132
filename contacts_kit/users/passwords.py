"""Password hashing with argon2 (pwdlib), always off the event loop.

Passwords are hashed in Unicode NFKC (NIST SP 800-63B, 5.1.1.2): `é` typed as one character
or as `e` and a combining accent is the same password. A hash made before that was of the
password as typed; such a password is tried as typed too when its normal form fails.
"""

from __future__ import annotations

import os
import unicodedata

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
        """Return the argon2 hash of `password` (in NFKC)."""
        normal = unicodedata.normalize("NFKC", password)
        return await anyio.to_thread.run_sync(self._hash.hash, normal, limiter=self._limiter)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Check `password` against `hashed`; with no hash, burn the same time and say no."""
        normal = unicodedata.normalize("NFKC", password)
        if hashed is None:
            await self._verify(normal, self._dummy_hash)
            return False
        if await self._verify(normal, hashed):
            return True
        # A hash made before passwords were normalised is of the password as typed.
        return normal != password and await self._verify(password, hashed)

    async def _verify(self, password: str, hashed: str) -> bool:
        return await anyio.to_thread.run_sync(
            self._hash.verify, password, hashed, limiter=self._limiter
        )
