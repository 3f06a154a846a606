"""The error tree drawn in ``tinkex._exceptions`` is the class tree: every exception tinkex (and
the kit's runtime under it) defines is drawn under its parent and importable from ``tinkex``."""

from __future__ import annotations

import importlib
import pkgutil
import re

import sdkgen.runtime
from sdkgen.runtime import SDKError

import tinkex
import tinkex._exceptions

_LINE = re.compile(r"^(?P<indent>[\s│]*)(?:[├└]── )?(?P<name>[A-Z]\w*Error)\b")


def _drawn() -> dict[str, str | None]:
    """Class name -> the parent it is drawn under (None for the root)."""
    drawn: dict[str, str | None] = {}
    open_at: list[tuple[int, str]] = []  # (column of the name, name) of the current branch
    for line in (tinkex._exceptions.__doc__ or "").splitlines():
        if (match := _LINE.match(line)) is None:
            continue
        column = match.start("name")
        open_at = [(c, n) for c, n in open_at if c < column]
        drawn[match["name"]] = open_at[-1][1] if open_at else None
        open_at.append((column, match["name"]))
    return drawn


def _every_error_class() -> set[type[BaseException]]:
    for name in sdkgen.runtime.__all__:  # the runtime loads its modules on first use
        getattr(sdkgen.runtime, name)
    for module in pkgutil.walk_packages(tinkex.__path__, "tinkex."):
        skip = ".cli" in module.name or module.name.endswith("__main__")  # __main__ runs the CLI
        if not skip and not module.name.startswith("tinkex._generated"):
            importlib.import_module(module.name)
    found: set[type[BaseException]] = set()
    todo: list[type[BaseException]] = [SDKError]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.add(cls)
            todo += cls.__subclasses__()
    return {c for c in found if c.__module__.split(".")[0] in ("tinkex", "sdkgen")}


def test_every_error_is_drawn_under_its_parent_and_exported() -> None:
    drawn = _drawn()
    classes = _every_error_class()
    assert {c.__name__ for c in classes} == set(drawn)
    for cls in classes:
        parent = drawn[cls.__name__]
        assert (cls.__bases__[0].__name__ if cls is not SDKError else None) == parent, cls
        assert getattr(tinkex, cls.__name__) is cls  # catchable by its name from tinkex
        assert cls.__name__ in dir(tinkex)
