"""mkdocs hook: pages can embed tables generated from the code, so they never drift."""

from __future__ import annotations

from typing import Any

from contacts_kit.settings_reference import markdown_table

MARKER = "<!-- settings-reference -->"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the settings marker with the table generated from `Settings`."""
    return markdown.replace(MARKER, markdown_table())
