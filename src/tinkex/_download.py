"""Checkpoint download: stream a checkpoint to disk, extract it safely, place it atomically.

Two routes, chosen per server and per checkpoint kind:

* the archive route of older servers and of skyrl-tx: ``GET .../checkpoints/{id}/archive``
  answers a redirect (``302`` + ``Location``; skyrl-tx) or ``{"url": ...}`` (JSON) or the archive
  itself; the archive (tar, tar.gz or zip) is streamed to a file, checked member by member and
  extracted. The id is tried with its kind (``weights/name``) and then bare (``name``, as
  skyrl-tx's route takes a single path segment).
* the export route of newer servers (wire protocol 0.38, section 7.10): ``external_weights/``
  paths list their files with ``external_weights_urls`` (per-file signed URLs, re-signed when
  they are about to expire); a ``weights/`` path is first exported: a temporary training client
  is created from the state, ``save_weights_external`` writes an export, its files are
  downloaded, then the export is deleted and the temporary model unloaded. ``sampler_weights/``
  checkpoints cannot be exported: refused.

Everything lands in a hidden working directory next to ``output_dir``; only a complete result is
renamed into place (replacing an old directory with ``force=True`` only then). A failure (a
dropped connection, a full disk, a refused archive) leaves nothing behind, so the next attempt
starts clean. Memory stays constant: bodies are written in 1 MiB chunks and archives are read
member by member.

The HTTP requests go through the shared connection pools of the holder's low-level client. The
generated ``get_checkpoint_archive_url`` cannot be used for them: it expects a JSON body, and
skyrl-tx answers a redirect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import os
import shutil
import stat
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
from pydantic import ValidationError

from ._generated import models
from ._generated.endpoints import ENDPOINTS
from .runtime import APIStatusError, NotFoundError, SDKError
from .runtime._request import CallArgs, build_request
from .runtime._response import excerpt, status_error
from .types import ParsedCheckpointTinkerPath

if TYPE_CHECKING:
    from ._holder import Holder
    from ._training_client import TrainingClient

__all__ = [
    "DEFAULT_MAX_EXPANDED_BYTES",
    "CheckpointNotFoundError",
    "DownloadError",
    "InvalidTinkerPathError",
    "OutputExistsError",
    "ProgressCallback",
    "UnsafeArchiveError",
    "download_checkpoint",
    "extract_archive",
    "safe_relative_path",
]

T = TypeVar("T")

#: Refuse archives (and exports) that expand to more than this, unless told otherwise.
DEFAULT_MAX_EXPANDED_BYTES = 200 * 1024**3
#: Seconds without a byte from the server before a download fails.
DEFAULT_READ_TIMEOUT = 60.0
CHUNK_SIZE = 1 << 20
#: Signed URLs closer than this (seconds) to their expiry are asked for again.
RESIGN_MARGIN = 300.0
#: Lifetime of the temporary export made to download a ``weights/`` checkpoint.
EXPORT_TTL_SECONDS = 3600
_MAX_REDIRECTS = 5
_MAX_JSON_BODY = 1 << 20
_MAX_LINK_TARGET = 4096
_PROBE_ATTEMPTS = 3
_CLEANUP_TIMEOUT = 60.0
_WORK_SUFFIX = ".tinkex-partial"
_OWNER_FILE = "owner.pid"
_STALE_AGE = 3600.0
_REDIRECTS = (301, 302, 303, 307, 308)

#: ``progress(name, bytes_done, bytes_total_or_None)``, called as a file's bytes arrive.
ProgressCallback = Callable[[str, int, int | None], None]


# -- errors ------------------------------------------------------------------------------------


class DownloadError(SDKError):
    """A checkpoint could not be downloaded; the message says which and why."""


class InvalidTinkerPathError(DownloadError, ValueError):
    """The ``tinker://`` path does not parse."""


class OutputExistsError(DownloadError):
    """The output directory exists and ``force`` was not given."""


class CheckpointNotFoundError(DownloadError):
    """The server does not have the checkpoint."""


