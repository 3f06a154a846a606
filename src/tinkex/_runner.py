"""The SDK's own event loop thread: every client's network work runs there, so the clients work
the same from synchronous code, from asyncio code and from a notebook whose loop is already
running. The runner also keeps what follows a ``fork()``: the child rebuilds on first use, and
what the parent numbers stays the parent's.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sdkgen.runtime import APIFuture, BackgroundLoop, ClientClosedError

from ._fork_hooks import after_fork_in_child

__all__ = ["CLOSE_TIMEOUT", "Runner"]

logger = logging.getLogger("tinkex")
T = TypeVar("T")

CLOSE_TIMEOUT = 30.0
CloseHook = Callable[[], Coroutine[Any, Any, None]]


class Runner:
    """Runs a client's coroutines on one private loop thread, and closes it.

    Args:
        result_timeout: The default wait of every result (None: no limit).
        rebuild_in_child: Called once in a child of ``fork()``, on the first use there (under
            the runner's lock), to connect afresh; it must not use the runner itself.

    Example::

        runner = Runner(result_timeout=60.0, rebuild_in_child=reconnect)
        info = runner.run(api.training.get_info(model_id="run-1"))
        runner.close(goodbye)
    """

    def __init__(
        self, *, result_timeout: float | None, rebuild_in_child: Callable[[], None]
    ) -> None:
        self._loop = BackgroundLoop("tinkex")
        self._result_timeout = result_timeout
        self._rebuild_in_child = rebuild_in_child
        self._fork_lock = threading.RLock()
        self._forked = False  # set in a child of fork(): rebuilt on next use
        self._pid_made = os.getpid()
        self._closed = False
        self._close_hooks: list[CloseHook] = []
        after_fork_in_child(self._after_fork_in_child)

    @property
    def loop(self) -> BackgroundLoop:
        """The loop thread (started on first use)."""
        return self._loop

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def result_timeout(self) -> float | None:
        """The default wait of a result, in seconds (None: no limit)."""
        return self._result_timeout

    # -- running work ------------------------------------------------------------------------

    def submit(
        self, coro: Coroutine[Any, Any, T], description: str, timeout: float | None = None
    ) -> APIFuture[T]:
        """Run ``coro`` on the loop; its result as an :class:`APIFuture` that waits at most
        ``timeout`` (default: ``result_timeout``).

        Example::

            future = runner.submit(api.training.get_info(model_id="run-1"), "get_info")
        """
        self.check_open(coro)
        future = self._loop.submit(coro)
        limit = self._result_timeout if timeout is None else timeout
        return APIFuture(future, default_timeout=limit, description=description)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it (the synchronous helpers).

        Example::

            info = runner.run(api.training.get_info(model_id="run-1"))
        """
        self.check_open(coro)
        return self._loop.call(coro, self._result_timeout if timeout is None else timeout)

    def check_open(self, coro: Coroutine[Any, Any, Any] | None = None) -> None:
        """Raise ``ClientClosedError`` when closed (closing ``coro``, never to run); in a child
        of fork(), rebuild first.

        Example::

            runner.check_open()
        """
        self.rebuild_if_forked()
        if self._closed:
            if coro is not None:
                coro.close()  # never to run: no "coroutine was never awaited" warning
            raise ClientClosedError("this client is closed; create a new ServiceClient")

    # -- fork() ------------------------------------------------------------------------------

    @property
    def forks(self) -> int:
        """How many fork()s this process is away from the one that made this runner."""
        return self._loop.forks

    def refuse_after_fork(self, forks: int, what: str) -> None:
        """Raise when this process is a child of fork() made after ``what`` was (``forks``:
        :attr:`forks` when it was made): ``what`` numbers its requests with seq ids handed out
        by one process, which the parent goes on using.

        Example::

            runner.refuse_after_fork(made_at_forks, "TrainingClient run-1")
        """
        if forks != self.forks:
            raise ClientClosedError(
                f"{what} was made in process {self._pid_made} and cannot be used in a child "
                "of fork() (its requests are numbered by the parent). Use it from one process; "
                "share sampling with SamplingClient.get_sampler_handle(), or start workers "
                "with the spawn start method (multiprocessing.get_context('spawn'))"
            )

    def rebuild_if_forked(self) -> None:
        """In a child of fork(), on the first use there: forget the parent's close hooks and
        rebuild (``rebuild_in_child``); a closed client stays closed, with nothing rebuilt.

        Example::

            runner.rebuild_if_forked()  # before handing out something per-process
        """
        if not self._forked:
            return
        with self._fork_lock:
            if not self._forked:
                return
            if not self._closed:
                self._close_hooks = []
                self._rebuild_in_child()
            self._forked = False

    def _after_fork_in_child(self) -> None:
        """At fork, in the child (one thread): a lock another thread may have held is made
        anew; the rest is rebuilt on the next use."""
        self._fork_lock = threading.RLock()
        self._forked = True

    # -- closing -----------------------------------------------------------------------------

    def add_close_hook(self, hook: CloseHook) -> None:
        """Run ``hook()`` on the loop when the client closes, before anything else closes
        (background work that must say goodbye, such as the futures pollers' last
        acknowledgement).

        Example::

            runner.add_close_hook(poller.aclose)
        """
        self._close_hooks.append(hook)

    def close(self, goodbye: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run the close hooks and then ``goodbye()`` on the loop (waiting up to 30 s), and
        stop the loop thread. Safe to call twice: the second call does nothing.

        Example::

            runner.close(lambda: api.close())
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._loop.in_loop_thread():
                raise RuntimeError("close() from a callback on the SDK's own loop would deadlock")
            if self._loop.started:
                future = self._loop.submit(self._goodbye(goodbye))
                try:
                    future.result(CLOSE_TIMEOUT)
                except Exception as err:  # closing must not raise over the user's own error
                    logger.warning("closing the client did not finish cleanly: %s", err)
        finally:
            self._loop.close()

    async def _goodbye(self, goodbye: Callable[[], Coroutine[Any, Any, None]]) -> None:
        for hook in self._close_hooks:
            try:
                await hook()
            except Exception as err:  # one hook must not keep the session open
                logger.debug("a close hook failed: %s", err)
        await goodbye()
