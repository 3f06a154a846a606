"""Per-object hooks run in the child after ``os.fork()``: one ``register_at_fork`` for the
package, objects held weakly (a hook never keeps its object alive)."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable

__all__ = ["after_fork_in_child"]

# No lock: single dict operations are atomic, and a lock here could deadlock, since a weak
# reference's callback (``forget``) may run from the garbage collector on a thread that holds it.
_hooks: dict[tuple[int, str], weakref.WeakMethod[Callable[[], None]]] = {}


def after_fork_in_child(method: Callable[[], None]) -> None:
    """Call the bound ``method`` in the child of every later fork, while its object lives.

    Args:
        method: A bound method taking no arguments (held through a weak reference).

    Example::

        after_fork_in_child(self._reset_locks)
    """
    key = (id(method.__self__), method.__name__)  # type: ignore[attr-defined]

    def forget(ref: object, key: tuple[int, str] = key) -> None:
        if _hooks.get(key) is ref:  # not a newer object's hook under a reused id
            _hooks.pop(key, None)

    _hooks[key] = weakref.WeakMethod(method, forget)


def _run_hooks() -> None:
    for ref in list(_hooks.values()):
        hook = ref()
        if hook is not None:
            hook()


os.register_at_fork(after_in_child=_run_hooks)
