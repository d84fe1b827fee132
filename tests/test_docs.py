"""The documentation keeps up with the code: hooks, security claims, the README's commands."""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx

from contacts_kit import hookspecs
from tests.server import clean_env, serving_command, wait_for

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


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_readme_embedding_snippet_runs_as_written(tmp_path: Path) -> None:
    section = _section((ROOT / "README.md").read_text(), "Embed it in your app")
    [command] = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    [source] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    (tmp_path / "host.py").write_text(source)
    env = clean_env(CONTACTS_KIT_RATE_LIMIT_AUTH="100/minute")
    argv = shlex.split(command.split("#")[0])
    assert argv == ["contacts-kit", "migrate"]
    script = Path(sys.executable).parent / argv[0]
    migrated = subprocess.run(
        [str(script), *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    prefix = re.search(r'PREFIX = "(.+)"', source)
    assert prefix
    api = prefix.group(1)
    with serving_command(
        tmp_path, [sys.executable, "-m", "uvicorn", "host:app"], env=env, ready=f"{api}/healthz"
    ) as (base, log):
        assert httpx.get(f"{base}{api}/readyz").status_code == 200
        account = {"email": "readme@example.com", "password": "readme-password"}
        assert httpx.post(f"{base}{api}/auth/signup", json=account).status_code == 201
        link = wait_for(log, rf"(http://\S+{re.escape(api)}/auth/verify\?token=\S+)")
        path = link[link.index(api) :]
        assert httpx.get(f"{base}{path}").status_code == 200
        tokens = httpx.post(f"{base}{api}/auth/login", json=account).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        contact = {
            "first_name": "Read",
            "last_name": "Me",
            "email": "read.me@example.com",
            "phone": "+12025550143",
            "birthday": "1990-01-01",
        }
        created = httpx.post(f"{base}{api}/contacts", json=contact, headers=headers)
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{base}{api}/contacts", headers=headers)
        assert [item["email"] for item in listed.json()] == ["read.me@example.com"]


def test_no_built_page_shows_a_literal_snippet_marker(tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(NO_MKDOCS_2_WARNING="1"),
    )
    assert built.returncode == 0, built.stderr
    pages = list(site.rglob("*.html"))
    assert len(pages) >= 10
    marked = [str(page) for page in pages if SNIPPET_MARKER.search(page.read_text())]
    assert marked == []
    # The embedding page shows the example host app itself.
    embedding = (site / "embedding" / "index.html").read_text()
    assert "include_router" in embedding
    assert "kit.health_router" in embedding


def test_the_docs_build_fails_on_a_snippet_marker_left_in_a_page(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text('# Broken\n\n```python\n--8 < --"x.py"\n```\n')
    (tmp_path / "mkdocs.yml").write_text(
        f"site_name: t\nhooks:\n  - {ROOT / 'scripts' / 'mkdocs_hooks.py'}\n"
        "markdown_extensions:\n  - pymdownx.superfences\n  - pymdownx.snippets\n"
    )
    built = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(NO_MKDOCS_2_WARNING="1"),
    )
    assert built.returncode != 0
    assert "index.md: a snippet include was not expanded" in built.stderr


SNIPPET_MARKER = re.compile(r"--8\s*&lt;|--8\s*<")
