"""The contracts every cache, mailer and storage backend fulfils."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pyrate_limiter import BucketFactory, Rate


@runtime_checkable
class Cache(Protocol):
    """A string key-value store with per-entry expiry.

    A cache says whether every process of the service sees the same entries with a class
    attribute `shared: bool` (Redis: True; the in-memory cache: False). The kit keeps read
    answers, and `contacts-kit serve` runs more than one worker, only on a shared cache: a
    logout or a write in one process must reach the others. A cache without the attribute
    is taken as not shared.
    """

    async def get(self, key: str) -> str | None:
        """Return the value stored under `key`, or None when missing or expired."""
        ...

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store `value` under `key` for `ttl` seconds."""
        ...

    async def delete(self, key: str) -> None:
        """Forget `key`; a missing key is not an error."""
        ...

    async def ping(self) -> bool:
        """Return True when the cache answers."""
        ...

    async def close(self) -> None:
        """Release connections; called once when the app stops."""
        ...


@runtime_checkable
class ManyGets(Protocol):
    """What a cache may add to `Cache`: several keys read in one round trip. The kit reads a
    user together with what the contacts module keeps for that user (one Redis Cluster slot:
    the keys share a `{...}` hash tag); a cache without it is asked once per key."""

    async def get_many(self, keys: list[str]) -> list[str | None]:
        """The value under each key, in order (None for a missing one)."""
        ...


@dataclass(frozen=True, slots=True)
class MailMessage:
    """One email: a recipient, a subject, a plain-text part and an optional HTML part."""

    to: str
    subject: str
    text: str
    html: str | None = None


@runtime_checkable
class Mailer(Protocol):
    """Sends email."""

    async def send(self, message: MailMessage) -> None:
        """Deliver `message` or raise; the caller logs failures."""
        ...


class StorageError(Exception):
    """A storage backend could not store or delete a file; the message says why."""


@runtime_checkable
class Storage(Protocol):
    """Keeps uploaded files and tells where they are served from."""

    async def save(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` under `key` and return the absolute URL the file is served from, or a
        relative reference (the key) when the kit's own media route serves it; raise
        `StorageError` when the file cannot be stored."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file stored under `key`; a missing file is not an error."""
        ...


@runtime_checkable
class RateLimitStore(Protocol):
    """Where the rate limits keep their counts."""

    def buckets(self, rates: list[Rate]) -> BucketFactory:
        """A pyrate-limiter bucket factory holding one bucket per item name, each under
        `rates`; `wrap_item` stamps items with the clock the buckets compare."""
        ...
