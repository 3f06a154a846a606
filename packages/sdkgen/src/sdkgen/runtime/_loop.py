"""A private asyncio loop on a daemon thread, so that synchronous code, asyncio code and a
notebook whose loop is already running can all drive the same async pipeline.

Synchronous callers hand it coroutines and get ``concurrent.futures.Future`` objects back; async
callers await those futures through ``asyncio.wrap_future``. The loop never runs user code.

After ``os.fork()`` the child has no loop thread (only the forking thread survives a fork), so
every loop forgets its thread and loop in the child and starts new ones on first use; what ran
on the old loop stays with the parent. Owners that keep state tied to the loop (connections,
tasks) see ``forks`` change and rebuild it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import os
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._errors import ClientClosedError

__all__ = ["BackgroundLoop"]

T = TypeVar("T")
_JOIN_TIMEOUT = 5.0


class BackgroundLoop:
    """An event loop on its own thread, started on first use and stopped by :meth:`close`.

    Example::

        loop = BackgroundLoop("my-sdk")
        future = loop.submit(fetch())      # concurrent.futures.Future
        value = future.result(timeout=10)
        loop.close()
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._pending_lock = threading.Lock()
        self._pending: list[
            tuple[Coroutine[Any, Any, Any], concurrent.futures.Future[Any], contextvars.Context]
        ] = []
        self._wake_scheduled = False
        #: How many times this process was forked from the one that made this loop (the child
        #: counts from the parent's number, plus one).
        self.forks = 0
        _LOOPS.add(self)

    def _forget_in_child(self) -> None:
        """In a child of ``fork()``: drop the parent's loop and thread, start afresh on use."""
        if self._loop is not None:
            _ORPHANS.append(self._loop)  # never closed or collected here: it is the parent's
        self._loop = None
        self._thread = None
        self._lock = threading.Lock()  # another thread may have held them at the fork
        self._pending_lock = threading.Lock()
        pending, self._pending = self._pending, []
        self._wake_scheduled = False
        self.forks += 1
        for coro, future, _ in pending:
            coro.close()
            future.cancel()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise ClientClosedError(f"{self.name} is closed; create a new client")
            if self._loop is None:
                ready = threading.Event()
                loop = asyncio.new_event_loop()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=self.name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    @property
    def started(self) -> bool:
        return self._loop is not None and not self._closed

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; the returned future can be waited on from any thread.

        Calls made while the loop has not yet woken up for an earlier one share its wake-up:
        each wake-up is a thread switch, and a caller that submits two requests back to back
        (``forward_backward`` then ``optim_step``) needs only one.
        """
        if not asyncio.iscoroutine(coro):
            raise TypeError(f"a coroutine is required, got {type(coro).__name__}")
        try:
            loop = self.loop
        except ClientClosedError:
            coro.close()
            raise
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        # The work runs in the submitter's context (trace context and other contextvars), as
        # it would with run_coroutine_threadsafe.
        context = contextvars.copy_context()
        with self._pending_lock:
            self._pending.append((coro, future, context))
            wake = not self._wake_scheduled
            self._wake_scheduled = True
        if wake:
            try:
                loop.call_soon_threadsafe(self._start_pending)
            except RuntimeError:  # closed in the meantime
                self._start_pending()
        return future

    def _cancel_pending(self) -> None:
        """Work submitted as the loop closed, which it never started: its waiters are told."""
        with self._pending_lock:
            pending, self._pending = self._pending, []
        for coro, future, _ in pending:
            coro.close()
            future.cancel()

    def _start_pending(self) -> None:
        with self._pending_lock:
            self._wake_scheduled = False
            pending, self._pending = self._pending, []
        loop = self._loop
        for coro, future, context in pending:
            if loop is None or loop.is_closed():
                coro.close()
                future.cancel()
                continue
            # Started even when already cancelled: the cancellation then reaches it at its first
            # await, so its own cleanup runs (e.g. giving up a reserved turn).
            try:
                task = loop.create_task(coro, context=context)
            except Exception as err:  # one bad item must not strand the rest of the burst
                coro.close()
                if future.set_running_or_notify_cancel():
                    future.set_exception(err)
                continue
            _chain(task, future, loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (not from the loop's own thread)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(f"blocking call on {self.name}'s own loop would deadlock; await it")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        """Cancel what is still running, stop the loop and join its thread (bounded wait)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if thread is not threading.current_thread():
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(_JOIN_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_JOIN_TIMEOUT)
            if not thread.is_alive():
                loop.close()
            self._cancel_pending()
        else:  # closing from a callback on the loop itself
            loop.call_soon(loop.stop)


_LOOPS: weakref.WeakSet[BackgroundLoop] = weakref.WeakSet()
_ORPHANS: list[asyncio.AbstractEventLoop] = []


def _after_fork_in_child() -> None:
    for loop in list(_LOOPS):
        loop._forget_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _chain(
    task: asyncio.Task[T], future: concurrent.futures.Future[T], loop: asyncio.AbstractEventLoop
) -> None:
    """Mirror ``task`` into ``future``; cancelling ``future`` cancels ``task``."""

    def copy(done: asyncio.Task[T]) -> None:
        if done.cancelled():
            future.cancel()
        elif future.set_running_or_notify_cancel():
            exc = done.exception()
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(done.result())

    def cancel(done: concurrent.futures.Future[T]) -> None:
        if done.cancelled() and not task.done():
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(task.cancel)

    task.add_done_callback(copy)
    future.add_done_callback(cancel)
