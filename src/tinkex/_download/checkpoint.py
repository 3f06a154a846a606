"""The download as a whole: the output checked, a working directory made, the checkpoint fetched
by the route the server serves, checked, extracted, recorded and placed (see the package's
docstring for the routes and the guarantees)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..types import ParsedCheckpointTinkerPath
from .errors import (
    CheckpointNotFoundError,
    CorruptArchiveError,
    DownloadError,
    InvalidTinkerPathError,
    OutputExistsError,
)
from .export import download_files, export_and_download
from .extract import (
    DEFAULT_MAX_EXPANDED_BYTES,
    extract,
)
from .fetch import fetch, probe_archive, run
from .files import Transfer
from .place import (
    OWNER_FILE,
    WORK_SUFFIX,
    check_replaceable,
    make_parents,
    os_error,
    place,
    remove_stale,
    work_prefix,
    write_marker,
)
from .progress import Progress, ProgressCallback

if TYPE_CHECKING:
    from .._holder import Holder

__all__ = ["DEFAULT_READ_TIMEOUT", "download_checkpoint"]

#: Seconds without a byte from the server before a download fails.
DEFAULT_READ_TIMEOUT = 60.0


def _write_chunk(handle: IO[bytes], data: bytes) -> None:
    """The chunk writer of downloads (tests replace it to simulate a full disk)."""
    handle.write(data)


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
    if max_expanded_bytes is not None and max_expanded_bytes <= 0:
        raise ValueError(f"max_expanded_bytes must be positive, got {max_expanded_bytes!r}")
    if read_timeout <= 0:
        raise ValueError(f"read_timeout must be positive, got {read_timeout!r}")
    out = Path(os.path.abspath(Path(output_dir).expanduser()))
    if os.path.lexists(out):
        if not force:
            raise OutputExistsError(f"{out} exists; pass force=True to replace it")
        check_replaceable(out, parsed.tinker_path)  # before any request
    parent = out.parent
    created = make_parents(parent)
    done = False
    try:
        if not os.access(parent, os.W_OK | os.X_OK):
            raise DownloadError(f"cannot write to {parent}: permission denied")
        remove_stale(parent, out.name)
        try:
            work = Path(
                tempfile.mkdtemp(prefix=work_prefix(out.name), suffix=WORK_SUFFIX, dir=parent)
            )
        except OSError as err:
            raise os_error(err, parent) from err
        bar = Progress(progress)
        try:
            transfer = Transfer(bar, [0], read_timeout, _write_chunk)
            _download_into(holder, parsed, work, out, force, transfer, max_expanded_bytes)
        finally:
            bar.close()
        done = True
    finally:
        if not done:
            for directory in reversed(created):  # the parents this call made, if still empty
                with contextlib.suppress(OSError):
                    directory.rmdir()
    return out


def _download_into(
    holder: Holder,
    parsed: ParsedCheckpointTinkerPath,
    work: Path,
    out: Path,
    force: bool,
    transfer: Transfer,
    limit: int | None,
) -> None:
    try:
        (work / OWNER_FILE).write_text(str(os.getpid()))
        content = work / "content"
        content.mkdir()
        transfer.budget[0] = DEFAULT_MAX_EXPANDED_BYTES if limit is None else limit
        if parsed.checkpoint_type == "external":
            download_files(holder, parsed.tinker_path, content, transfer)
        else:
            _download_checkpoint(holder, parsed, work, content, transfer, limit)
        write_marker(content, parsed.tinker_path)
        place(content, out, work, force, parsed.tinker_path)
    except OSError as err:
        raise os_error(err, out.parent) from err
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _download_checkpoint(
    holder: Holder,
    parsed: ParsedCheckpointTinkerPath,
    work: Path,
    content: Path,
    transfer: Transfer,
    limit: int | None,
) -> None:
    path = parsed.tinker_path
    probe = run(holder, probe_archive(holder, parsed, transfer.read_timeout))
    if probe.url is not None:
        archive = work / "archive"
        cap = transfer.budget[0]
        # The archive may be a little larger than what it expands to (headers, no compression).
        transfer.budget[0] = cap + cap // 16 + (1 << 20)
        what = f"the archive of {path}"
        name = path.rsplit("/", 1)[-1]
        run(holder, fetch(holder, probe.url, archive, transfer, name=name, what=what))
        try:
            extract(archive, content, limit, transfer.write)
        except CorruptArchiveError as err:
            raise CorruptArchiveError(f"cannot download {path}: {err}") from err
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
    export_and_download(holder, path, content, transfer)
