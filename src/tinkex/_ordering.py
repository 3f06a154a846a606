"""Submitting a training client's requests strictly in sequence-id order.

Each operation reserves its sequence ids when it is called (in the caller's thread), then waits
on the background loop for its turn before it sends anything. The turn passes on right after
submission, not completion, so results are polled concurrently. An operation cancelled before
its turn gives its ids up, so the operations behind it are not stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

__all__ = ["Turnstile"]


class Turnstile:
    def __init__(self, first: int = 1) -> None:
        self._lock = threading.Lock()
        self._reserved = first
        self._turn = first
        self._skipped: dict[int, int] = {}
        self._cond: asyncio.Condition | None = None

    def reserve(self, count: int) -> int:
        """Reserve ``count`` consecutive ids (from any thread); the first of them."""
        with self._lock:
            start = self._reserved
            self._reserved += count
            return start

    @property
    def next_id(self) -> int:
        with self._lock:
            return self._reserved

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    def _pass(self, start: int, count: int) -> None:
        if self._turn == start:
            self._turn = start + count
            while self._turn in self._skipped:
                self._turn += self._skipped.pop(self._turn)
        else:
            self._skipped[start] = count

    @contextlib.asynccontextmanager
    async def turn(self, start: int, count: int) -> AsyncIterator[None]:
        """Wait until ids ``start .. start+count-1`` are next; pass the turn on when done."""
        cond = self._condition()
        try:
            async with cond:
                await cond.wait_for(lambda: self._turn == start)
            yield
        finally:
            async with cond:
                self._pass(start, count)
                cond.notify_all()

    async def give_up(self, start: int, count: int) -> None:
        """Pass the turn of ids ``start .. start+count-1`` without sending anything under them."""
        async with self.turn(start, count):
            pass
