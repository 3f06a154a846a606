"""The HTTP side of checkpoint downloads: running on the holder's loop, streaming a URL to a
file (redirects followed, the API key only to the API's own origin), and probing the archive
route of older servers and skyrl-tx.

The requests go through the shared connection pools of the holder's low-level client. The
generated ``get_checkpoint_archive_url`` cannot be used for them: it expects a JSON body, and
skyrl-tx answers a redirect.
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

import httpx
from pydantic import ValidationError
from sdkgen.runtime import RetryPolicy, backoff_delay
from sdkgen.runtime._request import CallArgs, build_request
from sdkgen.runtime._response import excerpt, status_error

from .._generated import endpoints as _e, models
from ..types import ParsedCheckpointTinkerPath
from .errors import DownloadError, UnsafeArchiveError
from .files import CHUNK_SIZE, Transfer, new_file

if TYPE_CHECKING:
    from .._holder import Holder

__all__ = ["CLEANUP_TIMEOUT", "Probe", "fetch", "probe_archive", "route_absent", "run"]

T = TypeVar("T")

_MAX_REDIRECTS = 5
_MAX_JSON_BODY = 1 << 20
_PROBE_ATTEMPTS = 3
_PROBE_BACKOFF = RetryPolicy(initial_delay=0.5, max_delay=4.0)
#: Seconds to wait for a cancelled download, or for the clean-up of a temporary export.
CLEANUP_TIMEOUT = 60.0
_REDIRECTS = (301, 302, 303, 307, 308)


def run(holder: Holder, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the holder's loop and wait. Every network wait inside has its own
    timeout; an interrupt of the caller cancels the coroutine and waits (bounded) for it."""
    if holder.loop.in_loop_thread():
        coro.close()
        raise RuntimeError("download_checkpoint() blocks; do not call it on the SDK's own loop")
    holder.check_open(coro)
    future = holder.loop.submit(coro)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        with contextlib.suppress(Exception):
            concurrent.futures.wait([future], timeout=CLEANUP_TIMEOUT)
        raise


def _same_origin(a: str, b: str) -> bool:
    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.hostname, x.port) == (y.scheme, y.hostname, y.port)


def _auth_headers(holder: Holder) -> dict[str, str]:
    """The headers an API request carries (auth, defaults), for requests to the API's origin."""
    api = holder.api
    request = build_request(
        api.api,
        api.config,
        _e.GET_CHECKPOINT_ARCHIVE_URL,
        CallArgs(path_params={"training_run_id": "x", "checkpoint_id": "x"}),
        retries_taken=0,
        timeout=httpx.Timeout(1.0),
    )
    return {k: v for k, v in request.headers.items() if k.lower() not in ("accept", "host")}


def _timeout(holder: Holder, read_timeout: float) -> httpx.Timeout:
    connect = holder.api.config.connect_timeout
    return httpx.Timeout(read_timeout, connect=min(connect, read_timeout))


def _client(holder: Holder) -> httpx.AsyncClient:
    return holder.api.http_client(_e.GET_CHECKPOINT_ARCHIVE_URL.pool)


