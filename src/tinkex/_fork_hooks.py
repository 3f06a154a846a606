"""Per-object hooks run in the child after ``os.fork()``: one ``register_at_fork`` for the
package, objects held weakly (a hook never keeps its object alive)."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable

__all__ = ["after_fork_in_child"]

_hooks: dict[tuple[int, str], weakref.WeakMethod[Callable[[], None]]] = {}
_lock = threading.Lock()


def after_fork_in_child(method: Callable[[], None]) -> None:
    """Call the bound ``method`` in the child of every later fork, while its object lives.

    Args:
        method: A bound method taking no arguments (held through a weak reference).

    Example::

        after_fork_in_child(self._reset_locks)
    """
    key = (id(method.__self__), method.__name__)  # type: ignore[attr-defined]

    def forget(_: object, key: tuple[int, str] = key) -> None:
        with _lock:
            _hooks.pop(key, None)

    with _lock:
        _hooks[key] = weakref.WeakMethod(method, forget)


def _run_hooks() -> None:
    global _lock
    _lock = threading.Lock()  # the parent's may have been held by another thread at fork
    for ref in list(_hooks.values()):
        hook = ref()
        if hook is not None:
            hook()


os.register_at_fork(after_in_child=_run_hooks)
