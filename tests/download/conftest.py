"""Fixtures of the checkpoint download tests: the fake server, a RestClient on it, a sandbox.

Every download goes to ``sandbox / "parent" / "out"``; ``snapshot(sandbox)`` lists every path
under the sandbox so a test can assert that a refused download wrote nothing anywhere in it.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tinkex as tinker
from tests.fake_tinker import FakeTinker
from tests.fake_tinker.plugin import FakeTinkerFactory, fake_tinker, fake_tinker_server  # noqa: F401
from tests.fake_tinker.state import CheckpointRecord
from tinkex._download import MARKER_NAME

API_KEY = "tml-download-test-key"
RUN = "run-1"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Tinker settings (or proxies for 127.0.0.1)."""
    for name in list(os.environ):
        if name.startswith("TINKER_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TINKER_API_KEY", API_KEY)
    monkeypatch.setenv("TINKER_TELEMETRY", "0")


@pytest.fixture
def server(fake_tinker: FakeTinkerFactory) -> FakeTinker:  # noqa: F811
    return fake_tinker()


RestFactory = Callable[[FakeTinker], tinker.RestClient]


@pytest.fixture
def make_rest() -> Iterator[RestFactory]:
    clients: list[tinker.RestClient] = []

    def make(server: FakeTinker) -> tinker.RestClient:
        client = tinker.RestClient(base_url=server.base_url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def rest(server: FakeTinker, make_rest: RestFactory) -> tinker.RestClient:
    return make_rest(server)


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    box = tmp_path / "sandbox"
    (box / "parent").mkdir(parents=True)
    return box


@pytest.fixture
def out(sandbox: Path) -> Path:
    return sandbox / "parent" / "out"


def snapshot(root: Path) -> set[str]:
    """Every path under ``root`` (links not followed), relative."""
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            found.add(os.path.relpath(os.path.join(dirpath, name), root))
    return found


def tree(root: Path) -> dict[str, bytes]:
    """The regular files under ``root`` and their contents, but for tinkex's download record."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.relative_to(root) != Path(MARKER_NAME)
    }


def add_checkpoint(server: FakeTinker, path: str, weights: int = 3) -> CheckpointRecord:
    """A checkpoint in the fake's state (no training needed)."""
    run, segment, name = path[len("tinker://") :].split("/")
    kind = {"weights": "training", "sampler_weights": "sampler", "external_weights": "external"}
    record = CheckpointRecord(run, f"{segment}/{name}", kind[segment], weights)
    server.checkpoints[(run, record.checkpoint_id)] = record
    return record


def make_tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> bytes:
    """A tar archive of ``(name, data)`` files and ready-made TarInfos (links, devices...)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode=mode) as tar:  # type: ignore[call-overload]
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, data = member
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def tar_info(name: str, kind: bytes, *, link: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode = kind, link, size, 0o644
    return info


def make_zip(
    members: list[tuple[str, bytes] | zipfile.ZipInfo | tuple[zipfile.ZipInfo, bytes]],
) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for member in members:
            if isinstance(member, zipfile.ZipInfo):
                archive.writestr(member, b"")
            else:
                name, data = member
                archive.writestr(name, data)
    return raw.getvalue()


def no_leftovers(parent: Path) -> None:
    """Nothing but what was there: no working directories, no partial output."""
    leftovers = [p.name for p in parent.iterdir() if p.name.endswith(".tinkex-partial")]
    assert leftovers == []
