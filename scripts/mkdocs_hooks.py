"""mkdocs hooks: pages can embed tables generated from the code, so they never drift, and a
page whose snippet include did not happen fails the build.

Kept outside `docs/`, so it is not published as a page of the site.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import routes_reference, settings_reference

GENERATED = {
    "<!-- settings-reference -->": settings_reference.grouped_markdown,
    "<!-- routes-reference -->": routes_reference.markdown,
    "<!-- models-reference -->": routes_reference.models_markdown,
}
# What pymdownx.snippets leaves behind when a line is not an include it understands:
# `--8<--`, or `--8 < --` once a formatter has spaced it out; searched in the page's text
# (highlighting wraps each token in a tag of its own).
LEFTOVER_SNIPPET = re.compile(r"--8\s*<")
TAG = re.compile(r"<[^>]*>")


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace each marker with what is generated from the code: the settings from
    `Settings`, the routes from the OpenAPI document the app serves."""
    for marker, generate in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown


def on_post_page(output: str, page: Any, **kwargs: Any) -> str:
    """Fail the build when a page shows a snippet marker instead of the included file; give
    each table cell the name of its column, for phones (docs/stylesheets/phone.css)."""
    text = html.unescape(TAG.sub("", output))
    found = LEFTOVER_SNIPPET.search(text)
    if found:
        context = text[found.start() : found.start() + 60].splitlines()[0]
        raise PluginError(f"{page.file.src_path}: a snippet include was not expanded: {context}")
    return TABLE.sub(_labelled, output)


TABLE = re.compile(r"<table>.*?</table>", re.DOTALL)
HEADER_CELL = re.compile(r"<th[^>]*>(.*?)</th>", re.DOTALL)
ROW = re.compile(r"<tr>(.*?)</tr>", re.DOTALL)
CELL = re.compile(r"<td(?P<attributes>[^>]*)>")


def _labelled(table: re.Match[str]) -> str:
    """The table with `data-label="<its column's name>"` on every body cell."""
    source = table.group(0)
    head, end_of_head, body = source.partition("</thead>")
    names = [
        html.escape(html.unescape(TAG.sub("", name)).strip()) for name in HEADER_CELL.findall(head)
    ]

    def row(match: re.Match[str]) -> str:
        cells = iter(names)

        def cell(found: re.Match[str]) -> str:
            name = next(cells, "")
            return f'<td data-label="{name}"{found.group("attributes")}>'

        return "<tr>" + CELL.sub(cell, match.group(1)) + "</tr>"

    return head + end_of_head + ROW.sub(row, body) if end_of_head else source
