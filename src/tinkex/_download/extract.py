"""Safe extraction of a downloaded archive (tar, tar.gz/bz2/xz, zip) into an empty directory.

Two passes over a tar. The first reads every header (checked by :mod:`.verify`, as is the stream) and
then the rest of the decompressed stream to its very end: ``tarfile`` stops at the tar end
marker, before the gzip trailer, so without this the CRC-32 and length of a ``.tar.gz`` (the
check of an xz or bz2 stream likewise) would never be compared and a damaged payload would be
extracted silently. Only an archive that passed both is extracted, in the second pass. A zip
has a CRC per member, compared as each member is read to its end during extraction (into the
hidden working directory, so a failure places nothing).

The decompressed stream is bounded too: beyond the size limit (plus room for headers) it is a
bomb, whatever the headers claim, and no single header may be larger than 16 MiB (``tarfile``
reads a pax header into memory whole).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import DownloadError, UnsafeArchiveError
from .files import CHUNK_SIZE, Writer, new_file, write_chunk
from .verify import (
    MIN_HEADER_ROOM,
    CheckedMember,
    CheckedStream,
    Entry,
    Limit,
    Source,
    decompressor,
    inside,
    plan_members,
    tar_entries,
    zip_entries,
)

__all__ = [
    "DEFAULT_MAX_EXPANDED_BYTES",
    "DEFAULT_MAX_EXPANSION_RATIO",
    "MIN_EXPANSION_ALLOWANCE",
    "default_expansion_limit",
    "extract",
    "extract_archive",
]

#: The most an archive (or an export) may expand to unless the caller says otherwise.
DEFAULT_MAX_EXPANDED_BYTES = 20 * 1024**3
#: ... and an archive may not expand to more than this many times its own size ...
DEFAULT_MAX_EXPANSION_RATIO = 100
#: ... except that this much is always allowed (a tiny archive of a small config is no bomb).
MIN_EXPANSION_ALLOWANCE = 1 << 20


Opener = Callable[[Entry], Source]


def default_expansion_limit(archive_size: int) -> int:
    """The default expanded-size limit of an archive of ``archive_size`` bytes.

    ``min(max(100 x archive_size, 1 MiB), 20 GiB)``: real checkpoints (weights compress little)
    stay far below 100x, while a small archive of zeros, a sparse member or a bomb does not.

    Args:
        archive_size: the size of the archive file in bytes.

    Example::

        default_expansion_limit(3 * 1024**2)  # 300 MiB
    """
    allowed = max(archive_size * DEFAULT_MAX_EXPANSION_RATIO, MIN_EXPANSION_ALLOWANCE)
    return min(allowed, DEFAULT_MAX_EXPANDED_BYTES)


def _limit_for(archive: Path, max_expanded_bytes: int | None) -> Limit:
    if max_expanded_bytes is not None:
        return Limit(max_expanded_bytes, f"max_expanded_bytes={max_expanded_bytes}")
    size = os.path.getsize(archive)
    limit = default_expansion_limit(size)
    if limit == DEFAULT_MAX_EXPANDED_BYTES:
        return Limit(limit, "the default of 20 GiB")
    return Limit(
        limit,
        f"the default of {DEFAULT_MAX_EXPANSION_RATIO}x the archive's {size} bytes "
        f"(at least {MIN_EXPANSION_ALLOWANCE}, at most 20 GiB)",
    )


def extract_archive(
    archive: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    max_expanded_bytes: int | None = None,
) -> None:
    """Extract a tar (plain, gz, bz2, xz) or zip archive into the existing empty directory
    ``destination``, after checking every member and the archive's integrity.

    Refused with :class:`UnsafeArchiveError`, before anything is written: absolute paths,
    ``..`` components, symlinks that are absolute, leave the target or pass through another
    symlink, hard links to anything but an earlier regular file, device files, fifos, duplicate
    members, more than 100,000 members, and a total expanded size (as the members declare it,
    sparse members at full size) above the limit. A tar's compressed stream is read to its end
    and its CRC and length checked before extraction; a zip member's CRC as it is extracted:
    a mismatch raises :class:`CorruptArchiveError`. Extraction writes with
    ``O_EXCL | O_NOFOLLOW``, checks each parent directory's real path, drops set-id bits, and
    stops if a member yields more bytes than it declared.

    Args:
        archive: the archive file.
        destination: an existing, empty directory.
        max_expanded_bytes: the most bytes the archive may expand to; ``None``: 100 times the
            archive's size, at least 1 MiB and at most 20 GiB (see
            :func:`default_expansion_limit`).

    Example::

        extract_archive("ckpt.tar.gz", "./ckpt", max_expanded_bytes=50 * 1024**3)
    """
    if max_expanded_bytes is not None and max_expanded_bytes <= 0:
        raise ValueError(f"max_expanded_bytes must be positive, got {max_expanded_bytes!r}")
    extract(Path(archive), Path(destination), max_expanded_bytes, write_chunk)


def extract(archive: Path, dest: Path, max_expanded_bytes: int | None, write: Writer) -> None:
    """:func:`extract_archive` with the chunk writer of the download."""
    limit = _limit_for(archive, max_expanded_bytes)
    try:
        with archive.open("rb") as handle:
            if handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06"):
                handle.seek(0)
                _extract_zip(handle, dest, limit, write)
            else:
                handle.seek(0)
                _extract_tar(handle, dest, limit, write)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise DownloadError(
            f"the downloaded file is not a valid tar or zip archive: {err}"
        ) from err


def _extract_zip(handle: IO[bytes], dest: Path, limit: Limit, write: Writer) -> None:
    with zipfile.ZipFile(handle) as zipped:
        plan = plan_members(list(zip_entries(zipped, limit)))
        _check_space(dest, plan)

        def opener(entry: Entry) -> Source:
            return CheckedMember(zipped.open(entry.source), str(entry.path))

        _extract(plan, dest, limit, opener, write)


def _extract_tar(handle: IO[bytes], dest: Path, limit: Limit, write: Writer) -> None:
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(contextlib.closing(decompressor(handle)))
        cap = limit.bytes + max(limit.bytes // 4, MIN_HEADER_ROOM)
        stream = CheckedStream(raw, cap, limit, compressed=raw is not handle)
        tar = stack.enter_context(tarfile.open(fileobj=stream, mode="r:"))  # type: ignore[call-overload]
        plan = plan_members(list(tar_entries(tar, limit)))
        stream.read_to_end()  # the CRC and length, before a byte is written
        _check_space(dest, plan)

        def opener(entry: Entry) -> Source:
            member: IO[bytes] | None = tar.extractfile(entry.source)
            if member is None:
                raise UnsafeArchiveError(f"archive member {entry.path} has no data")
            return member

        _extract(plan, dest, limit, opener, write)


def _check_space(dest: Path, plan: list[Entry]) -> None:
    needed = sum(e.size for e in plan if e.kind == "file")
    needed += sum(_size_of(plan, e.link) for e in plan if e.kind == "hardlink")
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DownloadError(
            f"not enough disk space to extract the archive into {dest.parent}: it needs "
            f"{needed} bytes, {free} are free"
        )


def _size_of(plan: list[Entry], link: str) -> int:
    for entry in plan:
        if entry.path is not None and str(entry.path) == link and entry.kind == "file":
            return entry.size
    return 0


def _extract(plan: list[Entry], dest: Path, limit: Limit, opener: Opener, write: Writer) -> None:
    root = os.path.realpath(dest)
    budget = [limit.bytes]
    for entry in plan:
        assert entry.path is not None
        target = dest.joinpath(*entry.path.parts)
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not inside(root, os.path.realpath(parent)):
            raise UnsafeArchiveError(f"archive member {str(entry.path)!r} escapes the target")
        if entry.kind == "dir":
            with contextlib.suppress(FileExistsError):
                target.mkdir(mode=0o755)
            if not inside(root, os.path.realpath(target)):
                raise UnsafeArchiveError(f"archive member {str(entry.path)!r} escapes the target")
        elif entry.kind == "symlink":
            os.symlink(entry.link, target)
        elif entry.kind == "hardlink":
            source = dest.joinpath(*PurePosixPath(entry.link).parts)
            with source.open("rb") as handle:
                _copy(handle, target, 0o644, None, budget, str(entry.path), limit, write)
        else:
            with contextlib.closing(opener(entry)) as handle:
                written = _copy(
                    handle, target, entry.mode, entry.size, budget, str(entry.path), limit, write
                )
            if written != entry.size:
                raise DownloadError(
                    f"archive member {str(entry.path)!r} is truncated ({written} of "
                    f"{entry.size} bytes)"
                )
            if entry.mtime is not None:
                with contextlib.suppress(OSError, OverflowError, ValueError):
                    os.utime(target, (entry.mtime, entry.mtime))


def _chunks(source: Source) -> Iterator[bytes]:
    while chunk := source.read(CHUNK_SIZE):
        yield chunk


def _copy(
    source: Source,
    target: Path,
    mode: int,
    declared: int | None,
    budget: list[int],
    name: str,
    limit: Limit,
    write: Writer,
) -> int:
    written = 0
    with new_file(target, mode) as out:
        for chunk in _chunks(source):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise limit.refuse(f"at {name!r}, beyond the size limit")
            if declared is not None and written > declared:
                raise UnsafeArchiveError(
                    f"archive member {name!r} holds more data than it declares; refused"
                )
            write(out, chunk)
    return written
