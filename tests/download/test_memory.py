"""A 64 MiB archive streamed from the fake server (which reads it from disk in 1 MiB pieces):
the process's resident memory, sampled every few milliseconds during the download and the
extraction, grows by far less than the archive's size."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

import tinkex as tinker
from tests.download.conftest import RUN, add_checkpoint
from tests.fake_tinker import FakeTinker

SIZE = 64 * 1024 * 1024
MAX_GROWTH = 32 * 1024 * 1024
PATTERN = hashlib.sha256(b"tinkex").digest() * (1 << 15)  # 1 MiB, not compressible to nothing


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class _Pattern(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left, len(PATTERN))
        buffer[:n] = PATTERN[:n]
        self.left -= n
        return n


class _Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.peak = rss()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, rss())


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc (Linux)")
def test_a_large_archive_streams_in_constant_memory(
    server: FakeTinker, rest: tinker.RestClient, tmp_path: Path
) -> None:
    source = tmp_path / "big.tar"
    with tarfile.open(source, "w") as tar:
        info = tarfile.TarInfo("model.safetensors")
        info.size = SIZE
        tar.addfile(info, io.BufferedReader(_Pattern(SIZE), buffer_size=1 << 20))
    server.archive_mode = "redirect"
    server.archives[f"tinker://{RUN}/weights/big"] = source
    # Warm up: the same path once with a small checkpoint (imports, pools, threads).
    add_checkpoint(server, f"tinker://{RUN}/weights/small")
    rest.download_checkpoint(f"tinker://{RUN}/weights/small", tmp_path / "small", progress=False)

    baseline = rss()
    sampler = _Sampler()
    sampler.start()
    try:
        out = rest.download_checkpoint(
            f"tinker://{RUN}/weights/big", tmp_path / "out", progress=False
        )
    finally:
        sampler.stop.set()
        sampler.join(5)
    growth = sampler.peak - baseline
    print(f"\nRSS growth while downloading {SIZE >> 20} MiB: {growth / 2**20:.1f} MiB")
    assert growth < MAX_GROWTH, f"RSS grew by {growth / 2**20:.1f} MiB"

    target = out / "model.safetensors"
    assert target.stat().st_size == SIZE
    digest = hashlib.sha256()
    expected = hashlib.sha256()
    with target.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            expected.update(PATTERN[: len(chunk)])
    assert digest.hexdigest() == expected.hexdigest()
