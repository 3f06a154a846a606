"""``SamplingClient.sample_stream``: sampled tokens as they are generated, over server-sent
events, for plain iteration and for ``async for`` alike.

The HTTP stream lives on the SDK's background loop; each step of the iteration is a call into
that loop, bounded by the client's result timeout. Leaving the loop early (``break``, ``close()``,
the ``with`` block) closes the connection. A stream that breaks raises; it never reconnects
silently (a reconnect could sample again and bill again).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ._generated import models

if TYPE_CHECKING:
    # The event-stream module loads with the first stream opened, not with the SDK.
    from sdkgen.runtime import AsyncStream

    from ._holder import Holder

__all__ = ["SampleStream"]


class SampleStream:
    """Chunks of sampled tokens (``types.SampleStreamChunk``), in the order the server sends them.

    Example::

        with sampler.sample_stream(prompt, 1, SamplingParams(max_tokens=64)) as stream:
            for chunk in stream:
                print(chunk.tokens, end="", flush=True)
    """

    def __init__(self, holder: Holder, opening: Any) -> None:
        self._holder = holder
        self._opening = opening  # a coroutine that opens the stream, run on first use
        self._stream: AsyncStream[models.SampleStreamChunk] | None = None
        self._iterator: AsyncIterator[models.SampleStreamChunk] | None = None
        self._closed = False

    async def _next(self) -> models.SampleStreamChunk:
        if self._iterator is None:
            self._stream = await self._opening
            self._iterator = self._stream.__aiter__()
        return await self._iterator.__anext__()

    def _step(self) -> models.SampleStreamChunk:
        return self._holder.run(self._next())

    def __iter__(self) -> Iterator[models.SampleStreamChunk]:
        try:
            while not self._closed:
                try:
                    yield self._step()
                except StopAsyncIteration:
                    return
        finally:
            self.close()

    async def __aiter__(self) -> AsyncIterator[models.SampleStreamChunk]:
        try:
            while not self._closed:
                try:
                    yield await self._holder.submit(self._next(), "sample_stream")
                except StopAsyncIteration:
                    return
        finally:
            await asyncio.wrap_future(self._holder.runner.loop.submit(self._aclose()))

    async def _aclose(self) -> None:
        self._closed = True
        if self._stream is not None:
            await self._stream.close()
        elif self._iterator is None and hasattr(self._opening, "close"):
            self._opening.close()  # never opened: nothing to hang up

    def close(self) -> None:
        """Hang up: the connection closes and the server stops sampling for it."""
        if self._closed:
            return
        if self._holder.runner.closed:
            self._closed = True
            return
        self._holder.run(self._aclose())

    def __enter__(self) -> SampleStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
