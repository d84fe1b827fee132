"""The documentation keeps up with the code: hooks, security claims, the README's commands."""

from __future__ import annotations

import ast
import html
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from contacts_kit import Settings, hookspecs
from contacts_kit.errors import ERROR_CODE_MEANINGS, ErrorCode
from contacts_kit.http import STATUS
from scripts import routes_reference, settings_reference
from tests.server import clean_env, serving_command

ROOT = Path(__file__).parent.parent


def _hooks() -> list[str]:
    return [name for name in dir(hookspecs) if name.startswith(("provide_", "on_"))]


def test_every_hook_has_a_section_in_the_hooks_reference() -> None:
    headings = re.findall(r"^## (\w+)$", (ROOT / "docs" / "hooks.md").read_text(), re.MULTILINE)
    assert sorted(headings) == sorted(_hooks())


def test_every_test_named_in_the_security_page_exists() -> None:
    page = (ROOT / "docs" / "security-tests.md").read_text()
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
    [command] = [
        block
        for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
        if block.startswith("contacts-kit ")
    ]
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
    with serving_command(
        tmp_path, [sys.executable, "-m", "uvicorn", "host:app"], env=env, ready="/healthz"
    ) as (base, _):
        assert httpx.get(f"{base}/readyz").status_code == 200
        seven, eight = {"X-User-Id": "7"}, {"X-User-Id": "8"}
        contact = {
            "first_name": "Read",
            "last_name": "Me",
            "email": "read.me@example.com",
            "phone": "+12025550143",
            "birthday": "1990-01-01",
        }
        created = httpx.post(f"{base}/api/contacts", json=contact, headers=seven)
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{base}/api/contacts", headers=seven)
        assert [item["email"] for item in listed.json()] == ["read.me@example.com"]
        assert httpx.get(f"{base}/api/contacts", headers=eight).json() == []
        assert httpx.get(f"{base}/api/contacts").status_code == 401
        paths = httpx.get(f"{base}/openapi.json").json()["paths"]
        assert "/api/contacts" in paths
        assert not [path for path in paths if "/auth" in path]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built as `mkdocs build --strict` builds it."""
    site = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean_env(NO_MKDOCS_2_WARNING="1"),
    )
    assert built.returncode == 0, built.stderr
    return site


def _text(page: Path) -> str:
    """A built page's text, without tags and with whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text())).split())


def test_no_built_page_shows_a_literal_snippet_marker(site: Path) -> None:
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


def test_the_routes_page_documents_every_route_the_app_serves(site: Path) -> None:
    document = routes_reference.served_openapi()
    page = (site / "routes" / "index.html").read_text()
    text = _text(site / "routes" / "index.html")
    found = routes_reference.operations(document)
    assert len(found) >= 20
    starts = {
        (method, path): page.index(f'id="{routes_reference.anchor(method, path)}"')
        for method, path, _ in found
    }
    ends = [*sorted(starts.values()), len(page)]
    for method, path, operation in found:
        assert f"{method} {path}" in text
        start = starts[method, path]
        section = page[start : min(end for end in ends if end > start)]
        # Each answer of the route is in its own section: a success with its status, an
        # error with its status and a link to each of its codes.
        for status_code, response in operation["responses"].items():
            shown = f"<strong>{status_code}</strong>" if status_code < "4" else f">{status_code}<"
            assert shown in section, (method, path, status_code)
            for code in response.get("x-error-codes", []):
                assert f'href="../models/#code-{code.lower()}"' in section, (method, path, code)
    models = (site / "models" / "index.html").read_text()
    for code in ErrorCode:
        assert f'id="code-{code.value.lower()}"' in models, code
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name.lower()}"' in models, name
        assert f'href="#schema-{name.lower()}"' not in page  # a link to the models page


def test_every_error_code_has_a_status_and_a_meaning() -> None:
    assert set(STATUS) == set(ErrorCode)
    assert set(ERROR_CODE_MEANINGS) == set(ErrorCode)
    assert all(len(meaning) > 20 for meaning in ERROR_CODE_MEANINGS.values())


def test_every_setting_is_in_one_group_of_the_configuration_page(site: Path) -> None:
    titles = {title for title, _, _ in settings_reference.GROUPS}
    assert {settings_reference.group_of(name) for name in Settings.model_fields} == titles
    text = _text(site / "configuration" / "index.html")
    for name in Settings.model_fields:
        assert settings_reference.env_name(name) in text


def test_the_api_reference_shows_signatures_fields_and_values(site: Path) -> None:
    page = (site / "reference" / "index.html").read_text()
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())
    for shown in (
        "settings: Settings",  # the constructor of ContactsKit, annotated
        "route_class: type[APIRoute] = APIRoute",
        "to: str",  # MailMessage's fields
        "html: str | None = None",
        "token_version: int",  # AuthenticatedUser
        "database_pool_size: int",  # Settings' fields
        "Machine-readable code of every error body contacts-kit returns",  # ErrorCode
        "upgrade(database_url: str, revision: str = 'head') -> None",
    ):
        assert shown in text, shown


