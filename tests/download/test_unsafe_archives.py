"""Crafted archives, served by the fake server's archive route: each is refused with a clear
error, and nothing is written anywhere (inside or outside the sandbox), not even a partial
output directory. Members are checked before a single byte is extracted."""

from __future__ import annotations

import gzip
import io
import re
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import tinkex as tinker
from tests.download.conftest import RUN, make_tar, make_zip, no_leftovers, snapshot, tar_info
from tests.fake_tinker import FakeTinker
from tinkex._download import MARKER_NAME, UnsafeArchiveError, extract_archive, safe_relative_path

PATH = f"tinker://{RUN}/weights/evil"
GOOD = ("good.bin", b"good")


def _zip_special(name: str, mode: int, data: bytes = b"") -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info, data


def _make_zip_raw(members: list[tuple[zipfile.ZipInfo, bytes] | tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return raw.getvalue()


def _gzip_bomb(size: int) -> bytes:
    """A tar.gz whose one member really holds ``size`` zero bytes (it compresses to little)."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz,
        tarfile.open(fileobj=gz, mode="w:") as tar,
    ):
        info = tarfile.TarInfo("zeros.bin")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return raw.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def cases(sandbox_abs: str) -> dict[str, tuple[Callable[[], bytes], str]]:
    """name -> (a maker of the archive, what the error must say)."""
    escape = "../../../../escaped.txt"
    return {
        # absolute paths
        "tar-absolute": (
            lambda: make_tar([GOOD, (f"{sandbox_abs}/abs.txt", b"x")]),
            "absolute path",
        ),
        "tar-absolute-dir": (
            lambda: make_tar([tar_info(f"{sandbox_abs}/absdir/", tarfile.DIRTYPE), GOOD]),
            "absolute path",
        ),
        "zip-absolute": (
            lambda: make_zip([GOOD, (f"{sandbox_abs}/abs.txt", b"x")]),
            "absolute path",
        ),
        "zip-drive-letter": (
            lambda: make_zip([GOOD, ("C:/Windows/evil.dll", b"x")]),
            "absolute path",
        ),
        # traversal
        "tar-traversal": (lambda: make_tar([GOOD, (escape, b"x")]), "'..'"),
        "tar-traversal-inner": (
            lambda: make_tar([GOOD, ("a/b/../../../escaped.txt", b"x")]),
            "'..'",
        ),
        "zip-traversal": (lambda: make_zip([GOOD, (escape, b"x")]), "'..'"),
        "zip-backslash-traversal": (
            lambda: _make_zip_raw([GOOD, ("..\\..\\..\\..\\escaped.txt", b"x")]),
            "'..'",
        ),
        # symlinks out
        "tar-symlink-absolute": (
            lambda: make_tar([GOOD, tar_info("link", tarfile.SYMTYPE, link=sandbox_abs)]),
            "absolute path outside",
        ),
        "tar-symlink-relative-out": (
            lambda: make_tar([GOOD, tar_info("sub/link", tarfile.SYMTYPE, link="../../outside")]),
            "points outside",
        ),
        "tar-symlink-then-write-through-it": (
            lambda: make_tar(
                [
                    tar_info("link", tarfile.SYMTYPE, link="sub"),
                    tar_info("sub", tarfile.DIRTYPE),
                    ("link/x.txt", b"x"),
                ]
            ),
            "through the symlink",
        ),
        "tar-symlink-chain": (
            lambda: (
                # d -> "." is inside, e -> "d/.." looks inside lexically but is the parent.
                make_tar(
                    [
                        tar_info("d", tarfile.SYMTYPE, link="."),
                        tar_info("e", tarfile.SYMTYPE, link="d/.."),
                    ]
                )
            ),
            "through another symlink",
        ),
        "zip-symlink-out": (
            lambda: _make_zip_raw(
                [GOOD, _zip_special("link", stat.S_IFLNK | 0o777, b"../../../etc")]
            ),
            "points outside",
        ),
        # hard links out
        "tar-hardlink-absolute": (
            lambda: make_tar([GOOD, tar_info("hard", tarfile.LNKTYPE, link="/etc/passwd")]),
            "points outside",
        ),
        "tar-hardlink-traversal": (
            lambda: make_tar([GOOD, tar_info("hard", tarfile.LNKTYPE, link="../../../secret")]),
            "points outside",
        ),
        "tar-hardlink-to-nothing": (
            lambda: make_tar([GOOD, tar_info("hard", tarfile.LNKTYPE, link="missing.bin")]),
            "does not point to a regular file",
        ),
        # devices and fifos
        "tar-char-device": (
            lambda: make_tar([GOOD, tar_info("null", tarfile.CHRTYPE)]),
            "device file",
        ),
        "tar-block-device": (
            lambda: make_tar([GOOD, tar_info("sda", tarfile.BLKTYPE)]),
            "device file",
        ),
        "tar-fifo": (lambda: make_tar([GOOD, tar_info("pipe", tarfile.FIFOTYPE)]), "fifo"),
        "zip-char-device": (
            lambda: _make_zip_raw([GOOD, _zip_special("null", stat.S_IFCHR | 0o666)]),
            "device file",
        ),
        "zip-fifo": (
            lambda: _make_zip_raw([GOOD, _zip_special("pipe", stat.S_IFIFO | 0o666)]),
            "fifo",
        ),
        # size bombs (the limit in these tests is 1 MiB)
        "tar-size-bomb": (
            lambda: make_tar([("a.bin", b"a" * 700_000), ("b.bin", b"b" * 700_000)]),
            "more than 1048576 bytes",
        ),
        "tar-gz-bomb": (lambda: _gzip_bomb(64 * 1024 * 1024), "more than 1048576 bytes"),
        "zip-size-bomb": (
            lambda: make_zip([("a.bin", b"a" * 700_000), ("b.bin", b"b" * 700_000)]),
            "more than 1048576 bytes",
        ),
        # other nonsense
        "tar-duplicate": (lambda: make_tar([GOOD, GOOD]), "appears twice"),
        "tar-file-then-inside-it": (
            lambda: make_tar([GOOD, ("good.bin/x", b"x")]),
            "not a directory",
        ),
    }


CASES = sorted(cases("/placeholder"))


@pytest.mark.parametrize("case", CASES)
def test_a_crafted_archive_is_refused(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, out: Path, case: str
) -> None:
    make, says = cases(str(sandbox))[case]
    data = make()
    server.archive_mode = "redirect"
    server.archives[PATH] = data
    before = snapshot(sandbox.parent)
    with pytest.raises(UnsafeArchiveError) as info:
        rest.download_checkpoint(PATH, out, progress=False, max_expanded_bytes=1 << 20)
    assert says in str(info.value)
    assert snapshot(sandbox.parent) == before  # nothing written anywhere, no partial output
    assert not out.exists()
    no_leftovers(out.parent)


@pytest.mark.parametrize("case", ["tar-traversal", "tar-symlink-relative-out", "tar-char-device"])
def test_a_refused_archive_does_not_touch_an_existing_directory(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, out: Path, case: str
) -> None:
    server.archive_mode = "json"
    server.archives[PATH] = make_tar([("old.txt", b"old")])
    rest.download_checkpoint(PATH, out, progress=False)  # a previous download: force may replace
    server.archives[PATH] = cases(str(sandbox))[case][0]()
    with pytest.raises(UnsafeArchiveError):
        rest.download_checkpoint(PATH, out, force=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [MARKER_NAME, "old.txt"]
    no_leftovers(out.parent)


@pytest.mark.parametrize(
    "name",
    ["../escaped.bin", "/etc/escaped.bin", "a/../../escaped.bin", "..\\escaped.bin", "", "."],
)
def test_unsafe_file_names_of_an_export_are_refused_before_any_file(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, out: Path, name: str
) -> None:
    path = f"tinker://{RUN}/external_weights/evil"
    server.external_files[path] = {"ok.bin": b"ok", name: b"x"}
    before = snapshot(sandbox.parent)
    with pytest.raises(UnsafeArchiveError):
        rest.download_checkpoint(path, out, progress=False)
    assert server.requests_to("storage") == []  # refused before downloading anything
    assert snapshot(sandbox.parent) == before


def test_a_member_larger_than_it_declares_is_stopped(tmp_path: Path) -> None:
    """A zip whose central directory understates a member: extraction stops at the limit."""
    data = make_zip([("big.bin", b"z" * 200_000)])
    # Patch both size fields of the member to claim 10 bytes.
    patched = bytearray(data)
    for header, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = patched.find(header)
        patched[at + size_offset : at + size_offset + 4] = (10).to_bytes(4, "little")
    archive = tmp_path / "lying.zip"
    archive.write_bytes(bytes(patched))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(tinker.TinkerError):
        extract_archive(archive, dest, max_expanded_bytes=1000)
    leftover = dest / "big.bin"
    assert not leftover.exists() or leftover.stat().st_size <= 10


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b.txt", "a/b.txt"),
        ("./a//b.txt", "a/b.txt"),
        ("a\\b.txt", "a/b.txt"),
        ("", None),
        ("./", None),
    ],
)
def test_safe_relative_path(name: str, expected: str | None) -> None:
    result = safe_relative_path(name)
    assert (None if result is None else str(result)) == expected


@pytest.mark.parametrize("case", CASES)
def test_members_are_all_checked_before_anything_is_extracted(
    tmp_path: Path, sandbox: Path, case: str
) -> None:
    """Called directly: even the harmless members before the bad one are not written."""
    make, says = cases(str(sandbox))[case]
    archive = tmp_path / "archive"
    archive.write_bytes(make())
    dest = sandbox / "parent" / "dest"
    dest.mkdir()
    before = snapshot(sandbox.parent)
    with pytest.raises(UnsafeArchiveError, match=re.escape(says)):
        extract_archive(archive, dest, max_expanded_bytes=1 << 20)
    assert snapshot(sandbox.parent) == before
    assert list(dest.iterdir()) == []
