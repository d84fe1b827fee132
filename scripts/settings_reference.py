"""The settings as documentation: the configuration reference and `.env.example` are both
generated from `Settings`, so neither can drift from the code."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

from pydantic import SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from contacts_kit.settings import Settings

ENV_PREFIX = "CONTACTS_KIT_"
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
    return text.replace("datetime.timedelta", "duration").replace("pathlib.Path", "path")


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
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def rows() -> list[tuple[str, str, str, str]]:
    """(variable, type, default, description) of every setting, in declaration order."""
    return [
        (env_name(name), _type_name(info), env_value(_default(info)), info.description or "")
        for name, info in Settings.model_fields.items()
    ]


def markdown_table() -> str:
    """The configuration reference as a Markdown table."""
    lines = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for variable, type_name, default, description in rows():
        shown = f"`{default}`" if default else "*(unset)*"
        cell = description.replace("|", "\\|").replace("\n", " ")
        kind = type_name.replace(" | ", " or ")
        lines.append(f"| `{variable}` | `{kind}` | {shown} | {cell} |")
    return "\n".join(lines) + "\n"


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
