"""Rate limits as explicit FastAPI dependencies, on fastapi-limiter and pyrate-limiter.

A per-user (or per-owner) limit depends on the dependency that says who the caller is and keys
on what it gives, so a host's `dependency_overrides` of it changes who is counted, never
whether (`contacts_kit.auth.deps`, `contacts_kit.contact.deps`). A per-IP limit keys on the
route and the client address. The counts live in the `RateLimitStore` a plugin provides
(memory, or the kit's Redis client).
"""

import ipaddress
import logging
import math
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi_limiter.depends import RateLimiter
from pyrate_limiter import BucketFactory, Limiter, Rate

from contacts_kit.backends.breaker import CircuitBreaker
from contacts_kit.backends.buckets import resolve
from contacts_kit.backends.protocols import RateLimitStore
from contacts_kit.errors import ContactsKitError, ErrorCode
from contacts_kit.settings import Settings, parse_rates

logger = logging.getLogger("contacts_kit.ratelimit")

_COUNTED = "contacts_kit.rate_limits_counted"


class RateLimited(ContactsKitError):
    """Too many requests; `Retry-After` says when to try again."""

    code = ErrorCode.RATE_LIMITED
    message = "Too many requests; slow down and retry after the time in `Retry-After`."

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or f"Too many requests; retry in {retry_after} s.")
        self.retry_after = retry_after


class RateLimitUnavailable(ContactsKitError):
    """The rate limit store failed and the settings say to fail closed."""

    code = ErrorCode.RATE_LIMIT_UNAVAILABLE
    message = "Rate limiting is unavailable; try again shortly."


def to_rates(text: str) -> list[Rate]:
    """pyrate-limiter rates from a readable setting such as `10/minute;100/day`."""
    return [Rate(limit, seconds * 1000) for limit, seconds in parse_rates(text)]


async def _refuse(request: Request, key: str, retry_after_ms: int) -> None:
    raise RateLimited(max(1, math.ceil(retry_after_ms / 1000)))


async def _no_identity(request: Request) -> str:
    raise TypeError("contacts-kit limits are keyed by their dependency, not by the request")


class RateLimit(RateLimiter):
    """One named limit: fastapi-limiter's `RateLimiter` over a pyrate-limiter `Limiter` whose
    buckets come from the store, answering `RateLimited` with `Retry-After`.

    fastapi-limiter's own `__call__` is not used: it keys by the request alone and walks
    `app.routes` for a `.path` that FastAPI's included routers do not have.
    """

    def __init__(
        self,
        name: str,
        rates: list[Rate],
        store: RateLimitStore,
        settings: Settings,
        breaker: CircuitBreaker,
    ) -> None:
        self.factory: BucketFactory = store.buckets(rates)
        super().__init__(limiter=Limiter(self.factory), identifier=_no_identity, callback=_refuse)
        self.name = name
        self.rates = rates
        self.enabled = settings.rate_limit_enabled
        self.fail_open = settings.rate_limit_fail_open
        self.breaker = breaker

    async def __call__(self, request: Request, response: Any) -> None:
        """Not a dependency by itself: use `per_user` or `per_ip`."""
        raise TypeError(f"rate limit {self.name!r} needs a key: use per_user() or per_ip()")

    async def hit(self, request: Request, identity: str, weight: int = 1) -> None:
        """Count the request against `identity`, as `weight` requests (a batch's operations);
        raise `RateLimited` over the limit. A request that runs twice (a retry after a lost
        database connection) is counted once."""
        if not self.enabled or weight == 0:
            return
        for rate in self.rates:
            if weight > rate.limit:
                seconds = max(1, rate.interval // 1000)
                raise RateLimited(
                    seconds,
                    f"This request counts as {weight} and the limit allows {rate.limit} in "
                    f"{seconds} s: send fewer operations at a time.",
                )
        key = f"{self.name}:{identity}"
        counted: set[str] = request.scope.setdefault(_COUNTED, set())
        if key in counted:
            return
        counted.add(key)
        if self.breaker.open:
            self._store_down()
            return
        try:
            if await self.limiter.try_acquire_async(key, weight, blocking=self.blocking):
                self.breaker.succeeded()
                return
            retry_ms = await self._waiting_ms(key, weight)
        except Exception as exc:
            self.breaker.failed(f"rate limit {self.name!r}", exc)
            self._store_down()
            return
        self.breaker.succeeded()
        await self.callback(request, key, retry_ms)

    def _store_down(self) -> None:
        if not self.fail_open:
            raise RateLimitUnavailable()

    async def _waiting_ms(self, key: str, weight: int) -> int:
        item = await resolve(self.factory.wrap_item(key, weight))
        bucket = await resolve(self.factory.get(item))
        waited = await resolve(bucket.waiting(item))
        return int(waited) if waited and waited > 0 else 1000


def client_ip(request: Request, trusted_proxies: list[str]) -> str:
    """The client address: the socket peer, or, when that peer is a trusted proxy, the
    right-most address of `X-Forwarded-For` that is not itself a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies:
        return peer
    networks = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    if not trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not trusted(hop):
            return hop
    return peer


def per_ip(limit: RateLimit, route: str, trusted_proxies: list[str]) -> Callable[..., Any]:
    """A dependency counting the request against its client address, on `route` alone."""

    async def limit_per_ip(request: Request) -> None:
        await limit.hit(request, f"{route}:ip:{client_ip(request, trusted_proxies)}")

    return limit_per_ip


class RateLimits:
    """The limits of one kit: per user, contact creation, other contact requests, password
    checks, avatar uploads and second-factor codes; per client address, the account
    routes and the birthday feed."""

    def __init__(self, settings: Settings, store: RateLimitStore, breaker: CircuitBreaker) -> None:
        def limit(name: str, rates: str) -> RateLimit:
            return RateLimit(name, to_rates(rates), store, settings, breaker)

        self.contact_create = limit("create", settings.rate_limit_contact_create)
        self.contacts = limit("contacts", settings.rate_limit_contacts)
        self.auth = limit("auth", settings.rate_limit_auth)
        self.password = limit("password", settings.rate_limit_password)
        self.avatar = limit("avatar", settings.rate_limit_avatar)
        self.mfa = limit("mfa", settings.rate_limit_mfa)
        self.calendar = limit("calendar", settings.rate_limit_calendar)
        self.imports = limit("import", settings.rate_limit_import)