async def _open(
    holder: Holder, url: str, read_timeout: float, *, what: str
) -> tuple[httpx.Response, str]:
    """GET ``url`` streaming, following redirects (at most 5); the API key goes only to the
    API's own origin. Returns the open response (status < 300) and its final URL."""
    client = _client(holder)
    base = holder.base_url
    for _ in range(_MAX_REDIRECTS + 1):
        headers = {"User-Agent": f"tinkex/{holder.version}", "Accept": "*/*"}
        if _same_origin(url, base):
            headers.update(_auth_headers(holder))
        request = httpx.Request(
            "GET",
            url,
            headers=headers,
            extensions={"timeout": _timeout(holder, read_timeout).as_dict()},
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            raise DownloadError(f"downloading {what} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code in _REDIRECTS and response.headers.get("location"):
            await response.aclose()
            url = urljoin(url, response.headers["location"])
            continue
        if response.status_code >= 300:
            try:
                body = await _read_limited(response, 4096)
            finally:
                await response.aclose()
            text = excerpt(body, holder.api.config)  # printable, the API key redacted
            host = urlsplit(url).hostname
            raise DownloadError(
                f"downloading {what} failed: HTTP {response.status_code} from {host}"
                + (f": {text}" if text else "")
            )
        return response, url
    raise DownloadError(f"downloading {what} failed: more than {_MAX_REDIRECTS} redirects")


async def _aclose(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    data = bytearray()
    chunks = response.aiter_bytes()
    try:
        async for chunk in chunks:
            data += chunk
            if len(data) > limit:
                break
    finally:
        await _aclose(chunks)
    return bytes(data[:limit])


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
    response, _ = await _open(holder, url, transfer.read_timeout, what=what)
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
        chunks = response.aiter_bytes(CHUNK_SIZE)
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
            except httpx.TransportError as exc:
                raise DownloadError(
                    f"downloading {what} failed after {response.num_bytes_downloaded} bytes: "
                    f"{type(exc).__name__}: {exc or 'connection lost'}"
                ) from exc
        finally:
            await _aclose(chunks)
            await asyncio.to_thread(handle.close)
        if total is not None and written != total and "content-encoding" not in response.headers:
            raise DownloadError(f"downloading {what} failed: got {written} of {total} bytes")
        return written
    finally:
        await response.aclose()


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
    api = holder.api
    spec = _e.GET_CHECKPOINT_ARCHIVE_URL
    bare = parsed.checkpoint_id.split("/", 1)[1]
    probe = Probe()
    full_id_absent = False
    for checkpoint_id in dict.fromkeys((parsed.checkpoint_id, bare)):
        params = {"training_run_id": parsed.training_run_id, "checkpoint_id": checkpoint_id}
        response = await _send_api(holder, spec, params, read_timeout)
        status = response.status_code
        url = str(response.request.url)
        try:
            if status in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise DownloadError(f"the archive route answered {status} without a Location")
                return Probe(url=urljoin(url, location))
            if 200 <= status < 300:
                if "json" not in response.headers.get("content-type", ""):
                    return Probe(url=url)  # the archive itself: fetched again, streamed
                body = await _read_limited(response, _MAX_JSON_BODY)
                try:
                    reply = models.CheckpointArchiveUrlResponse.model_validate_json(body)
                except ValidationError as err:
                    raise DownloadError(
                        f"the archive route answered JSON without a usable url: {err}"
                    ) from err
                return Probe(url=urljoin(url, reply.url))
            await response.aread()
            path = response.request.url.path
            try:
                body_json: Any = response.json()
            except ValueError:
                body_json = None
            if route_absent(status, body_json) or status == 422:
                # No such route, or not for this form of the id: try the next form.
                full_id_absent = full_id_absent or checkpoint_id == parsed.checkpoint_id
                continue
            if status == 404:
                if probe.not_found is None:
                    error = status_error(api.api, api.config, spec, response, path)
                    probe.not_found = error.detail
                    if full_id_absent and parsed.checkpoint_type == "training":
                        probe.not_found += (
                            " (servers like skyrl-tx archive only sampler_weights/ checkpoints)"
                        )
                continue
            raise status_error(api.api, api.config, spec, response, path)
        finally:
            await response.aclose()
    return probe


async def _send_api(
    holder: Holder, spec: Any, params: dict[str, str], read_timeout: float
) -> httpx.Response:
    """One GET of an API endpoint, unread, no redirect following; retried on connection
    errors and 5xx / 429 (it is a read)."""
    api = holder.api
    client = _client(holder)
    for attempt in range(_PROBE_ATTEMPTS):
        request = build_request(
            api.api,
            api.config,
            spec,
            CallArgs(path_params=params),
            retries_taken=attempt,
            timeout=_timeout(holder, read_timeout),
        )
        last = attempt == _PROBE_ATTEMPTS - 1
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            if last:
                raise DownloadError(
                    f"{spec.method} {request.url.path} failed: {type(exc).__name__}: {exc}"
                ) from exc
        else:
            if last or not (response.status_code >= 500 or response.status_code == 429):
                return response
            await response.aclose()
        await asyncio.sleep(backoff_delay(_PROBE_BACKOFF, attempt))
    raise AssertionError("unreachable")  # pragma: no cover
