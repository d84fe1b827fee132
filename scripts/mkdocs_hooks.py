"""mkdocs hook: pages can embed tables generated from the code, so they never drift.

Kept outside `docs/`, so it is not published as a page of the site.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.settings_reference import markdown_table

MARKER = "<!-- settings-reference -->"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the settings marker with the table generated from `Settings`."""
    return markdown.replace(MARKER, markdown_table())
