"""What is checked before (and while) an archive is extracted: its members, and the integrity of
its stream.

The members: paths that stay inside the target, only files, directories and links that stay
inside, no duplicates, and a size limit counted on the sizes members declare (a sparse member
counts with its full expanded size). The stream: the decompressor's checks (CRC, length, a cut
stream) as :class:`CorruptArchiveError`, a bound on the decompressed bytes and on any single
header (:class:`CheckedStream`), and each zip member's CRC as it is read (:class:`CheckedMember`).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import tarfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any, Literal, Protocol

from .errors import CorruptArchiveError, UnsafeArchiveError
from .files import CHUNK_SIZE

__all__ = [
    "DAMAGE",
    "MAX_MEMBERS",
    "MIN_HEADER_ROOM",
    "CheckedMember",
    "CheckedStream",
    "Entry",
    "Limit",
    "RawStream",
    "Source",
    "damaged",
    "decompressor",
    "inside",
    "plan_members",
    "safe_relative_path",
    "tar_entries",
    "zip_entries",
]

#: More members than this is not a checkpoint (they hold a few files); refused.
MAX_MEMBERS = 100_000
_MAX_LINK_TARGET = 4096


@dataclass(frozen=True)
class Limit:
    """The most bytes an archive may expand to, and where that number comes from (for the
    message when it is exceeded)."""

    bytes: int
    source: str

    def refuse(self, where: str) -> UnsafeArchiveError:
        return UnsafeArchiveError(
            f"the archive expands to more than {self.bytes} bytes ({where}); the limit is "
            f"{self.source}; refused (raise max_expanded_bytes, or --max-expanded in the CLI, "
            "if this checkpoint is really that large)"
        )


# -- paths -------------------------------------------------------------------------------------


def _has_drive(text: str) -> bool:
    return len(text) >= 2 and text[1] == ":" and text[0].isalpha()


def safe_relative_path(name: str, *, what: str = "path") -> PurePosixPath | None:
    """``name`` as a relative path that stays inside its root (``None`` for the root itself).

    Backslashes count as separators. Absolute paths, drive letters, ``..`` components and NUL
    bytes raise :class:`UnsafeArchiveError` naming ``what``.

    Args:
        name: the path as the archive or the server spells it.
        what: how the error names it, e.g. ``"archive member 'a/b'"``.

    Example::

        safe_relative_path("./a//b.txt")  # PurePosixPath("a/b.txt")
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


def inside(root: str, candidate: str) -> bool:
    """Whether the real path ``candidate`` is ``root`` or below it."""
    return candidate == root or candidate.startswith(root.rstrip(os.sep) + os.sep)


# -- archive members ---------------------------------------------------------------------------

Kind = Literal["file", "dir", "symlink", "hardlink"]


@dataclass
class Entry:
    path: PurePosixPath | None
    kind: Kind
    size: int
    link: str
    mode: int
    mtime: float | None
    source: Any  # tarfile.TarInfo or zipfile.ZipInfo


