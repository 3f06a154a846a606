"""The HTTP side of checkpoint downloads: running on the holder's loop, streaming a URL to a
file, and probing the archive route of older servers and skyrl-tx.

Both go through the low-level client's public paths, with its pools, timeouts, retries and
errors: the archive route is the generated ``get_checkpoint_archive_url`` read as a streamed
response (it may answer a redirect, as skyrl-tx does, JSON, or the archive itself), and a URL
is opened with the kit's ``open_url`` (redirects followed, at most 5; the API key goes only to
the API's own origin, never to a signed URL's host).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shutil
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from sdkgen.runtime import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AsyncAPIResponse,
    AsyncBinaryStream,
    open_url,
)

from .._generated import models
from ..types import ParsedCheckpointTinkerPath
from .errors import DownloadError, UnsafeArchiveError
from .files import CHUNK_SIZE, Transfer, new_file

if TYPE_CHECKING:
    from .._holder import Holder

__all__ = ["CLEANUP_TIMEOUT", "Probe", "fetch", "probe_archive", "route_absent", "run"]

T = TypeVar("T")

_MAX_REDIRECTS = 5
#: Retries of the archive route (a read) on connection errors, 5xx and 429, by its policy.
_PROBE_RETRIES = 2
#: Seconds to wait for a cancelled download, or for the clean-up of a temporary export.
CLEANUP_TIMEOUT = 60.0
_REDIRECTS = (301, 302, 303, 307, 308)


def run(holder: Holder, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the holder's loop and wait. Every network wait inside has its own
    timeout; an interrupt of the caller cancels the coroutine and waits (bounded) for it."""
    if holder.runner.loop.in_loop_thread():
        coro.close()
        raise RuntimeError("download_checkpoint() blocks; do not call it on the SDK's own loop")
    holder.runner.check_open(coro)
    future = holder.runner.loop.submit(coro)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        with contextlib.suppress(Exception):
            concurrent.futures.wait([future], timeout=CLEANUP_TIMEOUT)
        raise


async def _open(holder: Holder, url: str, read_timeout: float, *, what: str) -> AsyncBinaryStream:
    """The open body at ``url`` (redirects followed), or a :class:`DownloadError` that says
    what failed, from which host (never the signed URL's query, nor the key)."""
    try:
        return await open_url(holder.api, url, timeout=read_timeout, max_redirects=_MAX_REDIRECTS)
    except APIStatusError as err:
        host = err.request.url.host if err.request is not None else urlsplit(url).hostname
        raise DownloadError(
            f"downloading {what} failed: HTTP {err.status_code} from {host}"
            + (f": {err.detail}" if err.detail else "")
        ) from err
    except APIConnectionError as err:
        raise DownloadError(f"downloading {what} failed: {err.detail}") from err


async def _aclose(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def fetch(
    holder: Holder,
    url: str,
    target: Path,
    transfer: Transfer,
    *,
    name: str,
    what: str,
) -> int:
    """Stream ``url`` into the new file ``target``, in chunks; the number of bytes written."""
    progress, budget = transfer.progress, transfer.budget
    body = await _open(holder, url, transfer.read_timeout, what=what)
    response = body.response
    try:
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        if total is not None:
            if total > budget[0]:
                raise UnsafeArchiveError(
                    f"{what} is {total} bytes, more than the size limit allows; refused "
                    "(raise max_expanded_bytes, or --max-expanded in the CLI, if this checkpoint is "
                    "really that large)"
                )
            free = shutil.disk_usage(target.parent).free
            if total > free:
                raise DownloadError(
                    f"not enough disk space for {what} in {target.parent}: it needs {total} "
                    f"bytes, {free} are free"
                )
        progress.begin(name, total)
        written = 0
        handle = await asyncio.to_thread(new_file, target, 0o644)
        chunks = body.iter_bytes(CHUNK_SIZE)
        try:
            try:
                async for chunk in chunks:
                    written += len(chunk)
                    budget[0] -= len(chunk)
                    if budget[0] < 0:
                        raise UnsafeArchiveError(
                            f"{what} is larger than the size limit allows; refused (raise "
                            "max_expanded_bytes, or --max-expanded in the CLI, if this "
                            "checkpoint is really that large)"
                        )
                    await asyncio.to_thread(transfer.write, handle, chunk)
                    progress.advance(len(chunk))
            except APIError as err:  # the body broke off (the kit's error for it)
                raise DownloadError(
                    f"downloading {what} failed after {response.num_bytes_downloaded} bytes: "
                    f"{err.detail or 'connection lost'}"
                ) from err
        finally:
            await _aclose(chunks)
            await asyncio.to_thread(handle.close)
        if total is not None and written != total and "content-encoding" not in response.headers:
            raise DownloadError(f"downloading {what} failed: got {written} of {total} bytes")
        return written
    finally:
        await body.close()


# -- the archive route -------------------------------------------------------------------------


@dataclass
class Probe:
    url: str | None = None
    not_found: str | None = None


def route_absent(status: int, body: Any) -> bool:
    """A 404/405 that says the server has no such route (rather than no such checkpoint)."""
    if status == 405:
        return True
    if status != 404:
        return False
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail is None or (
        isinstance(detail, str) and detail.strip().lower() in ("", "not found")
    )


async def probe_archive(
    holder: Holder, parsed: ParsedCheckpointTinkerPath, read_timeout: float
) -> Probe:
    """Ask the archive route where the archive of ``parsed`` is: its id with its kind first,
    then bare (skyrl-tx's route takes one path segment). A server without the route, or a
    checkpoint it does not have, gives a :class:`Probe` without a URL."""
    route = holder.api.checkpoints.with_streaming_response.get_checkpoint_archive_url
    bare = parsed.checkpoint_id.split("/", 1)[1]
    probe = Probe()
    full_id_absent = False
    for checkpoint_id in dict.fromkeys((parsed.checkpoint_id, bare)):
        try:
            async with route(
                parsed.training_run_id,
                checkpoint_id,
                timeout=read_timeout,
                max_retries=_PROBE_RETRIES,
            ) as response:
                return await _archive_at(response)
        except APIStatusError as err:
            status = err.status_code or 0
            if route_absent(status, err.body) or status == 422:
                # No such route, or not for this form of the id: try the next form.
                full_id_absent = full_id_absent or checkpoint_id == parsed.checkpoint_id
                continue
            if status != 404:
                raise
            if probe.not_found is None:
                probe.not_found = err.detail
                if full_id_absent and parsed.checkpoint_type == "training":
                    probe.not_found += (
                        " (servers like skyrl-tx archive only sampler_weights/ checkpoints)"
                    )
        except APIConnectionError as err:
            raise DownloadError(
                f"asking for the archive of {parsed.tinker_path} failed: {err}"
            ) from err
    return probe


async def _archive_at(
    response: AsyncAPIResponse[models.CheckpointArchiveUrlResponse],
) -> Probe:
    """Where the archive route's answer says the archive is (its body is read only if JSON)."""
    status = response.status_code
    url = str(response.url)
    if status in _REDIRECTS:
        location = response.headers.get("location")
        if not location:
            raise DownloadError(f"the archive route answered {status} without a Location")
        return Probe(url=urljoin(url, location))
    if not 200 <= status < 300:
        raise DownloadError(f"the archive route answered {status}, neither an archive nor a URL")
    if "json" not in response.headers.get("content-type", ""):
        return Probe(url=url)  # the archive itself: fetched again, streamed
    try:
        reply = await response.parse()
    except APIResponseValidationError as err:
        raise DownloadError(f"the archive route answered JSON without a usable url: {err}") from err
    return Probe(url=urljoin(url, reply.url))
