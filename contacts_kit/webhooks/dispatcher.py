"""The dispatcher: sends the outbox's due messages, one endpoint's in order, and writes
what became of each attempt. Any number of dispatchers may run against one database (server
processes, `contacts-kit worker`s): a message is leased by one at a time, and a lease that
runs out (its dispatcher died mid-send) lets another send it again, with the same id."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contacts_kit.webhooks import repository
from contacts_kit.webhooks.addresses import RefusedUrl, checked_url, resolved
from contacts_kit.webhooks.models import WebhookEndpoint, WebhookMessage
from contacts_kit.webhooks.secrets import WebhookSecrets
from contacts_kit.webhooks.signing import headers

logger = logging.getLogger("contacts_kit.webhooks")

_RESPONSE_KEPT = 300
"""Characters of an answer's body kept with its attempt."""


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """How the dispatcher sends: the waits between attempts (the first attempt is at once),
    each attempt's timeout, how long an endpoint may fail before it is disabled, whether
    private addresses (and `http`) are allowed."""

    schedule: Sequence[timedelta]
    timeout: timedelta
    disable_after: timedelta
    allow_private: bool
    batch: int = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt gave."""

    status_code: int | None
    duration_ms: int
    error: str | None
    response: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    """Sends due messages (`run_once`, or `run` until stopped)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        secrets_: Callable[[], WebhookSecrets | None],
        settings: DispatchSettings,
        clock: Callable[[], datetime],
        on_disabled: Callable[[str, int, str], Any] | None = None,
    ) -> None:
        self.sessions = sessions
        self.secrets = secrets_
        self.settings = settings
        self.now = clock
        self.on_disabled = on_disabled
        self.holder = secrets.token_hex(8)
        """This dispatcher's name on the leases it takes."""
        self._client: httpx2.AsyncClient | None = None

    def _http(self) -> httpx2.AsyncClient:
        """One HTTP client for every send: its TLS context is built once. No connection is
        kept between sends: they go to an address, not a name, and two names on one address
        must not share a connection made for one of them."""
        if self._client is None:
            self._client = httpx2.AsyncClient(
                timeout=self.settings.timeout.total_seconds(),
                follow_redirects=False,
                limits=httpx2.Limits(max_keepalive_connections=0),
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client (the kit's lifespan does, on the way out)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, stop: asyncio.Event, interval: float = 0.5) -> None:
        """Send what is due, round after round while there is any (a round sends each
        endpoint's oldest message: the next one is due once it is done), and look again
        every `interval` seconds when there is none, until `stop` is set. An error of one
        round is logged and the next one runs."""
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:  # the database away, say: try again next round
                logger.exception("webhook dispatch round failed")
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)

    async def run_once(self) -> int:
        """Send the messages due now, each endpoint's oldest one; how many were sent."""
        now = self.now()
        async with self.sessions.begin() as session:
            candidates = await repository.due(session, now, self.settings.batch)
        # Long enough for any send (each of its phases has the timeout) and its record.
        until = now + self.settings.timeout * 4 + timedelta(seconds=1)
        taken = []
        for message_id in candidates:
            async with self.sessions.begin() as session:
                if await repository.lease(session, message_id, self.holder, now, until):
                    taken.append(message_id)
        await asyncio.gather(*(self._deliver(message_id) for message_id in taken))
        return len(taken)

    async def _deliver(self, message_id: int) -> None:
        async with self.sessions() as session:
            found = await repository.leased(session, message_id)
        if found is None:
            return
        message, endpoint = found
        outcome = await self._send(message, endpoint)
        await self._record(message, endpoint, outcome)

    async def _send(self, message: WebhookMessage, endpoint: WebhookEndpoint) -> Outcome:
        started = time.monotonic()
        body = message.payload.encode()
        allow = self.settings.allow_private
        try:
            # Where the name points now first (a name may have turned private since the
            # endpoint was saved), then the rest of the URL's rules.
            target = await resolved(urlsplit(endpoint.url), allow_private=allow)
            parts = checked_url(endpoint.url, allow_private=allow)
        except RefusedUrl as refused:
            return Outcome(None, 0, f"refused: {refused}", None)
        box = self.secrets()
        signing = [] if box is None else box.signing(endpoint, self.now())
        if not signing:
            return Outcome(None, 0, "no signing secret opens (the kit's key changed?)", None)
        sent_at = int(self.now().timestamp())
        request_headers = headers(signing, message.msg_id, sent_at, body)
        host = parts.hostname or ""
        request_headers["host"] = parts.netloc
        address = f"[{target.address}]" if ":" in target.address else target.address
        url = parts._replace(netloc=f"{address}:{parts.port}" if parts.port else address)
        try:
            answer = await self._http().post(
                url.geturl(),
                content=body,
                headers=request_headers,
                extensions={"sni_hostname": host},
            )
        except httpx2.TimeoutException:
            return Outcome(None, _ms(started), "timed out", None)
        except httpx2.HTTPError as exc:
            return Outcome(None, _ms(started), f"{type(exc).__name__}: {exc}"[:300], None)
        return Outcome(answer.status_code, _ms(started), None, answer.text[:_RESPONSE_KEPT])

    async def _record(
        self, message: WebhookMessage, endpoint: WebhookEndpoint, outcome: Outcome
    ) -> None:
        now = self.now()
        attempts = message.attempts + 1
        attempt = {
            "at": now,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
            "error": outcome.error
            or (None if outcome.delivered else f"answered {outcome.status_code}"),
            "response": outcome.response,
        }
        changes: dict[str, Any] = {"attempts": attempts}
        endpoint_changes: dict[str, Any] = {}
        disabled = None
        if outcome.delivered:
            changes["state"] = "delivered"
            if endpoint.failing_since is not None:
                endpoint_changes["failing_since"] = None
        else:
            schedule = self.settings.schedule
            if attempts > len(schedule):
                changes["state"] = "failed"
            else:
                changes["next_attempt_at"] = now + schedule[attempts - 1]
            since = endpoint.failing_since or now
            if endpoint.failing_since is None:
                endpoint_changes["failing_since"] = now
            if now - since >= self.settings.disable_after:
                disabled = f"failed since {since.isoformat()}"
                endpoint_changes |= {"enabled": False, "disabled_reason": disabled}
        async with self.sessions.begin() as session:
            kept = await repository.record(
                session, message.id, self.holder, attempt, changes, endpoint_changes
            )
        if kept and disabled is not None and self.on_disabled is not None:
            await self.on_disabled(endpoint.owner_id, endpoint.id, endpoint.url)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