class _Counter:
    """The members seen and their declared expanded bytes so far, refused past the limits."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.members = 0
        self.total = 0

    def add(self, size: int, what: str) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise UnsafeArchiveError(
                f"the archive has more than {MAX_MEMBERS} members (at {what}); refused"
            )
        self.total += size
        if self.total > self.limit.bytes:
            raise self.limit.refuse(f"at {what}")


def tar_entries(tar: tarfile.TarFile, limit: Limit) -> Iterator[Entry]:
    counter = _Counter(limit)
    for info in tar:
        what = f"archive member {info.name!r}"
        if info.ischr() or info.isblk():
            raise UnsafeArchiveError(f"{what} is a device file; refused")
        if info.isfifo():
            raise UnsafeArchiveError(f"{what} is a fifo; refused")
        kind: Kind
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
        counter.add(size, what)
        yield Entry(path, kind, size, info.linkname, info.mode, float(info.mtime), info)


def zip_entries(archive: zipfile.ZipFile, limit: Limit) -> Iterator[Entry]:
    counter = _Counter(limit)
    for info in archive.infolist():
        what = f"archive member {info.filename!r}"
        if info.flag_bits & 0x1:
            raise UnsafeArchiveError(f"{what} is encrypted; refused")
        mode = info.external_attr >> 16
        fmt = stat.S_IFMT(mode)
        link = ""
        kind: Kind
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
        counter.add(size, what)
        try:
            mtime: float | None = time.mktime((*info.date_time, 0, 0, -1))
        except (OverflowError, ValueError):
            mtime = None
        yield Entry(path, kind, size, link, mode & 0o7777 or 0o644, mtime, info)


def _resolve_symlink(entry: Entry, symlinks: set[PurePosixPath]) -> None:
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


def plan_members(entries: list[Entry]) -> list[Entry]:
    """Check the members as a whole; the ones to extract, in order."""
    symlinks = {e.path for e in entries if e.kind == "symlink" and e.path is not None}
    seen: dict[PurePosixPath, Kind] = {}
    plan: list[Entry] = []
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


# -- the integrity of the stream ---------------------------------------------------------------

#: ``tarfile`` reads a pax or GNU long-name header into memory whole: larger ones are hostile.
_MAX_HEADER_READ = 16 << 20
#: Room in the decompressed tar stream for headers and padding beyond the members' data.
MIN_HEADER_ROOM = 16 << 20

_GZIP, _BZIP2, _XZ = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00"
#: What the decompressors raise for damaged input (BadGzipFile and bz2's errors are OSErrors).
DAMAGE = (OSError, EOFError, lzma.LZMAError, zlib.error, zipfile.BadZipFile)


class Source(Protocol):
    """What extraction reads a member from."""

    def read(self, size: int, /) -> bytes: ...

    def close(self) -> None: ...


class RawStream(Source, Protocol):
    """A decompressed (or plain) archive stream."""

    def seek(self, offset: int, /) -> int: ...


def damaged(what: str, err: BaseException) -> CorruptArchiveError:
    reason = str(err) or type(err).__name__
    return CorruptArchiveError(
        f"{what} fails its integrity check ({reason}): it was damaged in transit or in "
        "storage; nothing was placed, try the download again"
    )


class CheckedStream:
    """The decompressed bytes of a tar archive, for ``tarfile`` (read, seek, tell).

    Reading stops with :class:`UnsafeArchiveError` past ``cap`` bytes or on a single read
    above 16 MiB, and turns the decompressor's complaints (CRC, length, cut stream, trailing
    garbage) into :class:`CorruptArchiveError`. :meth:`read_to_end` runs the final checks.
    """

    def __init__(self, raw: RawStream, cap: int, limit: Limit, *, compressed: bool) -> None:
        self._raw = raw
        self._cap = cap
        self._limit = limit
        self._compressed = compressed
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > _MAX_HEADER_READ:
            raise UnsafeArchiveError(
                f"the archive holds a header or block of more than {_MAX_HEADER_READ} bytes; "
                "refused"
            )
        try:
            data = self._raw.read(size)
        except DAMAGE as err:
            raise damaged("the archive", err) from err
        self._pos += len(data)
        if self._pos > self._cap:
            raise self._limit.refuse(
                f"its decompressed stream passes {self._cap} bytes, headers included"
            )
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET:
            raise OSError("only absolute seeks are supported")
        if offset < self._pos or not self._compressed:
            # Back to a member already checked (the second pass: the decompressor restarts),
            # or a plain tar, which has no check to run on the bytes skipped.
            if offset > self._cap:
                raise self._limit.refuse(f"its stream passes {self._cap} bytes, headers included")
            try:
                self._raw.seek(offset)
            except DAMAGE as err:
                raise damaged("the archive", err) from err
            self._pos = offset
        while self._pos < offset:  # forward: read and drop, counted like any read
            if not self.read(min(CHUNK_SIZE, offset - self._pos)):
                break
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read_to_end(self) -> None:
        """Read what ``tarfile`` left (end marker, padding, the compressor's trailer)."""
        while self.read(CHUNK_SIZE):
            pass


def decompressor(handle: IO[bytes]) -> RawStream:
    head = handle.read(6)
    handle.seek(0)
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=handle, mode="rb")
    if head.startswith(_BZIP2):
        return bz2.BZ2File(handle)
    if head.startswith(_XZ):
        return lzma.LZMAFile(handle)
    return handle


class CheckedMember:
    """A zip member being read: a failed CRC (or a cut stream) is a :class:`CorruptArchiveError`."""

    def __init__(self, inner: IO[bytes], name: str) -> None:
        self._inner = inner
        self._name = name

    def read(self, size: int) -> bytes:
        try:
            return self._inner.read(size)
        except DAMAGE as err:
            raise damaged(f"archive member {self._name!r}", err) from err

    def close(self) -> None:
        self._inner.close()