class UnsafeArchiveError(DownloadError):
    """The archive (or the file list) would write outside the output directory, holds links,
    devices or fifos it must not, or expands beyond the size limit. Nothing was written."""


# -- the write hook (tests replace it to simulate a full disk) --------------------------------


def _write_chunk(handle: IO[bytes], data: bytes) -> None:
    handle.write(data)


# -- paths -------------------------------------------------------------------------------------


def _has_drive(text: str) -> bool:
    return len(text) >= 2 and text[1] == ":" and text[0].isalpha()


def safe_relative_path(name: str, *, what: str = "path") -> PurePosixPath | None:
    """``name`` as a relative path that stays inside its root (``None`` for the root itself).

    Backslashes count as separators. Absolute paths, drive letters, ``..`` components and NUL
    bytes raise :class:`UnsafeArchiveError` naming ``what``.
    """
    if "\x00" in name:
        raise UnsafeArchiveError(f"{what} {name!r} contains a NUL byte; refused")
    text = name.replace("\\", "/")
    if text.startswith("/") or _has_drive(text):
        raise UnsafeArchiveError(f"{what} {name!r} is an absolute path; refused")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{what} {name!r} climbs out of the target with '..'; refused")
    return PurePosixPath(*parts) if parts else None


def _inside(root: str, candidate: str) -> bool:
    return candidate == root or candidate.startswith(root.rstrip(os.sep) + os.sep)


# -- archive members ---------------------------------------------------------------------------

_Kind = Literal["file", "dir", "symlink", "hardlink"]


@dataclass
class _Entry:
    path: PurePosixPath | None
    kind: _Kind
    size: int
    link: str
    mode: int
    mtime: float | None
    source: Any  # tarfile.TarInfo or zipfile.ZipInfo


def _tar_entries(tar: tarfile.TarFile, limit: int) -> Iterator[_Entry]:
    total = 0
    for info in tar:
        what = f"archive member {info.name!r}"
        if info.ischr() or info.isblk():
            raise UnsafeArchiveError(f"{what} is a device file; refused")
        if info.isfifo():
            raise UnsafeArchiveError(f"{what} is a fifo; refused")
        kind: _Kind
        if info.isreg():
            kind = "file"
        elif info.isdir():
            kind = "dir"
        elif info.issym():
            kind = "symlink"
        elif info.islnk():
            kind = "hardlink"
        else:
            raise UnsafeArchiveError(f"{what} has an unsupported type {info.type!r}; refused")
        path = safe_relative_path(info.name, what=what)
        size = info.size if kind == "file" else 0
        total = _within_limit(total + size, limit, what)
        yield _Entry(path, kind, size, info.linkname, info.mode, float(info.mtime), info)


def _within_limit(total: int, limit: int, what: str) -> int:
    """``total`` expanded bytes so far, refused once it passes the limit."""
    if total > limit:
        raise UnsafeArchiveError(
            f"the archive expands to more than {limit} bytes (at {what}); refused "
            "(raise max_expanded_bytes if this checkpoint is really that large)"
        )
    return total


def _zip_entries(archive: zipfile.ZipFile, limit: int) -> Iterator[_Entry]:
    total = 0
    for info in archive.infolist():
        what = f"archive member {info.filename!r}"
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(f"{what} is encrypted; refused")
        mode = info.external_attr >> 16
        fmt = stat.S_IFMT(mode)
        link = ""
        kind: _Kind
        if info.is_dir() or fmt == stat.S_IFDIR:
            kind = "dir"
        elif fmt == stat.S_IFLNK:
            kind = "symlink"
            if info.file_size > _MAX_LINK_TARGET:
                raise UnsafeArchiveError(f"{what} is a symlink with an oversized target; refused")
            with archive.open(info) as handle:
                link = handle.read(_MAX_LINK_TARGET + 1).decode("utf-8", errors="replace")
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            raise UnsafeArchiveError(f"{what} is a device file; refused")
        elif fmt == stat.S_IFIFO:
            raise UnsafeArchiveError(f"{what} is a fifo; refused")
        elif fmt in (0, stat.S_IFREG):
            kind = "file"
        else:
            raise UnsafeArchiveError(f"{what} has an unsupported type {oct(fmt)}; refused")
        path = safe_relative_path(info.filename, what=what)
        size = info.file_size if kind == "file" else 0
        total = _within_limit(total + size, limit, what)
        try:
            mtime: float | None = time.mktime((*info.date_time, 0, 0, -1))
        except (OverflowError, ValueError):
            mtime = None
        yield _Entry(path, kind, size, link, mode & 0o7777 or 0o644, mtime, info)


