"""``tinkex`` under the name ``tinker``: ``install_as_tinker()`` and the import hook behind it.

Code written for the official SDK imports more than top-level names
(``from tinker.lib.public_interfaces import APIFuture``,
``from tinker.types.tensor_data import TensorData``). tinkex has real modules at the official
paths (``tinkex.types.tensor_data``, ``tinkex.lib.public_interfaces``, ...), so all that is left is
the name: once ``sys.modules["tinker"]`` is tinkex, ``tinker.<path>`` must be ``tinkex.<path>``.

Why a finder is needed at all: Python imports ``tinker.types`` by searching the parent's
``__path__``, which is tinkex's folder, and would load ``types/__init__.py`` a second time under
the name ``tinker.types``: a copy whose classes are not tinkex's (``isinstance`` fails, pydantic
validation rejects tinkex objects). ``import tinkex`` therefore puts one small finder first in
``sys.meta_path``. It answers only for dotted names whose top-level package in ``sys.modules`` *is*
tinkex under another name, and hands back the very module ``tinkex.<path>`` (imported normally,
once); every other import goes past it after one dictionary lookup. A missing path raises
``ModuleNotFoundError`` at once rather than letting the path finder load a copy.

This is why ``sys.modules["tinker"] = tinkex`` alone is enough; ``install_as_tinker()`` adds the
checks that make it safe to call from library code.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec

__all__ = ["install_as_tinker"]

_PACKAGE = __name__.rpartition(".")[0]  # "tinkex"
# Official paths whose tinkex module of the same name is something else.
_RENAMED = {"_version": "_tinker_version"}


class _AliasFinder:
    """Maps ``<alias>.<path>`` to the module ``tinkex.<path>`` (a meta path finder and loader)."""

    _tinkex_alias_finder = True

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        top, dot, rest = fullname.partition(".")
        if not dot or top == _PACKAGE:
            return None
        package = sys.modules.get(_PACKAGE)
        if package is None or sys.modules.get(top) is not package:
            return None
        from importlib.machinery import ModuleSpec
        from importlib.util import find_spec

        first, _, tail = rest.partition(".")
        real = ".".join(p for p in (_PACKAGE, _RENAMED.get(first, first), tail) if p)
        if find_spec(real) is None:
            message = f"No module named {fullname!r} (tinkex has no {real!r})"
            raise ModuleNotFoundError(message, name=fullname)
        return ModuleSpec(fullname, self, loader_state=real)  # type: ignore[arg-type]

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None  # a placeholder, replaced in exec_module

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns whatever sys.modules holds under the name once this returns:
        # the real tinkex module, not the placeholder.
        import importlib

        spec: Any = module.__spec__
        sys.modules[spec.name] = importlib.import_module(spec.loader_state)


def _install_finder() -> None:
    """Put the finder first in ``sys.meta_path`` (once, even if tinkex is imported again)."""
    if not any(getattr(f, "_tinkex_alias_finder", False) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


def install_as_tinker(*, force: bool = False) -> ModuleType:
    """Make ``import tinker`` (and every ``tinker.<path>`` the official SDK has) give tinkex.

    Call it once, before the code written for the official SDK imports ``tinker``::

        import tinkex

        tinkex.install_as_tinker()

        import tinker
        from tinker.lib.public_interfaces import APIFuture
        from tinker.types.tensor_data import TensorData

        assert tinker is tinkex and TensorData is tinkex.TensorData

    ``tinker.<path>`` is the module ``tinkex.<path>`` itself (no copies), registered in
    ``sys.modules`` when first imported. Calling it again does nothing.

    If the official ``tinker`` package is installed (tinker-cookbook depends on it), it is
    shadowed with a ``RuntimeWarning`` saying so; ``force=True`` shadows it silently. If it has
    already been *imported*, its objects are in use and cannot be swapped for tinkex's:
    ``RuntimeError``, unless ``force=True``, which drops ``tinker`` and every ``tinker.*`` module
    from ``sys.modules`` first (objects already taken from them stay the official ones).

    Returns the tinkex package.
    """
    package = sys.modules[_PACKAGE]
    current = sys.modules.get("tinker")
    if current is package:
        return package
    if current is not None:
        if not force:
            raise RuntimeError(
                f"the 'tinker' module is already imported ({current!r}); call "
                "tinkex.install_as_tinker() before anything imports tinker, or pass force=True"
            )
        for name in [n for n in sys.modules if n == "tinker" or n.startswith("tinker.")]:
            del sys.modules[name]
    elif not force:
        from importlib.util import find_spec

        if find_spec("tinker") is not None:
            warnings.warn(
                "the official 'tinker' package is installed; 'import tinker' now gives tinkex "
                "(pass force=True to tinkex.install_as_tinker() to silence this)",
                RuntimeWarning,
                stacklevel=2,
            )
    _install_finder()
    sys.modules["tinker"] = package
    return package
