"""The errors of checkpoint downloads: one branch of the SDK's error tree (under ``SDKError``)."""

from __future__ import annotations

from sdkgen.runtime import SDKError

__all__ = [
    "CheckpointNotFoundError",
    "CorruptArchiveError",
    "DownloadError",
    "InvalidTinkerPathError",
    "OutputExistsError",
    "UnsafeArchiveError",
]


class DownloadError(SDKError):
    """A checkpoint could not be downloaded; the message says which and why."""


class InvalidTinkerPathError(DownloadError, ValueError):
    """The ``tinker://`` path does not parse."""


class OutputExistsError(DownloadError):
    """The output directory exists and may not be replaced: ``force`` was not given, or it is
    neither empty nor a previous tinkex download of the same checkpoint (then the message says
    what it is instead). Nothing was deleted."""


class CheckpointNotFoundError(DownloadError):
    """The server does not have the checkpoint."""


class UnsafeArchiveError(DownloadError):
    """The archive (or the file list) would write outside the output directory, holds links,
    devices or fifos it must not, or expands beyond the size limit. Nothing was placed."""


class CorruptArchiveError(DownloadError):
    """The archive fails its integrity check (a gzip/xz/bz2 or zip CRC, a length, a cut
    stream): it was damaged in transit or in storage. Nothing was placed; a retry may help."""