def _resolve_symlink(entry: _Entry, symlinks: set[PurePosixPath]) -> None:
    """Refuse a symlink whose target is absolute, leaves the root, or passes through another
    symlink of the archive (where lexical resolution would not be what the OS does)."""
    assert entry.path is not None
    what = f"symlink {str(entry.path)!r} -> {entry.link!r}"
    target = entry.link.replace("\\", "/")
    if not target or "\x00" in target:
        raise UnsafeArchiveError(f"{what} has an empty or invalid target; refused")
    if target.startswith("/") or _has_drive(target):
        raise UnsafeArchiveError(f"{what} points to an absolute path outside the target; refused")
    stack = list(entry.path.parent.parts)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                raise UnsafeArchiveError(f"{what} points outside the target; refused")
            stack.pop()
            continue
        stack.append(part)
        if PurePosixPath(*stack) in symlinks:
            raise UnsafeArchiveError(f"{what} resolves through another symlink; refused")


def _plan(entries: list[_Entry]) -> list[_Entry]:
    """Check the members as a whole; the ones to extract, in order."""
    symlinks = {e.path for e in entries if e.kind == "symlink" and e.path is not None}
    seen: dict[PurePosixPath, _Kind] = {}
    plan: list[_Entry] = []
    for entry in entries:
        path = entry.path
        if path is None:
            if entry.kind != "dir":
                raise UnsafeArchiveError("an archive member other than a directory names the root")
            continue
        for parent in list(path.parents)[:-1]:
            if parent in symlinks:
                raise UnsafeArchiveError(
                    f"archive member {str(path)!r} would be written through the symlink "
                    f"{str(parent)!r}; refused"
                )
            if seen.get(parent, "dir") != "dir":
                raise UnsafeArchiveError(
                    f"archive member {str(path)!r} is inside {str(parent)!r}, which is not a "
                    "directory; refused"
                )
        previous = seen.get(path)
        if previous is not None and not (previous == "dir" and entry.kind == "dir"):
            raise UnsafeArchiveError(f"archive member {str(path)!r} appears twice; refused")
        if entry.kind == "symlink":
            _resolve_symlink(entry, symlinks)
        elif entry.kind == "hardlink":
            what = f"hard link {str(path)!r} -> {entry.link!r}"
            try:
                target = safe_relative_path(entry.link, what=what)
            except UnsafeArchiveError as err:
                raise UnsafeArchiveError(f"{what} points outside the target; refused") from err
            if target is None or seen.get(target) != "file":
                raise UnsafeArchiveError(
                    f"{what} does not point to a regular file earlier in the archive; refused"
                )
            entry.link = str(target)
        seen[path] = entry.kind
        plan.append(entry)
    return plan


def _archive_kind(path: Path) -> Literal["zip", "tar"]:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    return "tar"


def extract_archive(
    archive: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES,
) -> None:
    """Extract a tar (plain, gz, bz2, xz) or zip archive into the existing empty directory
    ``destination``, after checking every member.

    Refused with :class:`UnsafeArchiveError`, before anything is written: absolute paths,
    ``..`` components, symlinks that are absolute, leave the target or pass through another
    symlink, hard links to anything but an earlier regular file, device files, fifos, duplicate
    members, and a total expanded size above ``max_expanded_bytes``. Extraction then writes with
    ``O_EXCL | O_NOFOLLOW`` and checks each parent directory's real path, drops set-id bits,
    and stops if a member yields more bytes than it declared.
    """
    archive_path = Path(archive)
    dest = Path(destination)
    try:
        kind = _archive_kind(archive_path)
        if kind == "zip":
            with zipfile.ZipFile(archive_path) as zipped:
                plan = _plan(list(_zip_entries(zipped, max_expanded_bytes)))
                _check_space(dest, plan)
                _extract(plan, dest, max_expanded_bytes, lambda e: zipped.open(e.source))
        else:
            with tarfile.open(archive_path, "r:*") as tar:
                plan = _plan(list(_tar_entries(tar, max_expanded_bytes)))
                _check_space(dest, plan)

                def opener(entry: _Entry) -> IO[bytes]:
                    handle = tar.extractfile(entry.source)
                    if handle is None:
                        raise UnsafeArchiveError(f"archive member {entry.path} has no data")
                    return handle

                _extract(plan, dest, max_expanded_bytes, opener)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise DownloadError(
            f"the downloaded file is not a valid tar or zip archive: {err}"
        ) from err