OVERFLOWING = """() => {
    const boxes = [document.documentElement,
        ...document.querySelectorAll('.md-typeset__table, .md-typeset pre > code')];
    return boxes.filter(b => b.scrollWidth > b.clientWidth + 1)
        .map(b => (b.textContent || '').trim().slice(0, 80));
}"""
"""The page itself and each scroll box (tables, code) that is wider than its frame."""
WIDE_PAGES = [
    "",
    "quickstart",
    "routes",
    "models",
    "configuration",
    "benchmarks",
    "embedding",
    "reference",
    "troubleshooting",
]


async def test_pages_fit_a_1280_pixel_window_without_scrolling_sideways(
    site: Path, browser: object, tmp_path: Path
) -> None:
    from playwright.async_api import Browser

    assert isinstance(browser, Browser)
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    overflowing: dict[str, list[str]] = {}
    for name in WIDE_PAGES:
        await page.goto((site / name / "index.html").as_uri())
        await page.screenshot(path=str(tmp_path / f"{name or 'home'}.png"), full_page=True)
        wide = await page.evaluate(OVERFLOWING)
        if wide:
            overflowing[name or "home"] = wide
    # The measure notices a line too long for the page: one more code block, 200 characters.
    await page.evaluate(
        """() => {
            const code = document.createElement('code');
            code.textContent = 'x'.repeat(200);
            const pre = document.createElement('pre');
            pre.appendChild(code);
            document.querySelector('.md-typeset').appendChild(pre);
        }"""
    )
    assert await page.evaluate(OVERFLOWING) == ["x" * 80]
    await page.close()
    assert overflowing == {}


WIDER_THAN_THE_SCREEN = """() => {
    const wide = [...document.querySelectorAll('.md-content table')]
        .filter(t => t.getBoundingClientRect().right > window.innerWidth + 1
            || t.scrollWidth > t.clientWidth + 1)
        .map(t => (t.textContent || '').trim().slice(0, 60));
    if (document.documentElement.scrollWidth > window.innerWidth + 1) wide.push('the page');
    return wide;
}"""
"""Each table of the page wider than the window, or scrolling inside itself; and the page
itself, when it scrolls sideways."""


async def test_tables_fit_a_390_pixel_phone(site: Path, browser: object, tmp_path: Path) -> None:
    from playwright.async_api import Browser

    assert isinstance(browser, Browser)
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    too_wide: dict[str, list[str]] = {}
    for name in ("routes", "models", "configuration", "reference", "security", "why"):
        await page.goto((site / name / "index.html").as_uri())
        assert await page.locator(".md-content table").count() > 0, name
        wide = await page.evaluate(WIDER_THAN_THE_SCREEN)
        if wide:
            await page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
            too_wide[name] = wide
    # Each stacked cell is named after its column.
    await page.goto((site / "configuration" / "index.html").as_uri())
    label = await page.locator('.md-content td[data-label="Setting"]').first.evaluate(
        "td => getComputedStyle(td, '::before').content"
    )
    assert label == '"Setting"'
    # The measure sees a table too wide: one more, of a single 600-pixel cell.
    await page.evaluate(
        """() => {
            const table = document.createElement('table');
            table.innerHTML = '<tr><td><div style="width: 600px">wide</div></td></tr>';
            table.className = 'probe';
            document.querySelector('.md-content').appendChild(table);
        }"""
    )
    assert await page.evaluate(WIDER_THAN_THE_SCREEN) != []
    await page.close()
    assert too_wide == {}


def test_the_docs_runner_fails_a_block_that_does_not_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from contacts_kit.errors import ConfigurationError
    from tests import docs_runner

    hook = "from contacts_kit import hookimpl\n\n\n@hookimpl\ndef {}():\n    pass"
    blocks = [
        ("bash", "echo fine"),
        ('text title="output"', "fine"),
        ("bash", "exit 3"),
        ("python", "raise ValueError('a block that raises')"),
        ('json title="output"', "{}"),
        ("", "no language"),
        ("python", "def later():\n    return MemcachedCache()"),
        ("python", hook.format("provide_cach")),
        ("python", hook.format("provide_cache")),
        ("python", "x = 1"),
        ("python", "y = x + 1"),
    ]
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n" + "".join(f"```{info}\n{code}\n```\n\n" for info, code in blocks)
    )
    document = docs_runner.sybil.parse(page)
    document.namespace["tmp_path_factory"] = tmp_path_factory
    outcomes = []
    try:
        for example in document:
            try:
                example.evaluate()
            except (AssertionError, ValueError, ConfigurationError) as exc:
                outcomes.append(type(exc).__name__)
            else:
                outcomes.append("ran")
    finally:
        docs_runner.Page.close(document.namespace["page"])
    assert outcomes == [
        "ran",
        "ran",  # the output block shows what the command printed
        "AssertionError",  # the shell block exits non-zero
        "ValueError",  # the Python block raises
        "JSONDecodeError",  # the output block shows what nothing printed
        "AssertionError",  # a block in no language is refused
        "AssertionError",  # a name nobody defines, inside a function that never runs
        "ConfigurationError",  # a misspelled hook
        "ran",  # a hook that exists, registered with a kit
        "ran",
        "ran",  # a name an earlier block of the page defined
    ]
