"""Where a download lands: the hidden working directory next to the output, the record of a
completed download (``.tinkex-download.json``), and the rules for replacing an existing output.

``force`` replaces only an empty directory or a complete earlier tinkex download of the same
checkpoint that holds nothing tinkex did not write (the record lists every entry); never a
link, a file, a system directory, the home or working directory, Python's installation or one
of their parents. Anything else is refused with the reason, and nothing is deleted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import DownloadError, OutputExistsError, UnsafeArchiveError
from .files import new_file

__all__ = [
    "MARKER_NAME",
    "OWNER_FILE",
    "WORK_SUFFIX",
    "check_replaceable",
    "make_parents",
    "os_error",
    "place",
    "refuse_system",
    "remove_stale",
    "work_prefix",
    "write_marker",
]

#: The record tinkex writes into every completed download (and reads before ``force``).
MARKER_NAME = ".tinkex-download.json"
_MARKER_FORMAT = 1
_MAX_MARKER_BYTES = 4 << 20
WORK_SUFFIX = ".tinkex-partial"
OWNER_FILE = "owner.pid"
_STALE_AGE = 3600.0
#: Trees the operating system owns: nothing in them is ever replaced.
_SYSTEM_TREES = tuple(
    Path(p)
    for p in [
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/proc",
        "/sbin",
        "/sys",
        "/usr",
    ]
)


# -- the working directory ---------------------------------------------------------------------


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


def work_prefix(name: str) -> str:
    return f".{name[:100]}."


def remove_stale(parent: Path, name: str) -> None:
    """Remove working directories left by attempts whose process is gone (e.g. killed)."""
    prefix = work_prefix(name)
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.name.endswith(WORK_SUFFIX)):
                continue
            if not entry.is_dir(follow_symlinks=False):
                continue
            try:
                pid = int((Path(entry.path) / OWNER_FILE).read_text().strip())
            except (OSError, ValueError):
                pid = -1
            if pid == -1:  # no owner yet (being created?) or unreadable: only when old
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat(follow_symlinks=False).st_mtime > _STALE_AGE:
                        shutil.rmtree(entry.path, ignore_errors=True)
            elif pid != os.getpid() and (pid <= 0 or not _pid_alive(pid)):
                shutil.rmtree(entry.path, ignore_errors=True)


# -- the record of a download ------------------------------------------------------------------


@dataclass(frozen=True)
class _Marker:
    tinker_path: str
    entries: frozenset[str]


def _listing(root: Path) -> list[str]:
    """Every entry under ``root`` (links not followed), as relative POSIX paths."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            found.append(Path(dirpath, name).relative_to(root).as_posix())
    return sorted(found)


def write_marker(content: Path, tinker_path: str) -> None:
    """Record in the complete download ``content`` which checkpoint it is and what it holds."""
    marker = content / MARKER_NAME
    if os.path.lexists(marker):
        raise UnsafeArchiveError(
            f"the checkpoint holds an entry named {MARKER_NAME}, which tinkex reserves for its "
            "record of a download; refused"
        )
    record = {
        "tinkex_download": _MARKER_FORMAT,
        "tinker_path": tinker_path,
        "completed": datetime.now(UTC).isoformat(timespec="seconds"),
        "entries": _listing(content),
    }
    with new_file(marker, 0o644) as handle:
        handle.write(json.dumps(record, indent=1).encode())


