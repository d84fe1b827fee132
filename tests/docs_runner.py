"""Every code block of the documentation site runs, with Sybil.

Why Sybil: each block becomes a test item of its own, reported at its line of the page; the
blocks of a page share a namespace and run in order, as a reader follows them; hidden setup
blocks (`<!-- invisible-code-block: python -->`) and skips that must state a reason are
built in; and a block language of our own (bash against a server, `.env` profiles) is one
evaluator. pytest-examples and mktestdocs run Python blocks one by one, without the state a
page builds up; pytest-markdown-docs has no per-page setup for servers.

How each block runs (a page gets a fresh working directory and a free port that stands for
the `8000` written on the pages):

- `bash`: in one bash session per page, as typed in a terminal: variables, the working
  directory and an activated venv carry over from block to block; `set -e`, so any failing
  command fails the block. Servers a block starts in the background end with the page.
- `python`: executed in the page's namespace, in its working directory; with a
  `title="file.py"`, written to that file instead (the reader saves it; a later block uses it).
  Before that, ruff reads it for names nobody defines (inside functions too), and the hook
  implementations it defines are registered as a plugin of a kit, which refuses a wrong one.
- `dotenv`: loaded as `Settings`, and a `ContactsKit` built from them (no start-up error).
- `json`, `toml`, `yaml`: must parse. `text`: shown to the reader, not run.
- `text` or `json` titled `output`: what the bash block before it printed, compared
  (`...` stands for what changes from run to run: ids, times, tokens).
- A `--8<-- "path"` line stands for that file, as the site shows it.

Any other language, or a fence without one, fails: a block nobody runs cannot slip in.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from sybil import Document, Example, Region, Sybil
from sybil.evaluators.python import pad
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer
from sybil.parsers.markdown.skip import SkipParser

from tests.server import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TEST_BIN = Path(sys.executable).parent
"""The test venv's scripts: `contacts-kit` and `uvicorn` for pages that do not install."""
CLONE = "git clone https://github.com/contacts-kit/contacts-kit.git"
PORT_ON_PAGES = "8000"
INSTALLING_PAGES = {"index.md", "quickstart.md", "README.md"}
"""Pages that install contacts-kit into a fresh venv themselves: the test venv stays off
their PATH, so nothing they use comes from anywhere but the page."""
BLOCK_TIMEOUT = 300.0
INCLUDE = re.compile(r'^--8<--\s+"([^"]+)"\s*$', re.MULTILINE)
INFO = re.compile(r'(?P<language>[\w-]*)(?:[ \t]+title="(?P<title>[^"]*)")?[ \t]*$\n', re.M)
DONE = "__docs_block_done__"
WILDCARD = "..."
OUTPUT = "output"


def expand(source: str) -> str:
    """The block as the site shows it: each `--8<-- "path"` line replaced by that file."""
    return INCLUDE.sub(lambda m: (ROOT / m.group(1)).read_text().rstrip("\n"), source)


