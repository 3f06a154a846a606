"""``APIFuture``: one result that can be awaited, or waited on with a timeout, from any context.

It wraps a ``concurrent.futures.Future`` produced by a :class:`BackgroundLoop`, so it works the
same from plain synchronous code, from asyncio code on another loop, and from a notebook whose
loop is running. A timed-out wait leaves the work running (wait again, or ``cancel()`` it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from ._futures import FutureCancelledError, FutureTimeoutError

__all__ = ["APIFuture", "ClientFuture"]

T = TypeVar("T")
U = TypeVar("U")


class APIFuture(Generic[T]):
    """The eventual result of a call.

    The work goes on whether or not anyone waits. A wait that runs out raises
    ``FutureTimeoutError`` and leaves the work running; ``cancel()`` stops it.

    Example::

        fut = training_client.forward_backward(data, "cross_entropy")
        out = fut.result(timeout=300)      # synchronous
        out = await fut                    # asyncio
    """

    def __init__(
        self,
        future: concurrent.futures.Future[T],
        *,
        default_timeout: float | None = None,
        description: str = "request",
    ) -> None:
        self._future = future
        self._default_timeout = default_timeout
        self._description = description

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
        return f"<APIFuture {self._description} {state}>"

    def _timeout(self, timeout: float | None) -> float | None:
        return self._default_timeout if timeout is None else timeout

    def _timed_out(self, timeout: float | None) -> FutureTimeoutError:
        return FutureTimeoutError(
            f"{self._description}: no result within {timeout}s; the request is still running "
            "(wait again, or cancel() it)"
        )

    def result(self, timeout: float | None = None) -> T:
        """Block until the result is ready; at most ``timeout`` seconds (default: the client's).

        Args:
            timeout: Seconds to wait at most; ``None``: the client's ``result_timeout``.

        Returns:
            The result.

        Raises:
            FutureTimeoutError: No result within ``timeout`` (the work goes on).
            FutureCancelledError: The future was cancelled.
        """
        limit = self._timeout(timeout)
        try:
            return self._future.result(limit)
        except concurrent.futures.TimeoutError:
            raise self._timed_out(limit) from None
        except concurrent.futures.CancelledError:
            raise FutureCancelledError(f"{self._description} was cancelled") from None

    async def result_async(self, timeout: float | None = None) -> T:
        """Await the result; at most ``timeout`` seconds (default: the client's).

        ``await fut`` is the same with the default timeout.

        Args:
            timeout: Seconds to wait at most; ``None``: the client's ``result_timeout``.

        Returns:
            The result.
        """
        limit = self._timeout(timeout)
        wrapped = asyncio.wrap_future(self._future)
        try:
            return await asyncio.wait_for(asyncio.shield(wrapped), limit)
        except TimeoutError:
            raise self._timed_out(limit) from None
        except asyncio.CancelledError:
            if self._future.cancelled():
                raise FutureCancelledError(f"{self._description} was cancelled") from None
            raise

    def __await__(self) -> Generator[Any, None, T]:
        return self.result_async().__await__()

    async def coroutine(self) -> T:
        """The result as a coroutine, for ``asyncio.create_task(fut.coroutine())``."""
        return await self.result_async()

    def future(self) -> concurrent.futures.Future[T]:
        """The underlying ``concurrent.futures.Future``, for ``concurrent.futures.wait`` and
        other tools that take one."""
        return self._future

    def done(self) -> bool:
        """Whether the result (or an error) is there; never blocks."""
        return self._future.done()

    def cancel(self) -> bool:
        """Stop the work (its polling ends); waiters raise ``FutureCancelledError``."""
        return self._future.cancel()

    def cancelled(self) -> bool:
        """Whether ``cancel()`` stopped the work."""
        return self._future.cancelled()

    def add_done_callback(self, callback: Callable[[APIFuture[T]], None]) -> None:
        """Call ``callback(self)`` once the future is done (at once when it already is).

        Args:
            callback: Runs on the thread that completes the future: keep it short.
        """
        self._future.add_done_callback(lambda _: callback(self))

    def map(self, fn: Callable[[T], U]) -> APIFuture[U]:
        """A future of ``fn(result)``, resolved when this one is.

        Args:
            fn: Applied to the result; an exception it raises becomes the new future's.

        Example::

            path = training_client.save_state("step-1").map(lambda r: r.path).result()
        """
        mapped: concurrent.futures.Future[U] = concurrent.futures.Future()

        def done(source: concurrent.futures.Future[T]) -> None:
            if source.cancelled():
                mapped.cancel()
            elif (exc := source.exception()) is not None:
                mapped.set_exception(exc)
            else:
                try:
                    mapped.set_result(fn(source.result()))
                except BaseException as err:
                    mapped.set_exception(err)

        self._future.add_done_callback(done)
        mapped.add_done_callback(lambda f: self._future.cancel() if f.cancelled() else None)
        return APIFuture(
            mapped, default_timeout=self._default_timeout, description=self._description
        )


class ClientFuture(APIFuture[T]):
    """A client being created. ``.result()`` gives it; using a client attribute on the future
    itself waits for the client first (as code written for older SDKs expects)."""

    def __init__(self, future: APIFuture[T], description: str = "client") -> None:
        super().__init__(
            future.future(), default_timeout=future._default_timeout, description=description
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.result(), name)
