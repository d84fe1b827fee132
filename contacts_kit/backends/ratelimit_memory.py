"""In-process rate-limit store: the embedded default, counting per worker."""

from __future__ import annotations

from pyrate_limiter import Rate

from contacts_kit.backends.buckets import KeyedBucketFactory
from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings


class MemoryRateLimitStore:
    """Buckets in this process's memory, at most `max_keys` keys per limit."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys

    def buckets(self, rates: list[Rate]) -> KeyedBucketFactory:
        """A bucket per key, in memory."""
        return KeyedBucketFactory(rates, None, self.max_keys)


@hookimpl(trylast=True)
def provide_rate_limit_store(settings: Settings) -> MemoryRateLimitStore:
    """The fallback store when no other plugin provides one."""
    return MemoryRateLimitStore(settings.rate_limit_max_keys)
