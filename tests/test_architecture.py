"""The package's shape: no import cycle between any two of its modules, even through
`TYPE_CHECKING` imports (import-linter's contracts, in the test command, check the layers)."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp
import pytest


def _cycles(package: str) -> list[tuple[str, ...]]:
    """Every import `a -> b` for which `b` also reaches `a`: the cycles, one edge each."""
    graph = grimp.build_graph(package, cache_dir=None)
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.append((importer, *back))
    return found


def test_no_module_of_the_package_is_part_of_an_import_cycle() -> None:
    assert _cycles("contacts_kit") == []


def test_a_cycle_through_type_checking_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "kit.py").write_text("from cyclic import router\n")
    (package / "router.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclic.kit import Kit\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert _cycles("cyclic") == [
            ("cyclic.kit", "cyclic.router", "cyclic.kit"),
            ("cyclic.router", "cyclic.kit", "cyclic.router"),
        ]
    finally:
        sys.modules.pop("cyclic", None)
