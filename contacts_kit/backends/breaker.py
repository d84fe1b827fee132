"""One circuit breaker for a shared store (Redis): after a failure the store is skipped for a
while, so requests do not each wait out a timeout; one warning when it goes down, one when it
answers again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger("contacts_kit.breaker")


class CircuitBreaker:
    """Open (skip the store) for `retry_after` seconds after each failure."""

    def __init__(
        self, name: str, retry_after: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.retry_after = retry_after
        self._clock = clock
        self._open_until = 0.0
        self._down = False

    @property
    def open(self) -> bool:
        """True while the store is to be skipped."""
        return self._clock() < self._open_until

    def failed(self, operation: str, exc: BaseException) -> None:
        """Record a failure: skip the store for a while; warn once per outage."""
        self._open_until = self._clock() + self.retry_after
        if not self._down:
            self._down = True
            logger.warning(
                "%s failed on %s (%s: %s); skipped for %.0f s at a time until it answers",
                self.name,
                operation,
                type(exc).__name__,
                exc,
                self.retry_after,
            )

    def succeeded(self) -> None:
        """Record an answer: after an outage, say once that the store is back."""
        if self._down:
            self._down = False
            logger.warning("%s answers again", self.name)
