"""The routes reference, generated from the OpenAPI document the app serves: every route with
its parameters, body, success answer and errors (each with its `code`), every schema, and
the list of error codes. The docs build embeds it (`scripts/mkdocs_hooks.py`), so the page
cannot drift from the code."""

from __future__ import annotations

import re
from typing import Any

from contacts_kit import Settings, create_app
from contacts_kit.errors import ERROR_CODE_MEANINGS, ErrorCode
from contacts_kit.http import STATUS
from scripts.settings_reference import cell

METHODS = ("get", "post", "put", "patch", "delete")
REF = "#/components/schemas/"


EXAMPLE_PROVIDER = {
    "name": "example",
    "client_id": "docs",
    "client_secret": "docs",
    "server_metadata_url": "https://id.example/.well-known/openid-configuration",
}
"""An identity provider, so that the reference lists the sign-in routes (mounted only when
providers are configured); nothing is fetched from it."""
EXAMPLE_REDIRECT = "https://app.example/signed-in"


def served_openapi() -> dict[str, Any]:
    """The OpenAPI document of `create_app()` on the defaults (nothing read from `.env`) and
    one identity provider."""
    settings = Settings(
        _env_file=None,
        load_entry_points=False,
        jwt_secret="docs-" + "x" * 40,
        oauth_providers=[EXAMPLE_PROVIDER],
        oauth_redirect_allowlist=[EXAMPLE_REDIRECT],
    )
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) of every route, in the document's order."""
    return [
        (method.upper(), path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def anchor(method: str, path: str) -> str:
    """The heading id of a route: `post-api-contacts-contact_id`."""
    return re.sub(r"[^a-z0-9_]+", "-", f"{method} {path}".lower()).strip("-")


def type_of(schema: dict[str, Any]) -> str:
    """A JSON schema as a short type: `string (email)`, `integer ≥ 1`, [ContactRead](#...)[]."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return f"[{name}](#schema-{name.lower()})"
    if "anyOf" in schema:
        kinds = [type_of(option) for option in schema["anyOf"]]
        return " or ".join(dict.fromkeys(kinds))
    if schema.get("type") == "array":
        return f"{type_of(schema.get('items', {}))}[]"
    if "const" in schema:
        return f"`{schema['const']!r}`".replace("'", '"')
    if "enum" in schema:
        return " or ".join(f"`{value}`" for value in schema["enum"])
    kind = str(schema.get("type", "any"))
    if "format" in schema:
        kind += f" ({schema['format']})"
    limits = []
    if "minLength" in schema and schema["minLength"] > 0:
        limits.append(f"≥ {schema['minLength']} chars")
    if "maxLength" in schema:
        limits.append(f"≤ {schema['maxLength']} chars")
    if "minimum" in schema:
        limits.append(f"≥ {schema['minimum']}")
    if "maximum" in schema and schema["maximum"] < 2**63 - 1:
        limits.append(f"≤ {schema['maximum']}")
    return kind + (f", {', '.join(limits)}" if limits else "")


def _parameters(operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    if not parameters:
        return []
    lines = [
        "**Parameters**",
        "",
        "| Name | In | Type | Required | Meaning |",
        "|---|---|---|---|---|",
    ]
    for parameter in parameters:
        schema = parameter.get("schema", {})
        default = schema.get("default")
        meaning = parameter.get("description", "")
        if default is not None:
            meaning = f"{meaning} Default `{default}`.".strip()
        lines.append(
            f"| `{parameter['name']}` | {parameter['in']} | {type_of(schema)} | "
            f"{'yes' if parameter.get('required') else 'no'} | {cell(meaning)} |"
        )
    return [*lines, ""]


def _body(operation: dict[str, Any]) -> list[str]:
    body = operation.get("requestBody")
    if not body:
        return []
    lines = []
    for content_type, media in body["content"].items():
        lines.append(f"**Body** (`{content_type}`): {type_of(media.get('schema', {}))}")
    return [*lines, ""]


def _success(status: str, response: dict[str, Any]) -> list[str]:
    content = response.get("content", {})
    bodies = [
        f"{type_of(media['schema'])} (`{content_type}`)"
        for content_type, media in content.items()
        if media.get("schema")
    ]
    line = f"**{status}**: " + (", ".join(bodies) if bodies else "no body")
    headers = response.get("headers", {})
    if headers:
        line += "; headers " + ", ".join(f"`{name}`" for name in headers)
    return [line, ""]


def _is_error(status: str) -> bool:
    """4xx and 5xx; a success or a 304 is an answer, not an error."""
    return status[0] in "45"


def _errors(responses: dict[str, Any]) -> list[str]:
    rows = []
    for status, response in sorted(responses.items()):
        if not _is_error(status):
            continue
        codes = response.get("x-error-codes")
        if codes:
            for code in codes:
                meaning = ERROR_CODE_MEANINGS[ErrorCode(code)]
                rows.append(f"| {status} | [`{code}`](#code-{code.lower()}) | {cell(meaning)} |")
        elif status == "422":
            rows.append(
                "| 422 | *(FastAPI's list)* | A field is missing or invalid: `detail` lists each "
                "one with its location, message and (shortened) input. |"
            )
        else:
            rows.append(f"| {status} | | {cell(response.get('description', ''))} |")
    if not rows:
        return []
    return ["**Errors**", "", "| Status | Code | Meaning |", "|---|---|---|", *rows, ""]


def route_section(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### {method} {path} {{#{anchor(method, path)}}}", ""]
    lines += [f"**{operation.get('summary', '')}.** {operation.get('description', '')}".strip(), ""]
    if operation.get("security"):
        lines += ["Needs an access token: `Authorization: Bearer <access_token>`.", ""]
    lines += _parameters(operation) + _body(operation)
    for status, response in operation["responses"].items():
        if not _is_error(status):
            lines += _success(status, response)
    return lines + _errors(operation["responses"])


def schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{#schema-{name.lower()}}}", ""]
    if schema.get("description"):
        lines += [cell(schema["description"]), ""]
    if "enum" in schema:
        return [*lines, "One of " + ", ".join(f"`{value}`" for value in schema["enum"]) + ".", ""]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines += ["| Field | Type | Required | Meaning |", "|---|---|---|---|"]
    for field, spec in properties.items():
        meaning = spec.get("description", "")
        if "default" in spec and spec["default"] is not None and field not in required:
            meaning = f"{meaning} Default `{spec['default']}`.".strip()
        lines.append(
            f"| `{field}` | {type_of(spec)} | {'yes' if field in required else 'no'} | "
            f"{cell(meaning)} |"
        )
    return [*lines, ""]


def error_codes_section() -> list[str]:
    lines = ["| Code | Status | Meaning |", "|---|---|---|"]
    for code in ErrorCode:
        lines.append(
            f"| `{code.value}` {{#code-{code.value.lower()}}} | {STATUS[code]} | "
            f"{cell(ERROR_CODE_MEANINGS[code])} |"
        )
    return [*lines, ""]


MODELS_PAGE = "models.md"
"""The page of the schemas and the error codes (docs/models.md); the routes link to it."""


def markdown(document: dict[str, Any] | None = None) -> str:
    """The routes, grouped by tag, as Markdown, from `document` (the served one by default);
    the schemas and error codes they name are on the models page (`models_markdown`)."""
    document = document or served_openapi()
    lines: list[str] = []
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for method, path, operation in operations(document):
        by_tag.setdefault((operation.get("tags") or ["health"])[0], []).append(
            (method, path, operation)
        )
    for tag, routes in by_tag.items():
        lines += [f"## {tag.capitalize()}", ""]
        lines += [f"- [`{method} {path}`](#{anchor(method, path)})" for method, path, _ in routes]
        lines.append("")
        for method, path, operation in routes:
            lines += route_section(method, path, operation)
    text = "\n".join(lines)
    return text.replace("](#schema-", f"]({MODELS_PAGE}#schema-").replace(
        "](#code-", f"]({MODELS_PAGE}#code-"
    )


def models_markdown(document: dict[str, Any] | None = None) -> str:
    """The schemas of `document` (the served one by default) and the error codes."""
    document = document or served_openapi()
    lines = ["## Schemas", ""]
    for name, schema in document["components"]["schemas"].items():
        lines += schema_section(name, schema)
    lines += ["## Error codes {#error-codes}", ""]
    lines += [
        'Every error body is `{"detail": "...", "code": "..."}`: `detail` is for people '
        "(it may change), `code` is for programs (it will not). Validation errors (422) keep "
        "FastAPI's shape, a `detail` list.",
        "",
    ]
    return "\n".join(lines + error_codes_section())


if __name__ == "__main__":
    print(markdown())
