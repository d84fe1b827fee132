"""The settings as documentation: the configuration reference and `.env.example` are both
generated from `Settings`, so neither can drift from the code."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from contacts_kit.settings import Settings

ENV_PREFIX = "CONTACTS_KIT_"
TYPE_NAMES = {
    "datetime.timedelta": "duration",
    "timedelta": "duration",
    "pathlib.Path": "path",
    "Path": "path",
    "SecretStr": "secret",
    "EmailStr": "email",
    "list[str]": "list",
    "str": "text",
    "float": "number",
    "int": "integer",
    "bool": "boolean",
}
PLACEHOLDERS = {
    "jwt_secret": "",
    "mail_password": "",
    "cloudinary_url": "",
}


def env_name(field: str) -> str:
    """`database_url` -> `CONTACTS_KIT_DATABASE_URL`."""
    return ENV_PREFIX + field.upper()


def _type_name(info: FieldInfo) -> str:
    annotation = info.annotation
    text = getattr(annotation, "__name__", None) or str(annotation)
    if get_args(annotation):
        text = str(annotation).replace("typing.", "").replace("pydantic.types.", "")
    text = re.sub(
        r"Literal\[(.*?)\]",
        lambda m: " or ".join(v.strip().strip("'") for v in m.group(1).split(",")),
        text,
    )
    for python, shown in TYPE_NAMES.items():
        text = text.replace(python, shown)
    return text.replace(" | None", "")


def _default(info: FieldInfo) -> Any:
    return info.get_default(call_default_factory=True)


def env_value(value: Any) -> str:
    """A default written the way an environment variable carries it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return ""
    if isinstance(value, timedelta):
        return str(TypeAdapter(timedelta).dump_python(value, mode="json"))
    if isinstance(value, list) and value and all(isinstance(v, timedelta) for v in value):
        return ",".join(env_value(v) for v in value)  # durations: comma-separated
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


GROUPS: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "Service",
        "Where the routes live, who the clients are, what the service assumes.",
        (
            "environment",
            "api_prefix",
            "public_url",
            "timezone",
            "phone_default_region",
            "trash_retention",
            "tombstone_retention",
            "jobs_in_process",
            "purge_interval",
            "import_max_bytes",
            "import_max_records",
            "max_body_bytes",
            "load_entry_points",
        ),
    ),
    (
        "Database",
        "The SQL database, its read replicas and the pool of each worker.",
        ("database_", "replica_"),
    ),
    (
        "Tokens and passwords",
        "JWT signing, token lifetimes, Argon2 cost, two-factor authentication.",
        (
            "jwt_",
            "access_token_ttl",
            "refresh_token_ttl",
            "password_hash_",
            "mfa_token_ttl",
            "totp_issuer",
        ),
    ),
    (
        "Sign-in with identity providers",
        "OpenID Connect providers and GitHub (none by default); see the security guide.",
        ("oauth_",),
    ),
    (
        "Email, verification and reset",
        "Where mail goes (the log until `MAIL_SERVER` is set) and the links it carries.",
        (
            "require_verified_email",
            "verify_token_ttl",
            "reset_token_ttl",
            "password_reset_url",
            "mail_",
        ),
    ),
    (
        "Cache and Redis",
        "The current-user cache; with `REDIS_URL`, shared by workers with the rate limits.",
        (
            "redis_",
            "key_prefix",
            "cache_retry_after",
            "cache_check_interval",
            "user_cache_ttl",
            "memory_cache_max_entries",
            "read_cache_bytes",
        ),
    ),
    ("Rate limits", "Limits per user and per client address.", ("rate_limit_", "trusted_proxies")),
    ("CORS", "Off until origins are listed.", ("cors_",)),
    (
        "Avatars and storage",
        "The local disk by default; Cloudinary with `CLOUDINARY_URL`.",
        ("media_", "avatar_max_bytes", "cloudinary_url"),
    ),
    (
        "Webhooks",
        "Where messages may go, how long an attempt takes, the retries and who sends them.",
        ("webhook_",),
    ),
]
"""Every setting in one topic: a name in the list, or a prefix ending in `_`."""


def group_of(field: str) -> str:
    for title, _, members in GROUPS:
        if any(field == m or (m.endswith("_") and field.startswith(m)) for m in members):
            return title
    raise LookupError(f"setting {field!r} belongs to no group of scripts/settings_reference.py")


def cell(text: str) -> str:
    """`text` as one Markdown table cell: on one line, its pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def grouped_markdown() -> str:
    """The configuration reference: one table per topic, each setting with its environment
    variable, its `Settings` field, its type and default."""
    rows: dict[str, list[str]] = {title: [] for title, _, _ in GROUPS}
    for name, info in Settings.model_fields.items():
        default = env_value(_default(info))
        shown = f"`{default}`" if default else "*unset*"
        kind = _type_name(info).replace(" | ", " or ")
        rows[group_of(name)].append(
            f"| `{env_name(name)}`<br>field `{name}`<br>{kind}, default {shown} | "
            f"{cell(info.description or '')} |"
        )
    out: list[str] = []
    for title, intro, _ in GROUPS:
        out += [f"## {title}", "", intro, "", "| Setting | Meaning |", "|---|---|"]
        out += [*rows[title], ""]
    return "\n".join(out)


COMPOSE_SECTION = """
# ---------------------------------------------------------------------------------------------
# docker compose only (docker-compose.yml reads these; the app never does)
# ---------------------------------------------------------------------------------------------
# PostgreSQL of the stack. Choose a real password.
POSTGRES_USER=contacts
POSTGRES_PASSWORD=change-me-postgres-password
POSTGRES_DB=contacts
# Host port of the API.
APP_PORT=8000
# Worker processes of the API container.
WORKERS=2
# Host ports of Mailpit: its web UI shows every email the stack sends.
MAILPIT_UI_PORT=8025
MAILPIT_SMTP_PORT=1025
"""


def env_example() -> str:
    """The text of `.env.example`: every setting with its default or a safe placeholder."""
    out = [
        "# contacts-kit configuration. Copy to .env (git-ignored) and adjust.",
        "# Generated from contacts_kit.Settings by `python -m scripts.settings_reference`;",
        "# an empty value means 'not set' (the default applies).",
        "",
    ]
    for name, info in Settings.model_fields.items():
        value = PLACEHOLDERS.get(name, env_value(_default(info)))
        out.append(f"# {info.description}")
        out.append(f"{env_name(name)}={value}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n" + COMPOSE_SECTION


if __name__ == "__main__":
    Path(".env.example").write_text(env_example())
    print("wrote .env.example")
