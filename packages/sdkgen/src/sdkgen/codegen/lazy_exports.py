"""The static view of a package's lazily loaded names, written from the map that declares them.

A package whose ``__getattr__`` loads its public names on first use declares them once, in a
module-level dict literal ``_EXPORTS = {"Name": "module"}`` (``"module:attr"`` when the name
differs there), and optionally ``_MODULES = {"sub", ...}``, submodules loaded the same way.
Type checkers do not run ``__getattr__``: they need ``if TYPE_CHECKING:`` imports of the same
names. This module writes that block, between two marker lines, from the map, so that the
names are written by hand once::

    python -m sdkgen exports src/mypkg/__init__.py           # rewrite the block
    python -m sdkgen exports src/mypkg/__init__.py --check   # exit 1 when it is stale

Each name is imported as ``X as X`` (the explicit re-export every type checker reads), or
plainly where a literal ``__all__`` lists it (which re-exports it already, and is shorter to
compile). The block is sorted and formatted by ruff under the project's own settings (found
from the file's path), as the project's lint will read it.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["BEGIN", "END", "ExportsError", "main", "render_block", "rewrite"]

BEGIN = "# lazy-exports: begin (written by `python -m sdkgen exports` from _EXPORTS; do not edit)"
END = "# lazy-exports: end"


class ExportsError(Exception):
    """The file has no map, no markers, or a map that is not a literal."""


def render_block(
    exports: Mapping[str, str], modules: Iterable[str] = (), listed: Iterable[str] = ()
) -> str:
    """The ``if TYPE_CHECKING:`` block importing every name of ``exports`` and ``modules``,
    between the markers (one unsorted line per module: ruff sorts and wraps them). A name is
    imported as ``X as X``, the explicit re-export every type checker reads, unless it is in
    ``listed`` (a literal ``__all__``, which re-exports it already): then plainly, shorter.

    Example::

        render_block({"Client": "._client", "Old": "._client:New"}, ["types"])
        # if TYPE_CHECKING:
        #     from . import types as types
        #     from ._client import Client as Client, New as Old
    """
    public = set(listed)
    by_module: dict[str, list[str]] = {}
    for module in sorted(modules):
        by_module.setdefault(".", []).append(
            module if module in public else f"{module} as {module}"
        )
    for name, target in exports.items():
        module, _, attr = target.partition(":")
        plain = name in public and not attr
        by_module.setdefault(module, []).append(name if plain else f"{attr or name} as {name}")
    lines = [BEGIN, "if TYPE_CHECKING:"]
    lines += [f"    from {module} import {', '.join(names)}" for module, names in by_module.items()]
    lines.append(END)
    return "\n".join(lines) + "\n"


def _literal(tree: ast.Module, name: str, *, required: bool = True) -> object:
    """The value of the module-level literal ``name``; None when absent (or, not ``required``,
    not a literal)."""
    target: ast.expr
    value: ast.expr | None
    for node in tree.body:
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name and value is not None:
            try:
                return ast.literal_eval(value)
            except ValueError as err:
                if not required:
                    return None
                raise ExportsError(f"`{name}` must be a literal ({err})") from None
    return None


def rewrite(source: str, path: Path) -> str:
    """``source`` (the text of ``path``) with its block written anew from its ``_EXPORTS``.

    Example::

        new = rewrite(path.read_text(), path)
    """
    tree = ast.parse(source, str(path))
    exports = _literal(tree, "_EXPORTS")
    if not isinstance(exports, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in exports.items()
    ):
        raise ExportsError(f"{path}: no `_EXPORTS` dict of names to module paths")
    modules = _literal(tree, "_MODULES") or ()
    if not isinstance(modules, set | list | tuple | frozenset):
        raise ExportsError(f"{path}: `_MODULES` must be a set or list of submodule names")
    lines = source.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ExportsError(f"{path}: expected one `{BEGIN}` line and, after it, one `{END}` line")
    listed = _literal(tree, "__all__", required=False)  # computed: every name `as` itself
    names = listed if isinstance(listed, list | tuple) else ()
    block = render_block(exports, [str(m) for m in modules], [str(n) for n in names])
    return _ruff("".join([*lines[: starts[0]], block, *lines[ends[0] + 1 :]]), path)


def _ruff(source: str, path: Path) -> str:
    """Imports sorted and the text formatted as the project's ruff settings for ``path`` say."""
    ruff = [sys.executable, "-m", "ruff"]
    # An absolute path: ruff finds the settings from the file, wherever the command runs.
    where = ["--stdin-filename", str(path.resolve())]
    sort = [*ruff, "check", "--select", "I", "--fix-only", "--exit-zero", "-q", *where, "-"]
    source = subprocess.run(sort, input=source, capture_output=True, text=True, check=True).stdout
    fmt = [*ruff, "format", "-q", *where, "-"]
    return subprocess.run(fmt, input=source, capture_output=True, text=True, check=True).stdout


def main(argv: list[str]) -> int:
    """``python -m sdkgen exports FILE... [--check]``: 0 written or current, 1 stale or broken.

    Example::

        main(["src/mypkg/__init__.py", "--check"])
    """
    parser = argparse.ArgumentParser(
        prog="python -m sdkgen exports",
        description="Write the TYPE_CHECKING imports of a package's lazy _EXPORTS map.",
    )
    parser.add_argument("files", type=Path, nargs="+", help="modules with an _EXPORTS map")
    parser.add_argument("--check", action="store_true", help="only report a stale block")
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        source = path.read_text()
        try:
            new = rewrite(source, path)
        except ExportsError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 1
            continue
        if new == source:
            print(f"{path}: the lazy exports' static imports are up to date")
        elif args.check:
            print(
                f"{path}: the TYPE_CHECKING imports differ from _EXPORTS; "
                f"run: python -m sdkgen exports {path}",
                file=sys.stderr,
            )
            status = 1
        else:
            path.write_text(new)
            print(f"{path}: wrote the TYPE_CHECKING imports of _EXPORTS")
    return status
