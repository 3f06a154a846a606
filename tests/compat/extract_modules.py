"""How ``official_modules.json`` was made (kept as documentation; the tests never run it).

It reads the unpacked official wheel with ``ast`` only (nothing of it is imported or copied)
and records, for every module of the package, the public names it binds:

- the names in its ``__all__``, when it has one (the declared ones),
- the classes, functions and assignments at its top level (some modules define more than they
  declare: ``tinker._exceptions`` leaves ``APIError`` out of its ``__all__``),
- in a package's ``__init__``, the names it imports from its own submodules;

names with a leading underscore (but ``__title__`` and ``__version__``), type variables and loggers are left out.

Usage::

    pip download --no-deps tinker==0.38.0 -d /tmp/tinkerwheel
    unzip -q /tmp/tinkerwheel/tinker-0.38.0-py3-none-any.whl -d /tmp/tinkerwheel/x
    python tests/compat/extract_modules.py /tmp/tinkerwheel/x/tinker > tests/compat/official_modules.json
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

SKIPPED_CALLS = {"TypeVar", "ParamSpec", "getLogger", "TypeVarTuple"}
DUNDERS = {"__title__", "__version__"}


def _module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _call_name(node: ast.expr | None) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return ""


def _public_names(tree: ast.Module, is_package: bool) -> list[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            names.update(ast.literal_eval(node.value))
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if _call_name(node.value) in SKIPPED_CALLS:
                continue
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom) and is_package and node.level == 1:
            names.update(a.asname or a.name for a in node.names)
    return sorted(n for n in names if not n.startswith("_") or n in DUNDERS)


def main(root: Path) -> None:
    modules: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if path.name.endswith("_test.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules[_module_name(root, path)] = _public_names(tree, path.name == "__init__.py")
    for directory in sorted(p for p in root.rglob("*") if p.is_dir()):
        name = _module_name(root, directory / "__init__.py")
        if name not in modules and any(directory.glob("*.py")):
            modules[name] = []  # a namespace package (no ``__init__``)
    out = {"source": "tinker 0.38.0 (module paths and public names only)", "modules": modules}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
