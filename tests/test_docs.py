"""The documentation keeps up with the code: hooks, security claims, the README's commands."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from contacts_kit import hookspecs

ROOT = Path(__file__).parent.parent


def _hooks() -> list[str]:
    return [name for name in dir(hookspecs) if name.startswith(("provide_", "on_"))]


def test_every_hook_has_a_section_in_the_hooks_reference() -> None:
    headings = re.findall(r"^## (\w+)$", (ROOT / "docs" / "hooks.md").read_text(), re.MULTILINE)
    assert sorted(headings) == sorted(_hooks())


def test_every_test_named_in_the_security_page_exists() -> None:
    page = (ROOT / "docs" / "security.md").read_text()
    references = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", page)
    assert len(references) >= 15
    for path, name in references:
        tree = ast.parse((ROOT / path).read_text())
        functions = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        assert name in functions, f"{path}::{name}"


def test_the_readme_starts_with_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert blocks[0].strip() == "./scripts/serve"
    assert blocks[1].strip() == "./scripts/test"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in ci
    assert "CONTACTS_KIT_REQUIRE_SERVICES=1" in ci