def _check_space(dest: Path, plan: list[_Entry]) -> None:
    needed = sum(e.size for e in plan if e.kind == "file")
    needed += sum(_size_of(plan, e.link) for e in plan if e.kind == "hardlink")
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DownloadError(
            f"not enough disk space to extract the archive into {dest.parent}: it needs "
            f"{needed} bytes, {free} are free"
        )


def _size_of(plan: list[_Entry], link: str) -> int:
    for entry in plan:
        if entry.path is not None and str(entry.path) == link and entry.kind == "file":
            return entry.size
    return 0


def _extract(
    plan: list[_Entry], dest: Path, limit: int, opener: Callable[[_Entry], IO[bytes]]
) -> None:
    root = os.path.realpath(dest)
    budget = [limit]
    for entry in plan:
        assert entry.path is not None
        target = dest.joinpath(*entry.path.parts)
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not _inside(root, os.path.realpath(parent)):
            raise UnsafeArchiveError(f"archive member {str(entry.path)!r} escapes the target")
        if entry.kind == "dir":
            with contextlib.suppress(FileExistsError):
                target.mkdir(mode=0o755)
            if not _inside(root, os.path.realpath(target)):
                raise UnsafeArchiveError(f"archive member {str(entry.path)!r} escapes the target")
        elif entry.kind == "symlink":
            os.symlink(entry.link, target)
        elif entry.kind == "hardlink":
            source = dest.joinpath(*PurePosixPath(entry.link).parts)
            with source.open("rb") as handle:
                _copy_to_new_file(handle, target, 0o644, None, budget, str(entry.path))
        else:
            with opener(entry) as handle:
                written = _copy_to_new_file(
                    handle, target, entry.mode, entry.size, budget, str(entry.path)
                )
            if written != entry.size:
                raise DownloadError(
                    f"archive member {str(entry.path)!r} is truncated ({written} of "
                    f"{entry.size} bytes)"
                )
            if entry.mtime is not None:
                with contextlib.suppress(OSError, OverflowError, ValueError):
                    os.utime(target, (entry.mtime, entry.mtime))


def _new_file(target: Path, mode: int) -> IO[bytes]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    perms = 0o777 if mode & 0o111 else 0o666
    fd = os.open(target, flags, perms)
    return os.fdopen(fd, "wb")


def _copy_to_new_file(
    source: IO[bytes],
    target: Path,
    mode: int,
    declared: int | None,
    budget: list[int],
    name: str,
) -> int:
    written = 0
    with _new_file(target, mode) as out:
        while True:
            chunk = source.read(CHUNK_SIZE)
            if not chunk:
                break
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise UnsafeArchiveError(
                    f"the archive expands beyond the size limit (at {name!r}); refused"
                )
            if declared is not None and written > declared:
                raise UnsafeArchiveError(
                    f"archive member {name!r} holds more data than it declares; refused"
                )
            _write_chunk(out, chunk)
    return written


