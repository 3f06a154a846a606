"""Last checks on the generated sources, before anything is written or formatted.

The validator should refuse every manifest that would give broken code; these checks catch what
it missed as a located :class:`ManifestError` instead of a formatter's crash or an import error
in the generated package: a file that does not parse, a schema whose class or alias is renamed or
hidden (``Field``, ``Any``, ``BaseModel``), a top-level name bound twice in one module (a
resource `mapping` would make a class ``Mapping`` over the import of that name).
"""

from __future__ import annotations

import ast

from .errors import Problem
from .ir import camel
from .loader import Key, Loaded
from .manifest import Manifest
from .models import LAZY_MODULE, OWN_NAMES

__all__ = ["check_sources"]


def _top_level(tree: ast.Module) -> tuple[dict[str, set[str]], set[str]]:
    """(name imported -> where from, names defined) at the top level of a module, ``if`` blocks
    included."""
    imported: dict[str, set[str]] = {}
    defined: set[str] = set()
    body = list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, ast.If):
            body += [*node.body, *node.orelse]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            source = f"{'.' * node.level}{node.module}." if isinstance(node, ast.ImportFrom) else ""
            for alias in node.names:
                bound = (alias.asname or alias.name).partition(".")[0]
                imported.setdefault(bound, set()).add(source + alias.name)
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, ast.Assign):
            defined |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return imported, defined


def _lazy_schemas(files: dict[str, str]) -> set[str]:
    """The names that the lazy models module defines and does not import."""
    source = files.get(f"{LAZY_MODULE}.py")
    if source is None:
        return set()
    try:
        imported, defined = _top_level(ast.parse(source))
    except SyntaxError:
        return set()  # reported as that file's problem
    return defined - set(imported)


def check_sources(files: dict[str, str], manifest: Manifest, loaded: Loaded) -> list[Problem]:
    """Problems with the generated ``files`` (name -> source), located in the manifest.

    Args:
        files: every generated file, before formatting.
        manifest: the validated manifest the files came from.
        loaded: its positions, to say where a problem comes from.

    Example:
        >>> check_sources({"models.py": "class Item: ..."}, manifest, loaded)  # doctest: +SKIP
        []
    """
    resources = {f"{name}.py": name for name in manifest.resources}
    classes = {camel(name): name for name in manifest.resources}
    problems: list[Problem] = []
    for name, source in files.items():
        if not name.endswith(".py"):
            continue
        try:
            tree = ast.parse(source, filename=name)
        except SyntaxError as err:
            problems.append(
                loaded.problem(
                    (),
                    f"the generated {name} does not parse (its line {err.lineno}: {err.msg}): "
                    "a manifest value reached the code unescaped; please report this",
                )
            )
            continue
        sources, defined = _top_level(tree)
        imported = set(sources)
        twice = {n for n, where in sources.items() if len(where) > 1}
        for clash in sorted((imported & defined) | twice):
            if name == "models.py" and clash in manifest.schemas:
                continue  # said below, with the schema
            owner = resources.get(name) or classes.get(clash.removeprefix("Async"))
            where: Key = ("resources", owner) if owner else ()
            problems.append(
                loaded.problem(
                    where,
                    f"the generated {name} would bind `{clash}` twice (a name it imports and a "
                    "class, or two imports); rename the resource or schema that makes it",
                )
            )
        if name == "models.py":
            lazy = _lazy_schemas(files)
            for schema in manifest.schemas:
                if schema in lazy and sources.get(schema) == {f".{LAZY_MODULE}.{schema}"}:
                    continue  # defined on first use (models._split)
                if schema not in defined or schema in imported or schema in OWN_NAMES:
                    problems.append(
                        loaded.problem(
                            ("schemas", schema),
                            f"schema name `{schema}` is taken in the generated models module "
                            f"(it needs the name for itself, so `models.{schema}` would not be "
                            "this schema); rename the schema",
                        )
                    )
    return problems