def _read_marker(out: Path) -> _Marker | None:
    """The record in ``out``, or ``None`` when it is absent, a link, too large or malformed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(out / MARKER_NAME, flags)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(_MAX_MARKER_BYTES + 1)
    try:
        record = json.loads(data) if len(data) <= _MAX_MARKER_BYTES else None
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("tinkex_download") != _MARKER_FORMAT:
        return None
    path, entries = record.get("tinker_path"), record.get("entries")
    if not isinstance(path, str) or not isinstance(entries, list):
        return None
    if not all(isinstance(e, str) for e in entries):
        return None
    return _Marker(path, frozenset(entries))


def _first_unlisted(out: Path, listed: frozenset[str]) -> str | None:
    for dirpath, dirnames, filenames in os.walk(out):
        for name in [*dirnames, *filenames]:
            relative = Path(dirpath, name).relative_to(out).as_posix()
            if relative != MARKER_NAME and relative not in listed:
                return relative
    return None


# -- replacing an existing output --------------------------------------------------------------


def refuse_system(out: Path) -> None:
    """Raise :class:`OutputExistsError` if ``out`` (or its real path) is a directory that is
    never replaced: the filesystem root or a directory directly under it, a mount point, a
    directory inside the system trees (``/usr``, ``/etc``...), the home or working directory,
    Python's installation, or one of their parents.

    Args:
        out: the absolute output path.

    Example::

        refuse_system(Path("/usr"))  # raises OutputExistsError
    """
    home, cwd = Path.home().absolute(), Path.cwd().absolute()
    guarded = {home, cwd, *home.parents, *cwd.parents}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        installed = Path(prefix).absolute()
        guarded |= {installed, *installed.parents}
    for candidate in dict.fromkeys((out, Path(os.path.realpath(out)))):
        reason = None
        if candidate.parent == candidate or candidate.parent == Path(candidate.anchor):
            reason = "the filesystem root or a directory directly under it"
        elif candidate in guarded:
            reason = "your home or working directory, Python's installation, or a parent of one"
        elif os.name == "posix" and any(
            candidate == tree or tree in candidate.parents for tree in _SYSTEM_TREES
        ):
            reason = "a system directory"
        elif os.path.ismount(candidate):
            reason = "a mount point"
        if reason is not None:
            raise OutputExistsError(
                f"refusing to replace {out}: it is {reason}; choose a dedicated output directory"
            )


def check_replaceable(out: Path, tinker_path: str) -> None:
    """Raise :class:`OutputExistsError` naming ``out`` and why, unless ``force`` may replace
    it: an empty directory, or the complete tinkex download of ``tinker_path`` holding nothing
    but what that download wrote (see the module docstring).

    Args:
        out: the existing absolute output path.
        tinker_path: the checkpoint being downloaded.

    Example::

        check_replaceable(Path("/data/ckpt"), "tinker://run-1/weights/final")
    """
    refuse_system(out)

    def refused(why: str) -> OutputExistsError:
        return OutputExistsError(
            f"refusing to replace {out}: {why}; nothing was deleted (remove it yourself or "
            "choose another output directory)"
        )

    if os.path.islink(out):
        raise refused("it is a symbolic link, not a directory tinkex downloaded into")
    if not os.path.isdir(out):
        raise refused("it is not a directory")
    with os.scandir(out) as entries:
        if next(entries, None) is None:
            return  # empty
    marker = _read_marker(out)
    if marker is None:
        raise refused(f"it is not empty and is not a tinkex download (no valid {MARKER_NAME})")
    if marker.tinker_path != tinker_path:
        raise refused(f"it holds the tinkex download of {marker.tinker_path}, not {tinker_path}")
    extra = _first_unlisted(out, marker.entries)
    if extra is not None:
        raise refused(f"it holds {extra!r}, which the download of {tinker_path} did not write")


def place(content: Path, out: Path, work: Path, force: bool, tinker_path: str) -> None:
    """Rename the complete download ``content`` to ``out``; an existing ``out`` is checked
    again (it may have changed during the download) and moved into ``work`` first."""
    if os.path.lexists(out):
        if not force:
            raise OutputExistsError(f"{out} exists; pass force=True to replace it")
        check_replaceable(out, tinker_path)
        previous = work / "previous"
        os.rename(out, previous)
        try:
            os.rename(content, out)
        except BaseException:
            os.rename(previous, out)
            raise
    else:
        os.rename(content, out)


# -- errors and parents ------------------------------------------------------------------------


def os_error(err: OSError, where: Path) -> DownloadError:
    reason = err.strerror or str(err)
    if err.errno == errno.ENOSPC:
        return DownloadError(f"disk full while writing to {where}: {reason}")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DownloadError(f"cannot write to {where}: {reason}")
    return DownloadError(f"writing to {where} failed: {reason}")


def make_parents(parent: Path) -> list[Path]:
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
            raise os_error(err, directory) from err
        created.append(directory)
    return created
