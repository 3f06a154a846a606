"""Cancellations of requests whose result nobody wants any more: queued from any thread, sent
in the background in batches, only where the server's dynamic config enables them."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from sdkgen.runtime import SDKError, detached_context

from ._fork_hooks import after_fork_in_child

if TYPE_CHECKING:
    from ._holder import Holder

__all__ = ["CancelQueue"]

logger = logging.getLogger("tinkex")


class CancelQueue:
    """The requests to cancel on the server, and the one background drain that sends them.

    Args:
        holder: The client's shared parts: its runner (loop, closed state), connections and
            server features (``sample_cancel_enabled``, ``sample_cancel_max_batch_size``).

    Example::

        holder.cancels.request(handle.request_id)
    """

    def __init__(self, holder: Holder) -> None:
        self._holder = holder
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._draining = False
        after_fork_in_child(self._after_fork_in_child)

    @property
    def draining(self) -> bool:
        """True while a drain is queued or sending."""
        return self._draining

    def request(self, request_id: str) -> None:
        """Ask the server, in the background and best effort, to stop working on a request
        whose result nobody wants any more; only where its dynamic config enables it
        (``sample_cancel_enabled``). Safe from any thread; nothing once the client is closed.

        Example::

            holder.cancels.request("req-123")
        """
        runner = self._holder.runner
        if runner.closed:
            return
        with self._lock:
            self._ids.append(request_id)
            start = not self._draining
            self._draining = True
        if start:
            try:  # background work: not part of the call that abandoned the request
                detached_context().run(runner.loop.submit, self._drain())
            except SDKError:  # closed meanwhile: the server ends the work with the session
                with self._lock:
                    self._draining = False

    async def _drain(self) -> None:
        """Send the queued cancellations, at most ``sample_cancel_max_batch_size`` at once."""
        holder = self._holder
        try:
            flags = await holder.features.dynamic_config()
            while True:
                with self._lock:
                    batch = self._ids[: max(flags.sample_cancel_max_batch_size, 1)]
                    del self._ids[: len(batch)]
                    if not batch:
                        self._draining = False
                        return
                if not flags.sample_cancel_enabled:
                    continue  # the server does not take cancellations: drop them
                sent = await asyncio.gather(
                    *(holder.api.futures.cancel_future(request_id=r) for r in batch),
                    return_exceptions=True,
                )
                for request_id, outcome in zip(batch, sent, strict=True):
                    if isinstance(outcome, Exception):
                        logger.debug("could not cancel request %s: %s", request_id, outcome)
        except BaseException:
            # Only on the way out by an error or cancellation: after a normal return another
            # drain may already own the flag.
            with self._lock:
                self._draining = False
            raise

    def _after_fork_in_child(self) -> None:
        """At fork, in the child (one thread): the lock another thread may have held, anew."""
        self._lock = threading.Lock()
