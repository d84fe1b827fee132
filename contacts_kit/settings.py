"""Configuration of a contacts-kit instance.

`Settings` reads `CONTACTS_KIT_*` variables from the environment and from `.env`. There is no
module-level instance: build one and pass it to `ContactsKit` or `create_app`.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import logging
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contacts_kit.oauth_config import OAuthProvider

DEFAULT_SQLITE_FILE = "contacts_kit.db"
ENV_PREFIX = "CONTACTS_KIT_"
# The project's own tooling (tests, benchmarks, the scale lab), not settings of a kit.
_TOOLING = ("CONTACTS_KIT_TEST_", "CONTACTS_KIT_BENCH_", "CONTACTS_KIT_LAB_")
_TOOLING_NAMES = frozenset({"CONTACTS_KIT_REQUIRE_SERVICES", "CONTACTS_KIT_REQUIRE_SCALE"})

logger = logging.getLogger("contacts_kit.settings")

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.I)


def parse_rates(text: str) -> list[tuple[int, int]]:
    """`10/minute;100/day` -> [(10, 60), (100, 86400)]: limits and their windows in seconds."""
    rates = []
    for part in text.split(";"):
        match = _RATE.match(part)
        if not match or int(match.group(1)) < 1:
            raise ValueError(
                f"{part.strip()!r} is not a rate such as '10/minute', '100 per hour' or "
                "'5/30 seconds'"
            )
        count = int(match.group(2) or 1)
        rates.append((int(match.group(1)), count * _PERIODS[match.group(3).lower()]))
    return rates


_SECONDS = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def _duration(value: object) -> object:
    """Seconds (`900`, as a number or as text) or an ISO 8601 duration (`PT15M`), blanks
    around it ignored."""
    if isinstance(value, str):
        value = value.strip()
        if _SECONDS.match(value):
            return timedelta(seconds=float(value))
        if not value.upper().startswith(("P", "-P")):
            raise ValueError(
                f"{value!r} is not a duration: write seconds (900) or ISO 8601 (PT15M, P7D)"
            )
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(
            "must be longer than zero (a TTL or a retention of 0 or less would "
            "end everything at once)"
        )
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_positive)]
"""A duration setting, longer than zero: seconds (`900`) or ISO 8601 (`PT15M`)."""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """The `CONTACTS_KIT_*` names of `environ` that are no setting of contacts-kit."""
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.startswith(ENV_PREFIX)
        and name not in fields
        and name not in _TOOLING_NAMES
        and not name.startswith(_TOOLING)
    )


def configuration_errors(error: ValidationError) -> list[str]:
    """One line per invalid setting, naming its environment variable."""
    lines = []
    for item in error.errors(include_url=False):
        name = "CONTACTS_KIT_" + "_".join(str(part) for part in item["loc"]).upper()
        message = str(item["msg"]).removeprefix("Value error, ")
        shown = item.get("input")
        value = f"={shown!r}" if isinstance(shown, str | int | float) else ""
        lines.append(f"{name}{value}: {message}")
    return lines


def normalize_database_url(url: str) -> str:
    """Give a bare `postgresql://` or `sqlite://` URL the async driver contacts-kit uses."""
    for prefix, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Every knob of contacts-kit. Each field maps to the variable `CONTACTS_KIT_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="CONTACTS_KIT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
        # `CONTACTS_KIT_REDIS_URL=` in a .env file means "not set", not "the empty string".
        env_ignore_empty=True,
    )

    environment: Literal["development", "production"] = Field(
        "development",
        description="`production` refuses to start without a strong JWT secret.",
    )
    database_url: str = Field(
        f"sqlite+aiosqlite:///./{DEFAULT_SQLITE_FILE}",
        description="SQLAlchemy URL of the database; `postgresql://` and `sqlite://` get the "
        "async driver (asyncpg, aiosqlite) automatically.",
    )
    database_pool_size: int = Field(
        20,
        ge=1,
        le=200,
        description="PostgreSQL only: connections each worker keeps open in its pool, for "
        "reads and writes alike (opened as the load needs them).",
    )
    database_max_overflow: int = Field(
        0,
        ge=0,
        le=200,
        description="PostgreSQL only: connections a worker may open beyond the pool in a "
        "burst, each closed again as soon as it is free; a worker never holds more than pool "
        "size + overflow. Under steady load an overflow connection is opened and closed every "
        "few dozen reads, which costs more than the reads: size the pool instead.",
    )
    database_connect_timeout: Duration = Field(
        timedelta(seconds=5),
        description="PostgreSQL only: longest wait for a new connection, or for a free one "
        "from a busy pool, before the request is answered 503 (seconds or ISO 8601).",
    )
    database_statement_timeout: Duration = Field(
        timedelta(seconds=15),
        description="PostgreSQL only: longest a statement may run, on the server and as seen "
        "by the client (a hung server included), before the request is answered 503.",
    )
    database_pgbouncer: bool = Field(
        False,
        description="PostgreSQL only: `DATABASE_URL` is a PgBouncer in transaction pooling "
        "mode. No statement stays prepared across transactions and no startup parameter is "
        "sent (set `statement_timeout` on the database role instead; the client-side timeout "
        "still holds).",
    )
    database_replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="PostgreSQL only: streaming replicas of `DATABASE_URL` (JSON list or "
        "comma-separated) that serve contact reads. A user who wrote recently reads from the "
        "primary; a replica that is down or behind by more than `REPLICA_MAX_LAG` is skipped.",
    )
    replica_max_lag: Duration = Field(
        timedelta(seconds=2),
        description="How far behind the primary a replica may be and still serve reads: the "
        "time since it was last seen fully caught up.",
    )
    replica_check_interval: Duration = Field(
        timedelta(milliseconds=500),
        description="How often each replica's replay position is compared with the primary's.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL (`redis://host:6379/0`), or any node of a Redis Cluster "
        "(`redis+cluster://host:6379`, `rediss+cluster://` with TLS); unset keeps the "
        "in-memory cache.",
    )
    key_prefix: str = Field(
        "contacts_kit",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Prefix of every key the kit keeps in the cache and the rate-limit store "
        "(Redis): give each kit that shares a Redis with another (tenants on separate "
        "databases, for example) its own, so their users, limits and kept answers stay apart.",
    )
    jwt_secret: SecretStr | None = Field(
        None,
        description="HMAC key that signs the JWTs; at least 32 bytes. Required in production. "
        "In development a missing secret is generated once and kept in `jwt_secret_file`.",
    )
    jwt_secret_file: Path = Field(
        Path(".contacts-kit-secret"),
        description="Development only: where the generated JWT secret is kept, so that tokens "
        "survive restarts and are shared by every worker.",
    )
    access_token_ttl: Duration = Field(
        timedelta(minutes=15),
        description="Lifetime of an access token (seconds or ISO 8601 duration such as PT15M).",
    )
    refresh_token_ttl: Duration = Field(
        timedelta(days=7),
        description="Lifetime of a refresh token (seconds or ISO 8601 duration such as P7D).",
    )
    api_prefix: str = Field(
        "/api",
        description="Prefix of `kit.router`, which carries every API route. Links are built "
        "from where the routes are actually mounted, so a host may add a prefix of its own.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Scheme and host (no path) clients reach the app at: emailed links and "
        "local avatar URLs are this plus the route's path (the request's Host header is never "
        "trusted for them). Unset, `contacts-kit serve` uses the address it binds.",
    )
    password_hash_time_cost: int = Field(
        3, ge=1, description="Argon2 time cost (iterations) for password hashes."
    )
    password_hash_memory_cost: int = Field(
        65536, ge=8, description="Argon2 memory cost in KiB for password hashes."
    )
    password_hash_parallelism: int = Field(
        4, ge=1, description="Argon2 parallelism (lanes) for password hashes."
    )
    redis_timeout: float = Field(
        1.0,
        gt=0,
        description="Seconds before a Redis connect or command gives up; one immediate "
        "retry follows (it replaces a connection Redis closed), so a hung Redis costs at most "
        "twice this.",
    )
    cache_retry_after: float = Field(
        5.0,
        ge=0,
        description="After a failure of the cache or the rate-limit store (Redis), seconds "
        "during which both are skipped: users come from the database, rate limits fail open "
        "or closed as `RATE_LIMIT_FAIL_OPEN` says.",
    )
    cache_check_interval: Duration = Field(
        timedelta(milliseconds=500),
        description="How often each process reads which cache entries a failed delete left "
        "behind (a logout or a write while Redis was down); it skips them until Redis has "
        "deleted them. A request whose cache delete failed answers this much later, once every "
        "process skips the entry (seconds or ISO 8601 duration).",
    )
    user_cache_ttl: int = Field(
        300, ge=0, description="Seconds the current user stays cached after authentication."
    )
    memory_cache_max_entries: int = Field(
        10_000, ge=1, description="Upper bound of entries kept by the in-memory cache."
    )
    read_cache_bytes: int = Field(
        16 * 1024 * 1024,
        ge=0,
        description="Bytes of answers to the busiest contact reads (list and search pages, "
        "birthdays, one contact) each worker keeps, per owner, until that owner's next change "
        "to their contacts; `0` turns it off. An answer is served only while the owner's "
        "generation in the cache (it lasts `USER_CACHE_TTL`) is the one it was built under, and "
        "every write ends it, so it needs a cache all processes share: with the in-memory one "
        "(no `REDIS_URL`), or a cache plugin that does not say it is shared, nothing is kept.",
    )
    media_dir: Path = Field(
        Path("media"), description="Folder where the local-disk storage keeps uploaded files."
    )
    media_dir_shared: bool = Field(
        False,
        description="Every instance of the service sees the same `MEDIA_DIR` (one machine, or "
        "a shared volume). In production the local-disk storage refuses to start without it: "
        "an avatar saved by one instance would be missing on the others.",
    )
    media_url_path: str = Field(
        "/media",
        description="Path, under `kit.router`'s prefix, where the kit serves the local-disk "
        "storage's files.",
    )
    require_verified_email: bool = Field(
        True, description="Refuse login (403) until the user has verified their email address."
    )
    verify_token_ttl: Duration = Field(
        timedelta(days=2),
        description="Lifetime of an email verification link (seconds or ISO 8601 such as P2D).",
    )
    mfa_token_ttl: Duration = Field(
        timedelta(minutes=5),
        description="How long a login waits for its second factor (the `mfa_token`).",
    )
    totp_issuer: str = Field(
        "contacts-kit",
        min_length=1,
        max_length=100,
        description="The name authenticator apps show next to the account (`issuer`).",
    )
    oauth_providers: list[OAuthProvider] = Field(
        default_factory=list,
        description="Identity providers to sign in with, as a JSON list of objects: `name`, "
        "`client_id`, `client_secret`, and `server_metadata_url` (OpenID Connect discovery) or "
        '`"kind": "github"`; optional `scope`. None by default.',
    )
    oauth_redirect_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Where a provider sign-in may send the browser back to (`redirect_to`): "
        "absolute URLs (JSON list or comma-separated); a `redirect_to` must have the same "
        "scheme, host and port and a path under one of them.",
    )
    oauth_flow_ttl: Duration = Field(
        timedelta(minutes=10),
        description="How long a provider sign-in may take, from the redirect to the callback.",
    )
    oauth_code_ttl: Duration = Field(
        timedelta(seconds=60),
        description="Lifetime of the one-time code a provider sign-in hands to `redirect_to`.",
    )
    reset_token_ttl: Duration = Field(
        timedelta(hours=1),
        description="Lifetime of a password reset link (seconds or ISO 8601 such as PT1H).",
    )
    password_reset_url: str | None = Field(
        None,
        description="Page the reset link points to (`?token=...` is appended); unset uses the "
        "small form served at `{API_PREFIX}/auth/password-reset/confirm`.",
    )
    mail_server: str | None = Field(
        None, description="SMTP host; when set, mail goes out over SMTP instead of the log."
    )
    mail_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    mail_username: str | None = Field(
        None, description="SMTP login; unset means no SMTP authentication."
    )
    mail_password: SecretStr | None = Field(None, description="SMTP password.")
    mail_from: EmailStr = Field(
        "no-reply@example.com", description="Sender address of every email."
    )
    mail_from_name: str = Field("contacts-kit", description="Sender display name.")
    mail_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    mail_ssl_tls: bool = Field(False, description="Connect to SMTP over implicit TLS (port 465).")
    mail_validate_certs: bool = Field(True, description="Verify the SMTP server's certificate.")
    mail_timeout: int = Field(30, ge=1, description="Seconds before an SMTP operation fails.")
    mail_template_dir: Path | None = Field(
        None,
        description="Folder whose templates override the built-in emails (same file names).",
    )
    rate_limit_enabled: bool = Field(
        True, description="Turn rate limiting off entirely (for benchmarks)."
    )
    rate_limit_contact_create: str = Field(
        "10/minute", description="Contact creations per user, e.g. `10/minute;100/day`."
    )
    rate_limit_contacts: str = Field("120/minute", description="Other contact requests per user.")
    rate_limit_auth: str = Field(
        "5/minute;30/hour",
        description="Requests per client IP, per route, to every account route that checks a "
        "password or sends mail (signup, login, verification resend, password reset, "
        "password change, account deletion).",
    )
    rate_limit_password: str = Field(
        "5/minute;30/hour",
        description="Password checks of a logged-in user (password change, account deletion) "
        "per user; each such route is also limited per client IP by `RATE_LIMIT_AUTH`.",
    )
    rate_limit_avatar: str = Field("10/hour", description="Avatar uploads per user.")
    rate_limit_import: str = Field("10/hour", description="Imports per user.")
    rate_limit_calendar: str = Field(
        "60/minute",
        description="Birthday calendar feed requests per client IP (calendar apps poll it; "
        "guessing its secret is what this limits).",
    )
    rate_limit_mfa: str = Field(
        "5/minute;20/hour",
        description="Second-factor codes tried per user (login, enrolment, turning it off).",
    )
    rate_limit_fail_open: bool = Field(
        True,
        description="When the rate limit store (Redis) fails: true lets requests through, "
        "false answers 503.",
    )
    rate_limit_max_keys: int = Field(
        100_000,
        ge=100,
        description="In-memory rate limiting: most keys (users, IPs) tracked at once; the "
        "least recently seen are forgotten first.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxy addresses or networks (JSON list or comma-separated) whose "
        "`X-Forwarded-For` is believed when finding the client IP.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS (JSON list or comma-separated); none by default.",
    )
    cors_allow_methods: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        description="Methods allowed by CORS.",
    )
    cors_allow_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "If-Match"],
        description="Request headers allowed by CORS.",
    )
    cors_allow_credentials: bool = Field(
        False, description="Allow credentialed CORS requests (never together with `*`)."
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted under `API_PREFIX` (413)."
    )
    import_max_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest file an import takes, in bytes (413)."
    )
    import_max_records: int = Field(
        10_000, ge=1, description="Most cards or rows an import takes (413)."
    )
    avatar_max_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Largest avatar or contact photo upload, in bytes (413).",
    )
    cloudinary_url: SecretStr | None = Field(
        None,
        description="`cloudinary://key:secret@cloud` (query options such as `upload_prefix` "
        "honoured); when set, avatars go to Cloudinary instead of the local disk.",
    )
    phone_default_region: str = Field(
        "US",
        min_length=2,
        max_length=2,
        description="ISO 3166 region assumed for contact phone numbers written without a "
        "`+` country code.",
    )
    trash_retention: Duration = Field(
        timedelta(days=30),
        description="How long a deleted contact stays in the trash before `contacts-kit "
        "purge` deletes it for good (seconds or ISO 8601 duration such as P30D).",
    )
    tombstone_retention: Duration = Field(
        timedelta(days=90),
        description="How long the changes feed remembers a contact deleted for good; "
        "`contacts-kit purge` forgets older ones, and a sync token from before them gets "
        "410 (its client starts over).",
    )
    timezone: str = Field(
        "UTC", description="IANA time zone that decides what 'today' is for birthdays."
    )
    webhook_secret_key: SecretStr | None = Field(
        None,
        description="The key that keeps webhook signing secrets encrypted at rest; defaults to "
        "the JWT secret (in development, the generated one). Without either in production, "
        "creating a webhook answers 503.",
    )
    webhook_allow_private_urls: bool = Field(
        False,
        description="Allow webhooks to loopback, private and link-local addresses, and plain "
        "`http` (development and tests only: in production it opens the network behind the "
        "server to anyone who can add a webhook).",
    )
    webhook_timeout: Duration = Field(
        timedelta(seconds=5),
        description="How long one attempt to send a webhook message may take.",
    )
    webhook_retry_schedule: Annotated[list[Duration], NoDecode] = Field(
        [
            timedelta(seconds=5),
            timedelta(minutes=5),
            timedelta(minutes=30),
            timedelta(hours=2),
            timedelta(hours=5),
            timedelta(hours=10),
            timedelta(hours=10),
        ],
        description="The waits between attempts after a failed one (Standard Webhooks' "
        "schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), comma-separated; after the last "
        "the message is `failed`.",
    )
    webhook_disable_after: Duration = Field(
        timedelta(days=5),
        description="An endpoint whose every attempt failed for this long is disabled (the "
        "`on_webhook_disabled` hook tells its owner); its owner turns it back on.",
    )
    jobs_in_process: bool = Field(
        True,
        description="Run the background work in the server processes: sending webhook "
        "messages, and every `purge_interval` the purge of the trash and of old deletions. "
        "Turn it off where `contacts-kit worker` processes do it.",
    )
    purge_interval: Duration = Field(
        timedelta(hours=1),
        description="How often the background work empties the trash of what is older than "
        "`trash_retention` and forgets deletions older than `tombstone_retention` (as "
        "`contacts-kit purge` does).",
    )
    load_entry_points: bool = Field(
        True,
        description="Load third-party plugins installed under the `contacts_kit` entry point.",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("database_replica_urls")
    @classmethod
    def _replica_drivers(cls, value: list[str]) -> list[str]:
        urls = [normalize_database_url(url) for url in value]
        for url in urls:
            if not url.startswith("postgresql+asyncpg://"):
                raise ValueError(f"a replica is a PostgreSQL URL, not {url.split(':')[0]!r}")
        return urls

    @field_validator(
        "trusted_proxies",
        "cors_origins",
        "cors_allow_methods",
        "cors_allow_headers",
        "oauth_redirect_allowlist",
        "database_replica_urls",
        "webhook_retry_schedule",
        mode="before",
    )
    @classmethod
    def _list_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator(
        "rate_limit_contact_create",
        "rate_limit_contacts",
        "rate_limit_auth",
        "rate_limit_password",
        "rate_limit_avatar",
        "rate_limit_mfa",
        "rate_limit_calendar",
        "rate_limit_import",
    )
    @classmethod
    def _readable_rate(cls, value: str) -> str:
        parse_rates(value)
        return value

    @field_validator("oauth_redirect_allowlist")
    @classmethod
    def _absolute_urls(cls, value: list[str]) -> list[str]:
        for item in value:
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{item!r} is not an absolute http(s) URL")
        return value

    @field_validator("oauth_providers")
    @classmethod
    def _unique_providers(cls, value: list[OAuthProvider]) -> list[OAuthProvider]:
        names = [p.name for p in value]
        if len(set(names)) != len(names):
            raise ValueError("two providers have the same name")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("phone_default_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        return value.upper()

    @field_validator("api_prefix", "media_url_path")
    @classmethod
    def _path_prefix(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            value = "/" + value
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def model_post_init(self, context: object, /) -> None:
        """Say which `CONTACTS_KIT_*` variables of the environment are no setting (a typo
        would otherwise leave the default in place without a word)."""
        for name in unknown_variables(os.environ):
            known = [f"{ENV_PREFIX}{field.upper()}" for field in type(self).model_fields]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f": did you mean {close[0]}?" if close else ""
            logger.warning("%s is not a setting of contacts-kit%s", name, hint)

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is SQLite."""
        return self.database_url.startswith("sqlite")
