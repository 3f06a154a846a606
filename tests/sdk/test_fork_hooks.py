"""Hooks run in a fork's child: called per object, and never keeping an object alive."""

from __future__ import annotations

import gc
import multiprocessing
import os

from tinkex import _fork_hooks


class _Counter:
    def __init__(self, out: multiprocessing.SimpleQueue[str]) -> None:
        self.out = out
        _fork_hooks.after_fork_in_child(self.first)
        _fork_hooks.after_fork_in_child(self.second)  # two hooks of one object: both kept

    def first(self) -> None:
        self.out.put(f"first in {os.getpid()}")

    def second(self) -> None:
        self.out.put(f"second in {os.getpid()}")


def test_hooks_run_in_the_child_and_are_held_weakly() -> None:
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.SimpleQueue[str] = ctx.SimpleQueue()
    kept = _Counter(out)
    dropped = _Counter(out)
    del dropped
    gc.collect()
    assert len([k for k in _fork_hooks._hooks if k[0] == id(kept)]) == 2
    child = ctx.Process(target=os.getpid)
    child.start()
    child.join(60)
    assert child.exitcode == 0
    seen = sorted(out.get() for _ in range(2))
    assert [s.split()[0] for s in seen] == ["first", "second"]
    assert all(s.endswith(str(child.pid)) for s in seen)
    assert out.empty()  # the dropped object's hooks were gone
