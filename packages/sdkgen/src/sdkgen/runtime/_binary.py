"""Binary answers (``response: binary``): the whole body as bytes, or the open body to iterate
in chunks or write to a file.

Both go through the client's own pipeline (retries, deadline, status first, size limit). The
bytes are bounded by the endpoint's ``max_response_bytes`` like any body read into memory; the
open body counts the same limit over the whole body but holds only one chunk at a time, and,
once open, waits on each read (the attempt's ``timeout``), not on the whole transfer, which may
take as long as the bytes keep coming.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import IO, Any, Self, cast, overload

import httpx

from ._call_context import claim_capture
from ._client import AsyncAPIClient, SyncAPIClient, _call_kwargs
from ._errors import APIError, ResponseTooLargeError
from ._response import transport_error
from ._spec import EndpointSpec

__all__ = ["AsyncBinaryStream", "BinaryStream", "open_binary", "read_binary"]


class _Body:
    """What the twins share: the response, and where a failure while reading is reported."""

    def __init__(self, response: httpx.Response, spec: EndpointSpec, path: str) -> None:
        self.response = response
        self._spec = spec
        self._path = path

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    def _error(self, exc: Exception) -> Exception:
        if isinstance(exc, ResponseTooLargeError | APIError):
            return exc
        # The status was a success: the body broke off, and nothing is resent mid-body.
        return transport_error(self._spec, self._path, exc, resend_ambiguous=True)


def _temp_beside(target: Path) -> tuple[IO[bytes], Path]:
    # In the target's directory, so that the final rename stays on one file system (atomic).
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    return os.fdopen(fd, "wb"), Path(name)


def _finish(file: IO[bytes], temp: Path, target: Path) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()
    os.replace(temp, target)


def _discard(file: IO[bytes], temp: Path) -> None:
    file.close()
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()


class BinaryStream(_Body):
    """An open binary answer: iterate it for chunks, or :meth:`write_to_file`; close it (or
    use ``with``) to hang up early.

    Example::

        with api.files.stream_download(file_id="f1") as body:
            body.write_to_file("model.bin")
    """

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The body's decoded bytes, in chunks of ``chunk_size`` (as they arrive when None)."""
        try:
            yield from self.response.iter_bytes(chunk_size)
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        finally:
            self.response.close()

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def read(self) -> bytes:
        """The rest of the body in memory (bounded by the endpoint's ``max_response_bytes``)."""
        return b"".join(self.iter_bytes())

    def write_to_file(self, path: str | os.PathLike[str], chunk_size: int | None = None) -> int:
        """Write the body to ``path`` and return its size. Atomic: the bytes go to a temporary
        file beside it, renamed over ``path`` only once the body arrived whole (a failed
        transfer leaves ``path`` as it was). Memory holds one chunk at a time."""
        target = Path(path)
        file, temp = _temp_beside(target)
        size = 0
        try:
            for chunk in self.iter_bytes(chunk_size):
                file.write(chunk)
                size += len(chunk)
            _finish(file, temp, target)
        except BaseException:
            _discard(file, temp)
            raise
        return size

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncBinaryStream(_Body):
    """The asyncio twin of :class:`BinaryStream`.

    Example::

        async with await api.files.stream_download(file_id="f1") as body:
            await body.write_to_file("model.bin")
    """

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body's decoded bytes, in chunks of ``chunk_size`` (as they arrive when None)."""
        try:
            async for chunk in self.response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        finally:
            await self.response.aclose()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.iter_bytes()

    async def read(self) -> bytes:
        """The rest of the body in memory (bounded by the endpoint's ``max_response_bytes``)."""
        return b"".join([chunk async for chunk in self.iter_bytes()])

    async def write_to_file(
        self, path: str | os.PathLike[str], chunk_size: int | None = None
    ) -> int:
        """Write the body to ``path`` atomically (see :meth:`BinaryStream.write_to_file`); the
        file writes run in a worker thread, off the event loop."""
        target = Path(path)
        file, temp = await asyncio.to_thread(_temp_beside, target)
        size = 0
        try:
            async for chunk in self.iter_bytes(chunk_size):
                await asyncio.to_thread(file.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(_finish, file, temp, target)
        except BaseException:
            _discard(file, temp)
            raise
        return size

    async def close(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@overload
def read_binary(client: SyncAPIClient, spec: EndpointSpec, **kwargs: Any) -> bytes: ...
@overload
def read_binary(
    client: AsyncAPIClient, spec: EndpointSpec, **kwargs: Any
) -> Coroutine[Any, Any, bytes]: ...
def read_binary(
    client: SyncAPIClient | AsyncAPIClient, spec: EndpointSpec, **kwargs: Any
) -> bytes | Coroutine[Any, Any, bytes]:
    """Send a binary endpoint's call and return its body (awaitable for an asyncio client).

    Example::

        data = read_binary(api, api.endpoints["download"], path_params={"file_id": "f1"})
    """
    capture = claim_capture()  # a with_raw_response / with_streaming_response wrapper's
    streaming = capture is not None and capture.streaming
    call = client._start(spec, **_call_kwargs(kwargs))
    if isinstance(client, SyncAPIClient):
        response = client._send(call, stream=streaming)
        if capture is None:
            return response.content
        return cast(bytes, capture.hold(call, response, lambda: response.content))
    aclient = client

    async def read() -> bytes:
        response = await aclient._send(call, stream=streaming)
        if capture is None:
            return response.content
        return cast(bytes, capture.hold(call, response, lambda: response.content))

    return read()


@overload
def open_binary(client: SyncAPIClient, spec: EndpointSpec, **kwargs: Any) -> BinaryStream: ...
@overload
def open_binary(
    client: AsyncAPIClient, spec: EndpointSpec, **kwargs: Any
) -> Coroutine[Any, Any, AsyncBinaryStream]: ...
def open_binary(
    client: SyncAPIClient | AsyncAPIClient, spec: EndpointSpec, **kwargs: Any
) -> BinaryStream | Coroutine[Any, Any, AsyncBinaryStream]:
    """Send a binary endpoint's call and return its open body once the status arrived (a
    coroutine for an asyncio client); an error status raises as for any call.

    Example::

        with open_binary(api, api.endpoints["download"], path_params={"file_id": "f1"}) as body:
            body.write_to_file("f1.bin")
    """
    call = client._start(spec, **_call_kwargs(kwargs))
    if isinstance(client, SyncAPIClient):
        return BinaryStream(client._send(call, stream=True), spec, call.path)
    aclient = client

    async def open_() -> AsyncBinaryStream:
        return AsyncBinaryStream(await aclient._send(call, stream=True), spec, call.path)

    return open_()
