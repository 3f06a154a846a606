"""Archive bombs (issue #10, finding 6): by default an archive may expand to 100 times its own
size (at least 1 MiB, at most 20 GiB), counted on the sizes its members declare, so a small
archive of zeros or a sparse member declaring gigabytes is refused before anything is written;
``max_expanded_bytes`` lets a legitimate one through."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

import tinkex as tinker
from tests.download.conftest import RUN, make_tar, no_leftovers, snapshot, tree
from tests.fake_tinker import FakeTinker
from tinkex._download import (
    DEFAULT_MAX_EXPANDED_BYTES,
    UnsafeArchiveError,
    default_expansion_limit,
    extract_archive,
)

PATH = f"tinker://{RUN}/weights/bomb"
GIB = 1024**3


def _zeros_tar_gz(size: int) -> bytes:
    """A tar.gz whose one member holds ``size`` zero bytes (it compresses about 1000:1)."""
    return gzip.compress(make_tar([("zeros.bin", bytes(size))]), 9)


def sparse_tar(name: str, real: int) -> bytes:
    """A GNU sparse tar: one 512-byte data block at the end of a member of ``real`` bytes."""
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = tarfile.GNUTYPE_SPARSE, 512, 0o644
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    header[386:398] = b"%011o\0" % (real - 512)  # the one sparse map entry: offset ...
    header[398:410] = b"%011o\0" % 512  # ... and length of its data
    header[482] = 0  # no extended sparse headers
    header[483:495] = b"%011o\0" % real  # the expanded size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)  # the header checksum
    return bytes(header) + b"x" * 512 + bytes(1024)


def test_the_default_limit() -> None:
    assert default_expansion_limit(0) == 1 << 20
    assert default_expansion_limit(3 * 1024**2) == 300 * 1024**2
    assert default_expansion_limit(1 * GIB) == 20 * GIB == DEFAULT_MAX_EXPANDED_BYTES


def test_a_small_compressible_archive_over_the_ratio_is_refused(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, out: Path
) -> None:
    data = _zeros_tar_gz(16 * 1024**2)
    assert len(data) * 100 < 16 * 1024**2  # over the ratio, far below any absolute cap
    server.archive_mode = "redirect"
    server.archives[PATH] = data
    before = snapshot(sandbox.parent)
    with pytest.raises(UnsafeArchiveError, match="100x") as info:
        rest.download_checkpoint(PATH, out, progress=False)
    assert "max_expanded_bytes" in str(info.value)
    assert "--max-expanded" in str(info.value)
    assert snapshot(sandbox.parent) == before
    no_leftovers(out.parent)


def test_the_override_lets_a_legitimate_one_through(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.archive_mode = "redirect"
    server.archives[PATH] = _zeros_tar_gz(16 * 1024**2)
    rest.download_checkpoint(PATH, out, progress=False, max_expanded_bytes=32 * 1024**2)
    assert tree(out) == {"zeros.bin": bytes(16 * 1024**2)}


@pytest.mark.parametrize("compress", [False, True])
def test_a_sparse_tar_is_refused_before_writing(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, out: Path, compress: bool
) -> None:
    data = sparse_tar("model.safetensors", 2 * GIB)
    if compress:
        data = gzip.compress(data, 9)
    assert len(data) < 4096
    server.archive_mode = "json"
    server.archives[PATH] = data
    before = snapshot(sandbox.parent)
    with pytest.raises(UnsafeArchiveError, match="more than"):
        rest.download_checkpoint(PATH, out, progress=False)
    assert snapshot(sandbox.parent) == before
    no_leftovers(out.parent)


def test_a_sparse_member_counts_with_its_expanded_size(tmp_path: Path) -> None:
    """Even with a large explicit limit, the declared (expanded) size is what is counted."""
    archive = tmp_path / "sparse.tar"
    archive.write_bytes(sparse_tar("model.safetensors", 2 * GIB))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match=str(GIB)):
        extract_archive(archive, dest, max_expanded_bytes=GIB)
    assert list(dest.iterdir()) == []


def test_a_bomb_after_the_tar_end_marker_is_stopped(tmp_path: Path) -> None:
    """Zeros hidden in the gzip stream after the tar's end: not extracted, but decompressed by
    the integrity check; the decompressed stream is bounded too."""
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz:
        gz.write(make_tar([("a.bin", b"a")]))
        for _ in range(256):
            gz.write(bytes(1 << 20))
    archive = tmp_path / "trailing.tar.gz"
    archive.write_bytes(raw.getvalue())
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="decompressed stream"):
        extract_archive(archive, dest)
    assert list(dest.iterdir()) == []


def test_an_oversized_header_is_refused(tmp_path: Path) -> None:
    """tarfile reads a pax header into memory whole: one of 64 MiB is refused, not read."""
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, 64 << 20
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz:
        gz.write(info.tobuf(tarfile.USTAR_FORMAT))
        for _ in range(64):
            gz.write(b"9" * (1 << 20))
    archive = tmp_path / "pax.tar.gz"
    archive.write_bytes(raw.getvalue())
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="header"):
        extract_archive(archive, dest, max_expanded_bytes=1 << 30)
    assert list(dest.iterdir()) == []
