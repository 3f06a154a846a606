"""How sampling requests are retried: the user's ``RetryConfig`` and the process-wide window
that a 429 on submission opens for every sampler."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from sdkgen.runtime import RetryPolicy, backoff_delay

__all__ = ["RetryConfig", "SubmissionWindow"]

_SHORT_PROMPT = 128 * 1024


@dataclasses.dataclass(frozen=True)
class RetryConfig:
    """How sampling requests are throttled and retried.

    ``progress_timeout``: give up when no sampling request of this client completed for that
    many seconds (stuck detection) while the server keeps answering; a server that cannot be
    reached at all ends a sample much sooner, after the client's ``unreachable_timeout``
    (``ServiceClient(unreachable_timeout=...)``, default 60 s) or ``max_retries`` failures in a
    row. ``max_connections``: sampling requests in flight at once.
    """

    max_connections: int = 400
    progress_timeout: float = 7200.0
    retry_delay_base: float = 0.5
    retry_delay_max: float = 10.0
    jitter_factor: float = 0.25
    enable_retry_logic: bool = True

    def delay(self, attempt: int) -> float:
        """The wait before retry ``attempt + 1``: the runtime's one backoff (``base * 2**attempt``
        capped at ``retry_delay_max``, less up to ``jitter_factor`` of it)."""
        policy = RetryPolicy(
            initial_delay=self.retry_delay_base,
            max_delay=self.retry_delay_max,
            jitter=min(max(self.jitter_factor, 0.0), 1.0),
        )
        return backoff_delay(policy, min(attempt, 64))


class SubmissionWindow:
    """The process-wide window after a 429 on submission, shared by all samplers."""

    until = 0.0

    @classmethod
    async def wait(cls) -> None:
        # The window can grow while we wait (another 429), so re-check rather than sleep once.
        while (left := cls.until - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, 1.0))

    @classmethod
    def open(cls, prompt_bytes: int) -> None:
        cls.until = max(
            cls.until, time.monotonic() + (1.0 if prompt_bytes <= _SHORT_PROMPT else 5.0)
        )
