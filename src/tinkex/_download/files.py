"""Writing downloaded and extracted bytes: new files only, never through a link, in chunks.

The chunk writer is passed down from :func:`.checkpoint.download_checkpoint` (tests replace
``tinkex._download.checkpoint._write_chunk`` to simulate a full disk).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .progress import Progress

__all__ = ["CHUNK_SIZE", "Transfer", "Writer", "new_file", "write_chunk"]

CHUNK_SIZE = 1 << 20

#: ``write(handle, data)``: writes one chunk to an open file.
Writer = Callable[[IO[bytes], bytes], None]


def write_chunk(handle: IO[bytes], data: bytes) -> None:
    """The default :data:`Writer`."""
    handle.write(data)


@dataclass
class Transfer:
    """What the files of one download share: the progress display, the byte budget left (one
    list, decremented by every writer), the read timeout and the chunk writer."""

    progress: Progress
    budget: list[int]
    read_timeout: float
    write: Writer


def new_file(target: Path, mode: int) -> IO[bytes]:
    """Create ``target`` for writing; fails if anything (a file, a link) is already there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    perms = 0o777 if mode & 0o111 else 0o666
    fd = os.open(target, flags, perms)
    return os.fdopen(fd, "wb")