def snapshot(destination: Path) -> None:
    """What a clone of this checkout holds: the tracked and the new, not ignored, files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


class Page:
    """The state of one page while its blocks run: a directory, a port, a bash session."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.port = str(free_port())
        self._shell: subprocess.Popen[str] | None = None
        self._log = workdir / ".page-shell.log"
        self._blocks = 0
        self.output = ""
        """What the last bash block printed, for an `output` block to compare."""
        self.python = ""
        """The page's Python blocks run so far: a later block may use their names."""

    def rewrite(self, source: str) -> str:
        """The page's `8000` becomes the page's free port; the clone of the public repository
        becomes a copy of this checkout."""
        source = source.replace(f":{PORT_ON_PAGES}", f":{self.port}")
        source = source.replace(f"--port {PORT_ON_PAGES}", f"--port {self.port}")
        if CLONE in source:
            snapshot(self.workdir / "contacts-kit")
            source = source.replace(CLONE, "test -d contacts-kit  # the checkout under test")
        return source

    def _environment(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CONTACTS_KIT_", "VIRTUAL_ENV", "PYTHON"))
        }
        path = [p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != TEST_BIN]
        if self.name not in INSTALLING_PAGES:
            path.insert(0, str(TEST_BIN))
        env["PATH"] = os.pathsep.join(path)
        env["HOME"] = str(self.workdir)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        return env

    def bash(self, source: str) -> str:
        """Run `source` in the page's bash session; its output, or AssertionError with it."""
        if self._shell is not None and self._shell.poll() is not None:
            raise AssertionError("an earlier block of this page failed and ended its shell")
        if self._shell is None:
            with self._log.open("w") as log:  # the shell keeps its own descriptor
                self._shell = subprocess.Popen(
                    ["bash", "--noprofile", "--norc"],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=self._environment(),
                    text=True,
                    start_new_session=True,
                )
        self._blocks += 1
        script = self.workdir / f".block-{self._blocks}.sh"
        script.write_text(self.rewrite(source))
        start = self._log.stat().st_size
        marker = f"{DONE}{self._blocks}"
        assert self._shell.stdin is not None
        self._shell.stdin.write(f"set -eo pipefail; source {script}; set +e; echo {marker}\n")
        self._shell.stdin.flush()
        deadline = time.monotonic() + BLOCK_TIMEOUT
        while True:
            output = self._log.read_bytes()[start:].decode(errors="replace")
            if marker in output:
                return output.split(marker)[0]
            if self._shell.poll() is not None:
                raise AssertionError(f"the block failed (exit {self._shell.returncode}):\n{output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the block ran over {BLOCK_TIMEOUT:.0f} s:\n{output}")
            time.sleep(0.05)

    def close(self) -> None:
        """End the session and everything it started (servers in the background too)."""
        if self._shell is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._shell.pid, signal.SIGTERM)
            try:
                self._shell.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._shell.pid, signal.SIGKILL)
                self._shell.wait()
            if self._shell.stdin is not None:
                self._shell.stdin.close()
            # Background servers are in the session's process group: wait for them to go.
            for _ in range(100):
                try:
                    os.killpg(self._shell.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)


def _page(example: Example) -> Page:
    """The page's state, made at its first block (pytest fills the fixtures per item)."""
    if "page" not in example.namespace:
        path = Path(example.path)
        workdir = example.namespace["tmp_path_factory"].mktemp(path.stem)
        example.namespace["page"] = Page(path.name, workdir)
    page: Page = example.namespace["page"]
    return page


def run_bash(example: Example) -> None:
    page = _page(example)
    page.output = page.bash(example.parsed["source"])


