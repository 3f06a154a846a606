"""Checkpoint download: stream a checkpoint to disk, check it, extract it safely, place it
atomically. One module per stage: :mod:`.fetch` (the archive route, and streaming a URL to a
file), :mod:`.export` (the export route), :mod:`.verify` (members and stream integrity),
:mod:`.extract`, :mod:`.place` (the working directory, the record, replacing an output), with
:mod:`.checkpoint` running them in order; :mod:`.errors`, :mod:`.progress` and :mod:`.files`
(writing new files) serve them all.

Two routes, chosen per server and per checkpoint kind:

* the archive route of older servers and of skyrl-tx: ``GET .../checkpoints/{id}/archive``
  answers a redirect (``302`` + ``Location``; skyrl-tx) or ``{"url": ...}`` (JSON) or the archive
  itself; the archive (tar, tar.gz/bz2/xz or zip) is streamed to a file, its integrity (CRCs,
  lengths) and every member checked, and extracted (:mod:`.verify`, :mod:`.extract`). The id is tried
  with its kind (``weights/name``) and then bare (``name``, as skyrl-tx's route takes a single
  path segment) (:mod:`.fetch`).
* the export route of newer servers (wire protocol 0.38, section 7.10): per-file signed URLs,
  a ``weights/`` path exported first (:mod:`.export`). ``sampler_weights/``
  checkpoints cannot be exported: refused.

Everything lands in a hidden working directory next to ``output_dir``; only a complete result,
with its record ``.tinkex-download.json``, is renamed into place (:mod:`.place`). A
failure (a dropped connection, a full disk, a refused or damaged archive) leaves nothing
behind, so the next attempt starts clean. Memory stays constant: bodies are written in 1 MiB
chunks and archives are read member by member.

Sizes: an archive may expand to ``min(max(100 x its size, 1 MiB), 20 GiB)`` and an export to
20 GiB unless ``max_expanded_bytes`` says otherwise.
"""

from __future__ import annotations

from .checkpoint import DEFAULT_READ_TIMEOUT, download_checkpoint
from .errors import (
    CheckpointNotFoundError,
    CorruptArchiveError,
    DownloadError,
    InvalidTinkerPathError,
    OutputExistsError,
    UnsafeArchiveError,
)
from .extract import (
    DEFAULT_MAX_EXPANDED_BYTES,
    DEFAULT_MAX_EXPANSION_RATIO,
    MIN_EXPANSION_ALLOWANCE,
    default_expansion_limit,
    extract_archive,
)
from .place import MARKER_NAME
from .progress import ProgressCallback
from .verify import safe_relative_path

__all__ = [
    "DEFAULT_MAX_EXPANDED_BYTES",
    "DEFAULT_MAX_EXPANSION_RATIO",
    "DEFAULT_READ_TIMEOUT",
    "MARKER_NAME",
    "MIN_EXPANSION_ALLOWANCE",
    "CheckpointNotFoundError",
    "CorruptArchiveError",
    "DownloadError",
    "InvalidTinkerPathError",
    "OutputExistsError",
    "ProgressCallback",
    "UnsafeArchiveError",
    "default_expansion_limit",
    "download_checkpoint",
    "extract_archive",
    "safe_relative_path",
]
