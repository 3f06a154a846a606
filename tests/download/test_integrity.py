"""Archive integrity (issue #10, finding 5): a checkpoint whose compressed payload was changed in
transit or on the storage side is refused with a typed error before anything is placed at the
destination. ``tarfile`` reads a ``.tar.gz`` only up to the tar end marker, so the gzip trailer
(CRC-32 and length) is checked by tinkex reading the stream to its end."""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
from pathlib import Path

import pytest

import tinkex as tinker
from tests.download.conftest import RUN, add_checkpoint, make_zip, no_leftovers, snapshot, tree
from tests.fake_tinker import FakeTinker
from tinkex._download import CorruptArchiveError, DownloadError, extract_archive

PATH = f"tinker://{RUN}/sampler_weights/final"


def _real_archive(server: FakeTinker) -> tuple[bytes, dict[str, bytes]]:
    """A checkpoint archive as skyrl-tx packs one (gzip level 0: the payload is stored)."""
    record = add_checkpoint(server, PATH)
    files = server.default_files(record)
    files["adapter_model.safetensors"] = os.urandom(64 * 1024)
    return server.skyrl_archive(files), files


def _flip_payload_byte(data: bytes) -> bytes:
    corrupt = bytearray(data)
    corrupt[len(corrupt) // 2] ^= 0x01  # inside the stored deflate payload, not a header
    return bytes(corrupt)


def _wrong_length(data: bytes) -> bytes:
    _crc, size = struct.unpack("<II", data[-8:])
    return data[:-4] + struct.pack("<I", size + 1)


def _cut_trailer(data: bytes) -> bytes:
    return data[:-8]


@pytest.mark.parametrize("damage", [_flip_payload_byte, _wrong_length, _cut_trailer])
def test_a_damaged_tar_gz_is_refused_and_nothing_is_placed(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, out: Path, damage: object
) -> None:
    data, _ = _real_archive(server)
    assert callable(damage)
    server.archive_mode = "redirect"
    server.archives[PATH] = damage(data)
    before = snapshot(sandbox.parent)
    with pytest.raises(CorruptArchiveError) as info:
        rest.download_checkpoint(PATH, out, progress=False)
    assert isinstance(info.value, DownloadError)
    assert PATH in str(info.value) or "archive" in str(info.value)
    assert not out.exists()
    assert snapshot(sandbox.parent) == before  # temp files cleaned
    no_leftovers(out.parent)


def test_the_undamaged_archive_still_downloads(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    data, files = _real_archive(server)
    server.archive_mode = "redirect"
    server.archives[PATH] = data
    rest.download_checkpoint(PATH, out, progress=False)
    assert tree(out) == files


def test_a_damaged_tar_gz_is_refused_before_a_byte_is_extracted(tmp_path: Path) -> None:
    """Called directly: the check runs before extraction, so the destination stays empty."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("weights.bin")
        payload = os.urandom(200_000)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_flip_payload_byte(raw.getvalue()))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(CorruptArchiveError, match="CRC"):
        extract_archive(archive, dest)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("fmt", ["xz", "bz2"])
def test_other_compressions_are_read_to_their_end_too(tmp_path: Path, fmt: str) -> None:
    """A damaged .tar.xz / .tar.bz2 fails its own check instead of extracting silently."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode=f"w:{fmt}") as tar:  # type: ignore[call-overload]
        info = tarfile.TarInfo("weights.bin")
        payload = os.urandom(200_000)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    archive = tmp_path / f"a.tar.{fmt}"
    archive.write_bytes(_flip_payload_byte(raw.getvalue()))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DownloadError):
        extract_archive(archive, dest, max_expanded_bytes=1 << 20)
    assert list(dest.iterdir()) == []


def test_a_zip_member_with_a_bad_crc_is_refused(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, out: Path
) -> None:
    payload = os.urandom(50_000)
    data = bytearray(make_zip([("adapter_config.json", b"{}"), ("weights.bin", payload)]))
    at = bytes(data).find(payload[1000:1016])
    data[at] ^= 0x01  # stored member: the byte changes, its recorded CRC does not
    server.archive_mode = "json"
    server.archives[PATH] = bytes(data)
    before = snapshot(sandbox.parent)
    with pytest.raises(CorruptArchiveError, match="CRC"):
        rest.download_checkpoint(PATH, out, progress=False)
    assert not out.exists()
    assert snapshot(sandbox.parent) == before


def test_trailing_data_after_the_gzip_stream_is_refused(tmp_path: Path) -> None:
    """Bytes after the last gzip member are not a gzip member: refused, not ignored."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("a.bin")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(raw.getvalue() + b"garbage!" * 4)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(CorruptArchiveError):
        extract_archive(archive, dest)
    assert list(dest.iterdir()) == []


def test_a_concatenated_multi_member_gzip_is_accepted(tmp_path: Path) -> None:
    """gzip allows several members one after the other; each one's CRC is checked."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        info = tarfile.TarInfo("a.bin")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    whole = tar_bytes.getvalue()
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(gzip.compress(whole[:700]) + gzip.compress(whole[700:]))
    dest = tmp_path / "dest"
    dest.mkdir()
    extract_archive(archive, dest)
    assert (dest / "a.bin").read_bytes() == b"abc"
