"""``tinkex checkpoint download --max-expanded SIZE`` and ``--force``, in-process."""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import pytest

from tests.download.conftest import API_KEY, RUN, make_tar, tree
from tests.fake_tinker import FakeTinker
from tinkex.cli import main
from tinkex.cli._checkpoint import size_bytes

PATH = f"tinker://{RUN}/weights/zeros"


def _cli(server: FakeTinker, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["--base-url", server.base_url, "--api-key", API_KEY, *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500M", 500 << 20),
        ("20G", 20 << 30),
        ("1.5T", int(1.5 * (1 << 40))),
        ("4096", 4096),
        ("2GiB", 2 << 30),
        ("3gb", 3 << 30),
        ("64k", 64 << 10),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert size_bytes(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "abc", "", "M", "nan", "inf", "1e30G"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a positive size"):
        size_bytes(text)


def test_max_expanded_lets_a_compressible_checkpoint_through(
    server: FakeTinker, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server.archive_mode = "redirect"
    server.archives[PATH] = gzip.compress(make_tar([("zeros.bin", bytes(16 << 20))]), 9)
    target = tmp_path / "out"
    code, text = _cli(server, capsys, "checkpoint", "download", PATH, "-o", str(target))
    assert code == 1
    assert "--max-expanded" in text
    assert not target.exists()
    code, text = _cli(
        server, capsys, "checkpoint", "download", PATH, "-o", str(target), "--max-expanded", "32M"
    )
    assert code == 0, text
    assert tree(target) == {"zeros.bin": bytes(16 << 20)}


def test_max_expanded_lowers_the_limit(
    server: FakeTinker, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server.archive_mode = "json"
    server.archives[PATH] = make_tar([("w.bin", b"w" * 300_000)])
    target = tmp_path / "out"
    argv = ["checkpoint", "download", PATH, "-o", str(target), "--max-expanded", "100K"]
    code, text = _cli(server, capsys, *argv)
    assert code == 1
    assert "102400" in text
    assert not target.exists()


def test_force_refuses_a_foreign_directory(
    server: FakeTinker, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    argv = ["checkpoint", "download", PATH, "-o", str(target), "--force"]
    code, text = _cli(server, capsys, *argv)
    assert code == 1
    assert f"refusing to replace {target}" in text
    assert "Traceback" not in text
    assert (target / "keep.txt").read_text() == "mine"