# -- progress ----------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar on stderr (when rich is importable), and/or a callback."""

    def __init__(self, progress: bool | ProgressCallback) -> None:
        self._callback: ProgressCallback | None = progress if callable(progress) else None
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None
        self._name = ""
        self._done = 0
        self._total: int | None = None
        if progress is True:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )
            except ImportError:  # pragma: no cover - rich is a dependency, but optional here
                return
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()

    def begin(self, name: str, total: int | None) -> None:
        with self._lock:
            self._name, self._done, self._total = name, 0, total
            if self._bar is not None:
                self._task = self._bar.add_task(name, total=total)
        if self._callback is not None:
            self._callback(name, 0, total)

    def advance(self, amount: int) -> None:
        with self._lock:
            self._done += amount
            done, name, total = self._done, self._name, self._total
            if self._bar is not None and self._task is not None:
                self._bar.update(self._task, advance=amount)
        if self._callback is not None:
            self._callback(name, done, total)

    def close(self) -> None:
        if self._bar is not None:
            with contextlib.suppress(Exception):
                self._bar.stop()
            self._bar = None


# -- running on the holder's loop --------------------------------------------------------------


def _run(holder: Holder, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the holder's loop and wait. Every network wait inside has its own
    timeout; an interrupt of the caller cancels the coroutine and waits (bounded) for it."""
    if holder.loop.in_loop_thread():
        coro.close()
        raise RuntimeError("download_checkpoint() blocks; do not call it on the SDK's own loop")
    holder._check_open(coro)
    future = holder.loop.submit(coro)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        with contextlib.suppress(Exception):
            concurrent.futures.wait([future], timeout=_CLEANUP_TIMEOUT)
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
        ENDPOINTS["get_checkpoint_archive_url"],
        CallArgs(path_params={"training_run_id": "x", "checkpoint_id": "x"}),
        retries_taken=0,
        timeout=httpx.Timeout(1.0),
    )
    return {k: v for k, v in request.headers.items() if k.lower() not in ("accept", "host")}


def _timeout(holder: Holder, read_timeout: float) -> httpx.Timeout:
    connect = holder.api.config.connect_timeout
    return httpx.Timeout(read_timeout, connect=min(connect, read_timeout))


def _client(holder: Holder) -> httpx.AsyncClient:
    return holder.api.http_client(ENDPOINTS["get_checkpoint_archive_url"].pool)


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


async def _fetch(
    holder: Holder,
    url: str,
    target: Path,
    progress: _Progress,
    *,
    name: str,
    what: str,
    budget: list[int],
    read_timeout: float,
) -> int:
    """Stream ``url`` into the new file ``target``, in chunks; the number of bytes written."""
    response, _ = await _open(holder, url, read_timeout, what=what)
    try:
        length = response.headers.get("content-length")
        total = int(length) if length and length.isdigit() else None
        if total is not None:
            if total > budget[0]:
                raise UnsafeArchiveError(
                    f"{what} is {total} bytes, more than the size limit allows; refused "
                    "(raise max_expanded_bytes if this checkpoint is really that large)"
                )
            free = shutil.disk_usage(target.parent).free
            if total > free:
                raise DownloadError(
                    f"not enough disk space for {what} in {target.parent}: it needs {total} "
                    f"bytes, {free} are free"
                )
        progress.begin(name, total)
        written = 0
        handle = await asyncio.to_thread(_new_file, target, 0o644)
        chunks = response.aiter_bytes(CHUNK_SIZE)
        try:
            try:
                async for chunk in chunks:
                    written += len(chunk)
                    budget[0] -= len(chunk)
                    if budget[0] < 0:
                        raise UnsafeArchiveError(
                            f"{what} is larger than the size limit allows; refused"
                        )
                    await asyncio.to_thread(_write_chunk, handle, chunk)
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
class _Probe:
    url: str | None = None
    not_found: str | None = None


def _route_absent(status: int, body: Any) -> bool:
    """A 404/405 that says the server has no such route (rather than no such checkpoint)."""
    if status == 405:
        return True
    if status != 404:
        return False
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail is None or (
        isinstance(detail, str) and detail.strip().lower() in ("", "not found")
    )


async def _probe_archive(
    holder: Holder, parsed: ParsedCheckpointTinkerPath, read_timeout: float
) -> _Probe:
    api = holder.api
    spec = ENDPOINTS["get_checkpoint_archive_url"]
    bare = parsed.checkpoint_id.split("/", 1)[1]
    probe = _Probe()
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
                return _Probe(url=urljoin(url, location))
            if 200 <= status < 300:
                if "json" not in response.headers.get("content-type", ""):
                    return _Probe(url=url)  # the archive itself: fetched again, streamed
                body = await _read_limited(response, _MAX_JSON_BODY)
                try:
                    reply = models.CheckpointArchiveUrlResponse.model_validate_json(body)
                except ValidationError as err:
                    raise DownloadError(
                        f"the archive route answered JSON without a usable url: {err}"
                    ) from err
                return _Probe(url=urljoin(url, reply.url))
            await response.aread()
            path = response.request.url.path
            try:
                body_json: Any = response.json()
            except ValueError:
                body_json = None
            if _route_absent(status, body_json) or status == 422:
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
    delay = 0.5
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
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


# -- the export route --------------------------------------------------------------------------


def _expires_soon(expires: datetime) -> bool:
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return (expires - datetime.now(UTC)).total_seconds() < RESIGN_MARGIN


def _file_plan(urls: dict[str, str], what: str) -> list[tuple[str, PurePosixPath]]:
    """The relative paths of an export's files, checked like archive members."""
    plan: list[tuple[str, PurePosixPath]] = []
    seen: set[PurePosixPath] = set()
    for name in urls:
        path = safe_relative_path(name, what=f"file {name!r} of {what}")
        if path is None:
            raise UnsafeArchiveError(f"file {name!r} of {what} names the output directory itself")
        if path in seen:
            raise UnsafeArchiveError(f"file {name!r} of {what} appears twice; refused")
        seen.add(path)
        plan.append((name, path))
    for _, path in plan:
        for parent in list(path.parents)[:-1]:
            if parent in seen:
                raise UnsafeArchiveError(
                    f"file {str(path)!r} of {what} is inside the file {str(parent)!r}; refused"
                )
    return plan


def _external_urls(holder: Holder, path: str) -> models.ExternalWeightsUrlsResponse:
    parsed = ParsedCheckpointTinkerPath.from_tinker_path(path)
    try:
        return holder.run(
            holder.api.checkpoints.get_external_weights_urls(
                parsed.training_run_id, parsed.checkpoint_id
            )
        )
    except APIStatusError as err:
        if err.status_code in (404, 405) and _route_absent(err.status_code or 0, err.body):
            raise DownloadError(
                f"cannot download {path}: the server at {holder.base_url} serves neither the "
                "archive route nor external_weights_urls"
            ) from err
        if isinstance(err, NotFoundError):
            raise CheckpointNotFoundError(f"checkpoint {path} not found: {err.detail}") from err
        raise


def _download_files(
    holder: Holder,
    path: str,
    content: Path,
    progress: _Progress,
    budget: list[int],
    read_timeout: float,
) -> None:
    urls = _external_urls(holder, path)
    plan = _file_plan(urls.urls, path)
    for name, relative in plan:
        if _expires_soon(urls.expires):
            urls = _external_urls(holder, path)
            if name not in urls.urls:
                raise DownloadError(f"file {name!r} of {path} disappeared when re-signing")
        target = content.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        _run(
            holder,
            _fetch(
                holder,
                urls.urls[name],
                target,
                progress,
                name=name,
                what=f"{name} of {path}",
                budget=budget,
                read_timeout=read_timeout,
            ),
        )


def _export_and_download(
    holder: Holder,
    path: str,
    content: Path,
    progress: _Progress,
    budget: list[int],
    read_timeout: float,
) -> None:
    """Section 7.10: a temporary training client from the state, a temporary export of its
    weights, the export's files, then the export deleted and the model unloaded."""
    from ._service_client import ServiceClient

    try:
        holder.run(holder.api.weights.get_weights_info(tinker_path=path))
    except APIStatusError as err:
        if isinstance(err, NotFoundError) and not _route_absent(404, err.body):
            raise CheckpointNotFoundError(f"checkpoint {path} not found: {err.detail}") from err
        if not _route_absent(err.status_code or 0, err.body):
            raise
    service = ServiceClient.__new__(ServiceClient)  # a shell on this holder: no new connections
    service.holder = holder
    training: TrainingClient = service.create_training_client_from_state(path).result()
    export_path: str | None = None
    try:
        name = f"tinkex-download-{uuid.uuid4().hex[:12]}"
        try:
            export = training.save_weights_external(name, ttl_seconds=EXPORT_TTL_SECONDS).result()
        except APIStatusError as err:
            if _route_absent(err.status_code or 0, err.body):
                raise DownloadError(
                    f"cannot download {path}: the server at {holder.base_url} serves neither "
                    "the archive route nor save_weights_external"
                ) from err
            raise
        export_path = export.path
        _download_files(holder, export_path, content, progress, budget, read_timeout)
    finally:
        _cleanup_export(holder, training.model_id, export_path)


def _cleanup_export(holder: Holder, model_id: str, export_path: str | None) -> None:
    import logging

    logger = logging.getLogger("tinkex")
    if export_path is not None:
        parsed = ParsedCheckpointTinkerPath.from_tinker_path(export_path)
        try:
            holder.run(
                holder.api.checkpoints.delete_checkpoint(
                    parsed.training_run_id, parsed.checkpoint_id
                ),
                timeout=_CLEANUP_TIMEOUT,
            )
        except Exception as err:
            logger.warning("could not delete the temporary export %s: %s", export_path, err)

    async def unload() -> None:
        handle = await holder.api.training.unload_model(model_id=model_id)
        await handle.result(timeout=_CLEANUP_TIMEOUT)

    try:
        holder.run(unload(), timeout=_CLEANUP_TIMEOUT + 5)
    except Exception as err:
        logger.info("could not unload the temporary model %s: %s", model_id, err)


# -- the working directory and placement -------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _work_prefix(name: str) -> str:
    return f".{name[:100]}."


def _remove_stale(parent: Path, name: str) -> None:
    """Remove working directories left by attempts whose process is gone (e.g. killed)."""
    prefix = _work_prefix(name)
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.name.endswith(_WORK_SUFFIX)):
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            try:
                pid = int((Path(entry.path) / _OWNER_FILE).read_text().strip())
            except (OSError, ValueError):
                pid = -1
            if pid == -1:  # no owner yet (being created?) or unreadable: only when old
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat(follow_symlinks=False).st_mtime > _STALE_AGE:
                        shutil.rmtree(entry.path, ignore_errors=True)
            elif pid != os.getpid() and (pid <= 0 or not _pid_alive(pid)):
                shutil.rmtree(entry.path, ignore_errors=True)