def _matches(expected: Any, actual: Any) -> bool:
    """JSON equality where the string `"..."` in `expected` stands for any value."""
    if expected == WILDCARD:
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_matches(value, actual[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def check_output(example: Example) -> None:
    """A block titled `output` shows what the bash block before it printed: `text` line by
    line, where `...` stands for any characters; `json` value by value, where the string
    `"..."` stands for any value."""
    page = _page(example)
    expected, actual = page.rewrite(example.parsed["source"]), page.output
    page.output = ""
    if example.parsed["language"] == "json":
        assert _matches(json.loads(expected), json.loads(actual)), (
            f"the page shows\n{expected}\nthe block printed\n{actual}"
        )
        return
    pattern = ".*?".join(re.escape(part) for part in expected.strip().split(WILDCARD))
    assert re.fullmatch(pattern, actual.strip(), re.DOTALL), (
        f"the page shows\n{expected}\nthe block printed\n{actual}"
    )


def undefined_names(source: str, earlier: str = "") -> list[str]:
    """ruff's undefined-name findings (F821) in `source`, read after the `earlier` blocks of
    its page: a name used inside a function fails only when it is called, so running a block
    does not find it; reading it does."""
    prefix = f"{earlier}\n" if earlier else ""
    checked = subprocess.run(
        [
            str(TEST_BIN / "ruff"),
            "check",
            "--isolated",
            "--select",
            "F821",
            "--output-format",
            "concise",
            "--stdin-filename",
            "block.py",
            "-",
        ],
        input=prefix + source,
        capture_output=True,
        text=True,
        check=False,
    )
    skip = prefix.count("\n")
    found = []
    for line in checked.stdout.splitlines():
        where = re.match(r"block\.py:(\d+):\d+: (.*)", line)
        if where and int(where.group(1)) > skip:
            found.append(f"line {int(where.group(1)) - skip}: {where.group(2)}")
    return found


def check_plugin(namespace: dict[str, Any]) -> None:
    """The hook implementations a block defined, registered as one plugin of a kit: a name or
    an argument no hook has, or a backend that misses its protocol, stops the kit."""
    from contacts_kit import ContactsKit, Settings
    from contacts_kit.hookspecs import PROJECT_NAME

    marker = f"{PROJECT_NAME}_impl"
    hooks = {name: value for name, value in namespace.items() if hasattr(value, marker)}
    if not hooks:
        return
    plugin = type("DocsPlugin", (), {name: staticmethod(value) for name, value in hooks.items()})
    settings = Settings(
        _env_file=None,
        database_url="sqlite:///./plugin.db",
        jwt_secret="docs-" + "x" * 40,
        load_entry_points=False,
    )
    ContactsKit(settings, plugins=[plugin])


def run_python(example: Example) -> None:
    page = _page(example)
    source = expand(example.parsed["source"])
    title = example.parsed["title"]
    undefined = undefined_names(source, page.python)
    assert not undefined, "a name the block never defines:\n" + "\n".join(undefined)
    if title:
        # The reader saves it under that name; a later block runs it.
        compile(source, title, "exec")
        (page.workdir / title).write_text(source)
        return
    page.python += f"\n{source}"
    code = compile(pad(source, example.line), example.path, "exec", dont_inherit=True)
    previous = Path.cwd()
    os.chdir(page.workdir)
    try:
        before = dict(example.namespace)
        exec(code, example.namespace)  # noqa: S102  (running the page's code is the point)
        defined = {
            name: value
            for name, value in example.namespace.items()
            if before.get(name) is not value
        }
        check_plugin(defined)
    finally:
        os.chdir(previous)
        example.namespace.pop("__builtins__", None)


def run_dotenv(example: Example) -> None:
    from contacts_kit import ContactsKit, Settings

    page = _page(example)
    env_file = page.workdir / ".env-profile"
    env_file.write_text(example.parsed["source"])
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("CONTACTS_KIT_")}
    previous = Path.cwd()
    os.chdir(page.workdir)
    try:
        settings = Settings(_env_file=env_file)
        ContactsKit(settings, plugins=())
    finally:
        os.chdir(previous)
        os.environ.update(saved)


def check_parses(example: Example) -> None:
    language, source = example.parsed["language"], example.parsed["source"]
    if language == "json":
        json.loads(source)
    elif language == "toml":
        tomllib.loads(expand(source))
    elif language == "yaml":
        yaml.safe_load(expand(source))


def shown_only(example: Example) -> None:
    """Output shown to the reader: nothing to run."""


def unknown(example: Example) -> None:
    language = example.parsed["language"] or "(none)"
    raise AssertionError(
        f"a code block in language {language!r}: tests/docs_runner.py does not know how to run "
        "it; give it a language it runs, or `text` for output"
    )


EVALUATORS = {
    "bash": run_bash,
    "python": run_python,
    "dotenv": run_dotenv,
    "json": check_parses,
    "toml": check_parses,
    "yaml": check_parses,
    "text": shown_only,
}


class BlockParser:
    """Every fenced block of a page, and the invisible ones in HTML comments."""

    def __init__(self) -> None:
        self.fences = RawFencedCodeBlockLexer(info_pattern=INFO)
        self.hidden = DirectiveInHTMLCommentLexer(
            directive=r"invisible-code-block", arguments=r"[\w-]+"
        )

    def __call__(self, document: Document) -> Iterable[Region]:
        for region in self.fences(document):
            yield self._region(region, region.lexemes["language"], region.lexemes.get("title"))
        for region in self.hidden(document):
            yield self._region(region, region.lexemes["arguments"], None)

    @staticmethod
    def _region(region: Region, language: str, title: str | None) -> Region:
        region.parsed = {"language": language, "title": title, "source": region.lexemes["source"]}
        if title == OUTPUT and language in ("text", "json"):
            region.evaluator = check_output
        else:
            region.evaluator = EVALUATORS.get(language, unknown)
        return region


def _teardown(namespace: dict[str, Any]) -> None:
    if "page" in namespace:
        namespace["page"].close()


sybil = Sybil(
    parsers=[SkipParser(), BlockParser()],
    patterns=["*.md"],
    path=str(DOCS),
    teardown=_teardown,
    fixtures=["tmp_path_factory"],
)
readme = Sybil(
    # The README, top to bottom, from a fresh clone of this checkout (`./scripts/serve`
    # installs into the clone's own .venv, as on a newcomer's machine).
    parsers=[SkipParser(), BlockParser()],
    patterns=["README.md"],
    path=str(ROOT),
    teardown=_teardown,
    fixtures=["tmp_path_factory"],
)
