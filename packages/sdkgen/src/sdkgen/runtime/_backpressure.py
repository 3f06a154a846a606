"""Backpressure: an endpoint's "not now, send it again" statuses (the manifest's
``backpressure``, a :class:`BackpressureSpec`).

After such a status, every call to that endpoint in the process waits out one shared window,
then the refused request is sent again unchanged (the same body and idempotency key; it was
not applied). The window is process-wide because a server that is busy is busy for every
client in the process, and it only ever grows while open. Waiting and resending do not count
against the endpoint's retry policy: each resend gets the policy's whole attempt budget.
"""

from __future__ import annotations

import asyncio
import time

from ._spec import APISpec, EndpointSpec

__all__ = ["SharedWindow", "body_bytes", "window_for"]


class SharedWindow:
    """The time until which calls to one endpoint hold back, shared by every client."""

    __slots__ = ("until",)

    def __init__(self) -> None:
        self.until = 0.0

    def left(self) -> float:
        """Seconds until the window closes (zero or less: it is closed)."""
        return self.until - time.monotonic()

    async def wait(self) -> None:
        """Sleep until the window closes."""
        # The window can grow while we wait (another refusal): check again rather than sleep once.
        while (left := self.left()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, 1.0))

    def wait_sync(self) -> None:
        """Block until the window closes."""
        while (left := self.left()) > 0:
            time.sleep(min(left, 1.0))

    def open(self, seconds: float) -> float:
        """Keep the window open at least ``seconds`` from now; the seconds it stays open.

        Example: ``window.open(1.0)`` right after a 429.
        """
        self.until = max(self.until, time.monotonic() + seconds)
        return max(self.left(), 0.0)


# One window per endpoint of each API, for the whole process (the specs are module constants
# of the generated package; a client only reads them).
_WINDOWS: dict[tuple[str, str], SharedWindow] = {}


def window_for(api: APISpec, spec: EndpointSpec) -> SharedWindow:
    """The process-wide window of ``spec``, an endpoint of ``api``."""
    key = (api.name, spec.id)
    window = _WINDOWS.get(key)
    if window is None:
        window = _WINDOWS.setdefault(key, SharedWindow())
    return window


def body_bytes(content: object) -> int:
    """The size of a request body the window length depends on (a streamed body: 0)."""
    return len(content) if isinstance(content, bytes | bytearray) else 0