def _refuse_dangerous(out: Path) -> None:
    home = Path.home().absolute()
    cwd = Path.cwd().absolute()
    guarded = {Path(out.anchor), home, cwd, *home.parents, *cwd.parents}
    if out in guarded:
        raise DownloadError(
            f"refusing to replace {out}: it is the filesystem root, your home or working "
            "directory, or one of their parents; choose a dedicated output directory"
        )


def _os_error(err: OSError, where: Path) -> DownloadError:
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        return DownloadError(f"disk full while writing to {where}: {reason}")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DownloadError(f"cannot write to {where}: {reason}")
    return DownloadError(f"writing to {where} failed: {reason}")


def _place(content: Path, out: Path, work: Path, force: bool) -> None:
    if os.path.lexists(out):
        if not force:
            raise OutputExistsError(f"{out} exists; pass force=True to replace it")
        previous = work / "previous"
        os.rename(out, previous)
        try:
            os.rename(content, out)
        except BaseException:
            os.rename(previous, out)
            raise
    else:
        os.rename(content, out)


def download_checkpoint(
    holder: Holder,
    tinker_path: str,
    output_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: bool | ProgressCallback = True,
    max_expanded_bytes: int | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> Path:
    """Download ``tinker_path`` into ``output_dir`` (see :meth:`RestClient.download_checkpoint`)."""
    try:
        parsed = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
    except ValueError as err:
        raise InvalidTinkerPathError(f"cannot download: {err}") from err
    limit = DEFAULT_MAX_EXPANDED_BYTES if max_expanded_bytes is None else max_expanded_bytes
    if limit <= 0:
        raise ValueError(f"max_expanded_bytes must be positive, got {max_expanded_bytes!r}")
    if read_timeout <= 0:
        raise ValueError(f"read_timeout must be positive, got {read_timeout!r}")
    out = Path(os.path.abspath(Path(output_dir).expanduser()))
    if os.path.lexists(out):
        if not force:
            raise OutputExistsError(f"{out} exists; pass force=True to replace it")
        _refuse_dangerous(out)
    parent = out.parent
    created = _make_parents(parent)
    done = False
    try:
        if not os.access(parent, os.W_OK | os.X_OK):
            raise DownloadError(f"cannot write to {parent}: permission denied")
        _remove_stale(parent, out.name)
        try:
            work = Path(
                tempfile.mkdtemp(prefix=_work_prefix(out.name), suffix=_WORK_SUFFIX, dir=parent)
            )
        except OSError as err:
            raise _os_error(err, parent) from err
        _download_into(holder, parsed, work, out, force, progress, limit, read_timeout)
        done = True
    finally:
        if not done:
            for directory in reversed(created):  # the parents this call made, if still empty
                with contextlib.suppress(OSError):
                    directory.rmdir()
    return out


def _make_parents(parent: Path) -> list[Path]:
    """Create ``parent`` and its missing ancestors; the ones created, outermost first."""
    missing: list[Path] = []
    for directory in [parent, *parent.parents]:
        if os.path.lexists(directory):
            break
        missing.append(directory)
    missing.reverse()
    created: list[Path] = []
    for directory in missing:
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # made meanwhile by someone else: not ours to remove
        except OSError as err:
            for made in reversed(created):
                with contextlib.suppress(OSError):
                    made.rmdir()
            raise _os_error(err, directory) from err
        created.append(directory)
    return created


def _download_into(
    holder: Holder,
    parsed: ParsedCheckpointTinkerPath,
    work: Path,
    out: Path,
    force: bool,
    progress: bool | ProgressCallback,
    limit: int,
    read_timeout: float,
) -> None:
    parent = out.parent
    tinker_path = parsed.tinker_path
    bar = _Progress(progress)
    try:
        (work / _OWNER_FILE).write_text(str(os.getpid()))
        content = work / "content"
        content.mkdir()
        budget = [limit]
        if parsed.checkpoint_type == "external":
            _download_files(holder, tinker_path, content, bar, budget, read_timeout)
        else:
            _download_checkpoint(holder, parsed, work, content, bar, budget, read_timeout)
        _place(content, out, work, force)
    except OSError as err:
        raise _os_error(err, parent) from err
    finally:
        bar.close()
        shutil.rmtree(work, ignore_errors=True)


def _download_checkpoint(
    holder: Holder,
    parsed: ParsedCheckpointTinkerPath,
    work: Path,
    content: Path,
    progress: _Progress,
    budget: list[int],
    read_timeout: float,
) -> None:
    path = parsed.tinker_path
    probe = _run(holder, _probe_archive(holder, parsed, read_timeout))
    if probe.url is not None:
        archive = work / "archive"
        limit = budget[0]
        # The archive may be a little larger than what it expands to (headers, no compression).
        budget[0] = limit + limit // 16 + (1 << 20)
        _run(
            holder,
            _fetch(
                holder,
                probe.url,
                archive,
                progress,
                name=path.rsplit("/", 1)[-1],
                what=f"the archive of {path}",
                budget=budget,
                read_timeout=read_timeout,
            ),
        )
        extract_archive(archive, content, max_expanded_bytes=limit)
        archive.unlink()
        return
    if probe.not_found is not None:
        raise CheckpointNotFoundError(f"checkpoint {path} not found: {probe.not_found}")
    if parsed.checkpoint_type == "sampler":
        raise DownloadError(
            f"cannot download {path}: this server has no archive route, and its export route "
            "(save_weights_external) exports training state only, not sampler_weights/ "
            "checkpoints; download the matching tinker://<run>/weights/<name> checkpoint instead"
        )
    _export_and_download(holder, path, content, progress, budget, read_timeout)
