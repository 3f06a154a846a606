"""The download package's shape (issue 12): small modules, and requests only through the
runtime's public surface (no private ``sdkgen.runtime._...`` module)."""

from __future__ import annotations

import ast
from pathlib import Path

import tinkex._download

PACKAGE = Path(tinkex._download.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))


def _imported(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_a_private_runtime_module() -> None:
    assert len(MODULES) >= 8
    private = {
        module.name: sorted(n for n in _imported(module) if n.startswith("sdkgen.runtime._"))
        for module in MODULES
    }
    assert {name: found for name, found in private.items() if found} == {}


def test_every_module_is_small() -> None:
    sizes = {module.name: len(module.read_text().splitlines()) for module in MODULES}
    assert {name: lines for name, lines in sizes.items() if lines > 500} == {}
