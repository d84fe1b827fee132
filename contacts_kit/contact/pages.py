"""Answers to the busiest contact reads, kept by this process until their owner's next change.

A read answer (the JSON bytes and their ETag) is kept under its owner, the read's own key (the
route and its parameters) and the owner's *generation*: a random mark in the shared cache
(`generation_key`), read before the read's rows. Every committed change to an owner's
contacts deletes the mark (`KeptAnswers.forget`); the next request that finds none writes a
new one and keeps nothing itself. So:

- an answer is built from rows read *after* its generation was read from the cache;
- a write commits, then deletes the mark; any mark in the cache after that was written
  after the write committed, so every answer built under it saw the write.

Hence a client that wrote and then reads sees its write, on any worker and any instance that
share the cache. The one gap is the cache's own: a delete that fails (the cache unreachable
just then) leaves the mark, and the answers under it, until `USER_CACHE_TTL` ends it; the
kit logs that failure, as it does for a logout.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass

from contacts_kit.backends.protocols import Cache

ENTRY_OVERHEAD = 200
"""Bytes counted for an answer beyond its body: the key, the tag, the bookkeeping."""


@dataclass(frozen=True, slots=True)
class Page:
    """One read's answer: the JSON body and its `ETag`."""

    body: bytes
    etag: str


class PageCache:
    """Read answers of this process, least recently used out first, within `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pages: OrderedDict[tuple[str, Hashable], tuple[str, Page]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, owner: str, generation: str, key: Hashable) -> Page | None:
        """The answer kept for `key` under this generation of the owner's entry, if any."""
        found = self._pages.get((owner, key))
        if found is None or found[0] != generation:
            return None
        self._pages.move_to_end((owner, key))
        return found[1]

    def put(self, owner: str, generation: str, key: Hashable, page: Page) -> Page:
        """Keep `page` (unless it alone is larger than the whole budget) and return it."""
        cost = len(page.body) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return page
        old = self._pages.pop((owner, key), None)
        if old is not None:
            self.size -= len(old[1].body) + ENTRY_OVERHEAD
        self._pages[(owner, key)] = (generation, page)
        self.size += cost
        while self.size > self.max_bytes:
            _, (_, evicted) = self._pages.popitem(last=False)
            self.size -= len(evicted.body) + ENTRY_OVERHEAD
        return page


@dataclass(frozen=True, slots=True)
class OwnerPages:
    """One request's view of the page cache: its owner and the generation it read. Without
    a generation (none in the cache yet, or nothing kept) nothing is kept or served."""

    cache: PageCache | None
    owner: str
    generation: str | None

    def get(self, key: Hashable) -> Page | None:
        """The kept answer for `key`, if any."""
        if self.cache is None or self.generation is None:
            return None
        return self.cache.get(self.owner, self.generation, key)

    def put(self, key: Hashable, body: bytes, etag: str) -> Page:
        """The answer `body` with `etag`, kept for the next reads of this generation."""
        page = Page(body, etag)
        if self.cache is None or self.generation is None:
            return page
        return self.cache.put(self.owner, self.generation, key, page)


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """The answer to one read request, as this process keeps it: under the owner's
    generation (`pages`), keyed by the request itself (`key`: its path and its whole query,
    as sent), so whatever a client asks decides what is kept, and no parameter can be left
    out of a key by hand."""

    pages: OwnerPages
    key: Hashable

    async def page(
        self, build: Callable[[], Awaitable[Page]], *, varies_with: Hashable = None
    ) -> Page:
        """The kept answer, or the one `build` makes now (then kept). `varies_with`: what
        else the answer depends on (the day, for a window of dates)."""
        key = (self.key, varies_with)
        found = self.pages.get(key)
        if found is None:
            built = await build()
            found = self.pages.put(key, built.body, built.etag)
        return found


def generation_key(owner: str) -> str:
    """Cache key of one owner's generation. The braces are a Redis Cluster hash tag."""
    return f"generation:{{{owner}}}"


class KeptAnswers:
    """The owners' generations in the shared `cache` (each living `ttl` seconds at most) and
    the answers this process keeps under them (`pages`; None when it keeps none). A process
    that keeps nothing still ends the generations its writes change: other processes
    sharing the cache may keep answers."""

    def __init__(self, cache: Cache, pages: PageCache | None, ttl: int) -> None:
        self.cache = cache
        self.pages = pages
        self.ttl = ttl

    def keys(self, owner: str) -> list[str]:
        """The cache keys `of` reads for `owner` (an owner's supplier may read them along
        with the owner, in the same round trip, and hand them over)."""
        return [generation_key(owner)] if self.pages is not None else []

    async def of(self, owner: str, cached: Mapping[str, str | None] | None) -> OwnerPages:
        """The owner's kept answers under the generation the cache holds now (as `cached`
        holds it when the owner's supplier read it, else read here). With none yet, one is
        written and nothing is kept for this request: only under a generation read back from
        the cache is it sure that the writes before it are in what is kept."""
        if self.pages is None:
            return OwnerPages(None, owner, None)
        key = generation_key(owner)
        if cached is not None and key in cached:
            generation = cached[key]
        else:
            generation = await self.cache.get(key)
        if generation is None:
            await self.cache.set(generation_key(owner), secrets.token_urlsafe(12), self.ttl)
            return OwnerPages(None, owner, None)
        return OwnerPages(self.pages, owner, generation)

    async def forget(self, owner: str) -> None:
        """End the owner's generation: their book changed."""
        await self.cache.delete(generation_key(owner))
