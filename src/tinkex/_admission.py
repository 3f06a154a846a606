"""Admission of sampling requests: a count and a byte budget shared by every thread and event
loop that samples through one client (asyncio's own semaphores belong to a single loop, and
``sample`` runs on the SDK's loop while ``sample_async`` runs on the caller's)."""

from __future__ import annotations

import asyncio
import collections
import threading
from types import TracebackType
from typing import Literal

__all__ = ["Admission"]

_State = Literal["waiting", "granted", "returned"]


class _Waiter:
    __slots__ = ("future", "loop", "nbytes", "state")

    def __init__(self, loop: asyncio.AbstractEventLoop, nbytes: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.nbytes = nbytes
        self.state: _State = "waiting"


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Admission:
    """At most ``count`` requests and ``capacity`` bytes in flight, first come first served.
    A request larger than the whole budget is let in alone.

    A waiter whose event loop stops for good while it waits (closed, or never run again)
    cannot be told it was let in; a closed loop's place is passed on, a merely stopped one's is
    held until that loop runs again.

    Example::

        admission = Admission(count=400, capacity=5_000_000)
        async with admission.hold(nbytes):
            ...  # send
    """

    def __init__(self, count: int, capacity: int) -> None:
        self.count = max(count, 1)
        self.capacity = max(capacity, 1)
        # Re-entrant: a waiting coroutine that is garbage-collected gives its place back from
        # whatever this thread is doing, possibly while it holds the lock.
        self._lock = threading.RLock()
        self._in_flight = 0
        self._used = 0
        self._waits = 0
        self._waiters: collections.deque[_Waiter] = collections.deque()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def waits(self) -> int:
        """How many requests had to wait for a place (the count or the byte budget was full)."""
        with self._lock:
            return self._waits

    def hold(self, nbytes: int) -> _Held:
        return _Held(self, nbytes)

    def _clamp(self, nbytes: int) -> int:
        return min(max(nbytes, 0), self.capacity)

    def _fits(self, nbytes: int) -> bool:
        return self._in_flight < self.count and self._used + nbytes <= self.capacity

    async def acquire(self, nbytes: int) -> None:
        nbytes = self._clamp(nbytes)
        with self._lock:
            if not self._waiters and self._fits(nbytes):
                self._in_flight += 1
                self._used += nbytes
                return
            waiter = _Waiter(asyncio.get_running_loop(), nbytes)
            self._waiters.append(waiter)
            self._waits += 1
        self._dispatch()
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                if waiter.state == "waiting":
                    self._waiters.remove(waiter)
                elif waiter.state == "granted":  # let in just as it gave up: pass it on
                    self._give_back(waiter.nbytes)
                waiter.state = "returned"
            self._dispatch()
            raise

    def release(self, nbytes: int) -> None:
        with self._lock:
            self._give_back(self._clamp(nbytes))
        self._dispatch()

    def _give_back(self, nbytes: int) -> None:
        self._in_flight -= 1
        self._used -= nbytes

    def _dispatch(self) -> None:
        """Let in the waiters at the head of the line that fit, and wake each on its loop."""
        while True:
            woken: list[_Waiter] = []
            with self._lock:
                while self._waiters and self._fits(self._waiters[0].nbytes):
                    waiter = self._waiters.popleft()
                    waiter.state = "granted"
                    self._in_flight += 1
                    self._used += waiter.nbytes
                    woken.append(waiter)
            if not woken:
                return
            stranded = False
            for waiter in woken:
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # its loop is closed: it will never take its place
                    with self._lock:
                        if waiter.state == "granted":
                            waiter.state = "returned"
                            self._give_back(waiter.nbytes)
                            stranded = True
            if not stranded:
                return


class _Held:
    def __init__(self, admission: Admission, nbytes: int) -> None:
        self._admission, self._nbytes = admission, nbytes

    async def __aenter__(self) -> None:
        await self._admission.acquire(self._nbytes)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._admission.release(self._nbytes)
