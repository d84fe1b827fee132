"""In-memory cache: the embedded default, bounded in size, with per-entry expiry."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings


class MemoryCache:
    """A least-recently-used dictionary whose entries expire; one per process."""

    shared = False
    """Each process has its own: a logout in one worker would not reach another."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    async def get(self, key: str) -> str | None:
        """Return the live value under `key` and mark it recently used."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def get_many(self, keys: list[str]) -> list[str | None]:
        """`get` of each key."""
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store `value`, evicting the least recently used entry when full."""
        if ttl <= 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        """Forget `key`."""
        self._entries.pop(key, None)

    async def ping(self) -> bool:
        """An in-process dictionary always answers."""
        return True

    async def close(self) -> None:
        """Drop every entry."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@hookimpl(trylast=True)
def provide_cache(settings: Settings) -> MemoryCache:
    """The fallback cache when no other plugin provides one."""
    return MemoryCache(settings.memory_cache_max_entries)
