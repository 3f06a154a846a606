"""Reading a response body within a size limit and a deadline, decoding it as it arrives.

httpx decodes ``Content-Encoding`` with no bound on what one chunk expands to (64 KB of zstd
can become gigabytes) and buffers the whole body, so a hostile or broken server could exhaust
the process's memory. Here the raw stream of a response is wrapped instead (:func:`limit_body`):
each raw chunk is decompressed in pieces of at most ``PIECE`` bytes, and the pieces are counted
against the limit as they come out, so reading stops at the limit whatever the compression
ratio. The response's ``Content-Encoding`` header is removed (its body is now the decoded one),
so httpx does not decode a second time. It sits above the transport, so one mechanism serves
httpx's own and pyqwest's.

A stream's limit is per event (the bytes since the last blank line), as a stream may go on for
as long as it has events to send.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol, cast

import httpx
import zstandard

__all__ = ["PIECE", "LimitedBody", "limit_body"]

# The most one decompression step may produce before it is counted.
PIECE = 64 * 1024
# Kept from the start of a body: what a cut-off answer said before the cut.
HEAD = 4096
_EVENT_ENDS = ((b"\r\n\r\n", 4), (b"\n\n", 2), (b"\r\r", 2))

Emit = Callable[[bytes], None]
TooLarge = Callable[[int], BaseException]


class _Decoder(Protocol):
    def write(self, data: bytes) -> None: ...

    def flush(self) -> None: ...


class _Zlib:
    """gzip or deflate, at most ``PIECE`` bytes out per step (``max_length``)."""

    def __init__(self, emit: Emit, wbits: int, *, deflate: bool = False) -> None:
        self._emit = emit
        self._wbits = wbits
        self._deflate = deflate  # "deflate" is zlib-wrapped or raw; servers send both
        self._started = False
        self._d = zlib.decompressobj(wbits)

    def write(self, data: bytes) -> None:
        try:
            self._drain(data)
            self._started = True  # the header was accepted: no switching from here on
        except zlib.error as exc:
            if not (self._deflate and not self._started):
                raise httpx.DecodingError(f"the {self._name} body is corrupt: {exc}") from exc
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
            self._deflate = False
            self.write(data)

    @property
    def _name(self) -> str:
        return "gzip" if self._wbits & 16 else "deflate"

    def _drain(self, data: bytes) -> None:
        d = self._d
        while not d.eof:  # bytes after the end of the stream are ignored, as httpx does
            out = d.decompress(data, PIECE)
            if out:
                self._emit(out)
            data = d.unconsumed_tail
            if not data and len(out) < PIECE:
                return

    def flush(self) -> None:
        if self._d.eof:
            return
        try:
            out = self._d.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"the {self._name} body is corrupt: {exc}") from exc
        if out:
            self._emit(out)


class _EmitWriter:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit

    def write(self, data: bytes) -> int:
        self._emit(bytes(data))
        return len(data)


class _Zstd:
    """zstd through a stream writer that hands out ``PIECE`` bytes at a time: the limit's
    exception, raised from inside it, stops the decompression at once."""

    def __init__(self, emit: Emit) -> None:
        self._writer = zstandard.ZstdDecompressor().stream_writer(
            cast(Any, _EmitWriter(emit)), write_size=PIECE, write_return_read=True
        )

    def write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
        except zstandard.ZstdError as exc:
            raise httpx.DecodingError(f"the zstd body is corrupt: {exc}") from exc

    def flush(self) -> None:
        return None


def _decoder(encoding: str, emit: Emit) -> _Decoder | None:
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(emit, zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return _Zlib(emit, zlib.MAX_WBITS, deflate=True)
    if encoding == "zstd":
        return _Zstd(emit)
    return None  # identity, or one we cannot decode: passed through (as httpx does)


class LimitedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response's raw stream, decoded and counted as it is read.

    ``limit`` bounds the decoded body (and the raw one); with ``per_event`` it bounds each
    event of a stream instead. ``deadline_at`` (``time.monotonic()`` seconds) is checked after
    every raw chunk; past it the read fails with ``httpx.ReadTimeout``. ``too_large(limit)``
    builds the exception raised at the limit. ``head`` holds the first ``HEAD`` decoded bytes.
    """

    def __init__(
        self,
        raw: Any,
        *,
        encodings: list[str],
        limit: int,
        too_large: TooLarge,
        per_event: bool = False,
        deadline_at: float | None = None,
    ) -> None:
        self._raw = raw
        self._limit = limit
        self._too_large = too_large
        self._per_event = per_event
        self._deadline_at = deadline_at
        self._count = 0
        self._raw_count = 0
        self._tail = b""
        self._out: list[bytes] = []
        self.head = bytearray()
        emit: Emit = self._take
        decoders: list[_Decoder] = []
        for encoding in encodings:  # the last one applied is undone first
            decoder = _decoder(encoding, emit)
            if decoder is not None:
                decoders.append(decoder)
                emit = decoder.write
        self._first = emit
        self._decoders = decoders[::-1]  # flushed outermost first

    def _take(self, piece: bytes) -> None:
        if self._per_event:
            joined = self._tail + piece
            end = max(
                (at + size for sep, size in _EVENT_ENDS if (at := joined.rfind(sep)) >= 0),
                default=-1,
            )
            self._count = len(joined) - end if end >= 0 else self._count + len(piece)
            self._tail = joined[-3:]
        else:
            self._count += len(piece)
        if self._count > self._limit:
            raise self._too_large(self._limit)
        if len(self.head) < HEAD:
            self.head += piece[: HEAD - len(self.head)]
        self._out.append(piece)

    def _decode(self, chunk: bytes) -> list[bytes]:
        if self._deadline_at is not None and time.monotonic() > self._deadline_at:
            raise httpx.ReadTimeout("the answer did not arrive in full within the time allowed")
        if not self._per_event:
            self._raw_count += len(chunk)
            if self._raw_count > self._limit:
                raise self._too_large(self._limit)
        self._first(chunk)
        out, self._out = self._out, []
        return out

    def _finish(self) -> list[bytes]:
        for decoder in self._decoders:
            decoder.flush()
        out, self._out = self._out, []
        return out

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._raw:
            yield from self._decode(chunk)
        yield from self._finish()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._raw:
            for piece in self._decode(chunk):
                yield piece
        for piece in self._finish():
            yield piece

    def close(self) -> None:
        self._raw.close()

    async def aclose(self) -> None:
        await self._raw.aclose()


def limit_body(
    response: httpx.Response,
    *,
    limit: int,
    too_large: TooLarge,
    per_event: bool = False,
    deadline_at: float | None = None,
) -> LimitedBody:
    """Wrap ``response``'s body so that reading it decodes within ``limit`` bytes (per event
    with ``per_event``) and, when given, by ``deadline_at``; call before the body is read.

    Example::

        response = await client.send(request, stream=True)
        limit_body(response, limit=1 << 20, too_large=lambda n: ValueError(f"over {n} bytes"))
        await response.aread()  # raises at the limit, not after buffering everything
    """
    encodings = [
        value.strip().lower()
        for value in response.headers.get_list("content-encoding", split_commas=True)
        if value.strip()
    ]
    body = LimitedBody(
        response.stream,
        encodings=encodings,
        limit=limit,
        too_large=too_large,
        per_event=per_event,
        deadline_at=deadline_at,
    )
    response.stream = body
    if encodings:
        del response.headers["content-encoding"]  # the body read from now on is decoded
    return body
