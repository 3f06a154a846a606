"""Admission of sampling requests: a count and a byte budget shared by every thread and event
loop that samples through one client (asyncio's own semaphores belong to a single loop, and
``sample`` runs on the SDK's loop while ``sample_async`` runs on the caller's)."""

from __future__ import annotations

import asyncio
import collections
import threading
from types import TracebackType

__all__ = ["Admission"]


class _Waiter:
    __slots__ = ("future", "granted", "loop", "nbytes")

    def __init__(self, loop: asyncio.AbstractEventLoop, nbytes: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.nbytes = nbytes
        self.granted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Admission:
    """At most ``count`` requests and ``capacity`` bytes in flight, first come first served.
    A request larger than the whole budget is let in alone.

    Example::

        admission = Admission(count=400, capacity=5_000_000)
        async with admission.hold(nbytes):
            ...  # send
    """

    def __init__(self, count: int, capacity: int) -> None:
        self.count = max(count, 1)
        self.capacity = max(capacity, 1)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._used = 0
        self._waiters: collections.deque[_Waiter] = collections.deque()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def hold(self, nbytes: int) -> _Held:
        return _Held(self, min(max(nbytes, 0), self.capacity))

    def _fits(self, nbytes: int) -> bool:
        return self._in_flight < self.count and self._used + nbytes <= self.capacity

    def _take(self, nbytes: int) -> None:
        self._in_flight += 1
        self._used += nbytes

    async def acquire(self, nbytes: int) -> None:
        with self._lock:
            if not self._waiters and self._fits(nbytes):
                self._take(nbytes)
                return
            waiter = _Waiter(asyncio.get_running_loop(), nbytes)
            self._waiters.append(waiter)
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:  # let in just as it gave up: pass the place on
                self.release(nbytes)
            raise

    def release(self, nbytes: int) -> None:
        woken: list[_Waiter] = []
        with self._lock:
            self._in_flight -= 1
            self._used -= nbytes
            while self._waiters and self._fits(self._waiters[0].nbytes):
                waiter = self._waiters.popleft()
                waiter.granted = True
                self._take(waiter.nbytes)
                woken.append(waiter)
        for waiter in woken:
            try:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            except RuntimeError:  # its loop is closed: it will never take its place
                self.release(waiter.nbytes)


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
