"""Reporting queue states: a paused queue is logged once it has stayed paused for a while."""

from __future__ import annotations

import asyncio
import logging

__all__ = ["QueueStateLogger"]

logger = logging.getLogger("tinkex")

_DEFAULT_REASONS = {
    "paused_rate_limit": "the concurrent-requests rate limit was hit",
    "paused_capacity": "the service is short of capacity; the request waits for it",
}


class QueueStateLogger:
    """An ``on_queue_state`` observer: warns when a request stays paused past ``grace`` seconds,
    then every ``interval`` seconds while it stays paused. Runs on the SDK's event loop."""

    def __init__(self, what: str, *, grace: float = 900.0, interval: float = 60.0) -> None:
        self.what = what
        self.grace = grace
        self.interval = interval
        self.state: str | None = None
        self.reason: str | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, state: str, reason: str | None) -> None:
        self.state, self.reason = state, reason
        if state.startswith("paused"):
            if self._timer is None:
                self._schedule(self.grace)
        elif self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # called outside the loop (tests); nothing to time
        self._timer = loop.call_later(delay, self._warn)

    def _warn(self) -> None:
        if self.state and self.state.startswith("paused"):
            why = self.reason or _DEFAULT_REASONS.get(self.state, self.state)
            logger.warning("%s is still queued (%s): %s", self.what, self.state, why)
            self._schedule(self.interval)
        else:
            self._timer = None
