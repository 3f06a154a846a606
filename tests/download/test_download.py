"""RestClient.download_checkpoint against the fake server: each route, bad input, failures.

The routes: the archive URL of older servers and skyrl-tx (a 302 to ``/download``, a JSON
``{url}``, or the archive itself), and the export route of newer servers (per-file signed URLs of
an ``external_weights/`` path; a ``weights/`` path exported first, then cleaned up).
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

import tinkex as tinker
from tests.download.conftest import (
    API_KEY,
    RUN,
    RestFactory,
    add_checkpoint,
    make_tar,
    make_zip,
    no_leftovers,
    snapshot,
    tree,
)
from tests.fake_tinker import FakeTinker, faults
from tinkex._download import (
    CheckpointNotFoundError,
    DownloadError,
    InvalidTinkerPathError,
    OutputExistsError,
    UnsafeArchiveError,
    checkpoint as download_run,
)

SAMPLER = f"tinker://{RUN}/sampler_weights/final"
WEIGHTS = f"tinker://{RUN}/weights/step-5"
EXTERNAL = f"tinker://{RUN}/external_weights/export-1"


def expected_files(server: FakeTinker, path: str) -> dict[str, bytes]:
    record = server._checkpoint(path)
    assert record is not None
    return server.default_files(record)


def endpoints(server: FakeTinker) -> list[str]:
    return [r.endpoint for r in server.requests]


# ---------------------------------------------------------------------- the archive route


def test_skyrl_style_redirect_with_bare_ids(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    """skyrl-tx: the id with its kind does not match the route (404 Not Found); the bare name
    gets a 302 to ``.../download``, which serves a tar.gz with a root entry named ''."""
    server.archive_mode, server.archive_ids = "redirect", "bare"
    add_checkpoint(server, SAMPLER)
    result = rest.download_checkpoint(SAMPLER, out, progress=False)
    assert result == out
    assert tree(out) == expected_files(server, SAMPLER)
    archive_calls = server.requests_to("get_checkpoint_archive_url")
    assert [r.path.rsplit("/checkpoints/", 1)[1] for r in archive_calls] == [
        "sampler_weights/final/archive",
        "final/archive",
    ]
    (download,) = server.requests_to("download_checkpoint_archive")
    assert download.headers.get("x-api-key") == API_KEY  # same origin: the key goes along
    no_leftovers(out.parent)


def test_probing_the_archive_route_reports_no_error_to_telemetry(
    server: FakeTinker, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The id with its kind gets skyrl-tx's 404 before the bare id works: an expected answer
    of the probe, not a failure worth a telemetry event."""
    monkeypatch.setenv("TINKER_TELEMETRY", "1")
    server.archive_mode, server.archive_ids = "redirect", "bare"
    add_checkpoint(server, SAMPLER)
    service = tinker.ServiceClient(base_url=server.base_url, telemetry_flush_interval=0.05)
    try:
        service.create_lora_training_client("fake/tiny-model").result(timeout=60)  # a session
        service.create_rest_client().download_checkpoint(SAMPLER, out, progress=False)
        server.inject("get_checkpoint_archive_url", faults.status(403, body={"detail": "no"}))
        with pytest.raises(tinker.PermissionDeniedError):
            service.create_rest_client().download_checkpoint(SAMPLER, out / "again", progress=False)
    finally:
        service.close()
    errors = [e for e in server.telemetry if e["event"] == "GENERIC_EVENT"]
    assert [e["event_data"]["status_code"] for e in errors] == [403]  # only the real failure


def test_json_url_route(server: FakeTinker, rest: tinker.RestClient, out: Path) -> None:
    server.archive_mode = "json"
    add_checkpoint(server, WEIGHTS)
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert tree(out) == expected_files(server, WEIGHTS)
    assert len(server.requests_to("get_checkpoint_archive_url")) == 1  # the full id worked
    assert len(server.requests_to("storage")) == 1
    assert "save_weights_external" not in endpoints(server)


def test_archive_served_directly(server: FakeTinker, rest: tinker.RestClient, out: Path) -> None:
    server.archive_mode = "direct"
    add_checkpoint(server, SAMPLER)
    rest.download_checkpoint(SAMPLER, out, progress=False)
    assert tree(out) == expected_files(server, SAMPLER)


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "tar.xz", "zip"])
def test_archive_formats_and_nested_files(
    server: FakeTinker, rest: tinker.RestClient, out: Path, fmt: str
) -> None:
    files = {"adapter_config.json": b"{}", "nested/dir/weights.bin": os.urandom(3000)}
    if fmt == "zip":
        data = make_zip(list(files.items()))
    else:
        mode = {"tar": "w", "tar.gz": "w:gz", "tar.xz": "w:xz"}[fmt]
        data = make_tar(list(files.items()), mode)
    server.archive_mode = "json"
    server.archives[WEIGHTS] = data
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert tree(out) == files


def test_links_inside_the_archive_are_kept(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    import tarfile

    from tests.download.conftest import tar_info

    data = make_tar(
        [
            ("model/weights.bin", b"w" * 100),
            tar_info("model/latest.bin", tarfile.SYMTYPE, link="weights.bin"),
            tar_info("copy.bin", tarfile.LNKTYPE, link="model/weights.bin"),
            tar_info("model/dir-link", tarfile.SYMTYPE, link="../model"),
        ]
    )
    server.archive_mode = "redirect"
    server.archives[WEIGHTS] = data
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert os.readlink(out / "model" / "latest.bin") == "weights.bin"
    assert (out / "model" / "latest.bin").read_bytes() == b"w" * 100
    assert (out / "copy.bin").read_bytes() == b"w" * 100
    assert not (out / "copy.bin").is_symlink()


# ---------------------------------------------------------------------- the export route


def test_external_weights_urls(server: FakeTinker, rest: tinker.RestClient, out: Path) -> None:
    add_checkpoint(server, EXTERNAL)
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert tree(out) == expected_files(server, EXTERNAL)
    assert "get_checkpoint_archive_url" not in endpoints(server)
    assert len(server.requests_to("storage")) == 2


def test_external_files_in_subdirectories(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    files = {"config.json": b"{}", "shards/model-00001.safetensors": b"a" * 5000}
    server.external_files[EXTERNAL] = dict(files)
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert tree(out) == files


def test_weights_path_is_exported_then_cleaned_up(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    """No archive route: a temporary training client from the state, a temporary export, its
    files; then the export is deleted and the temporary model unloaded."""
    add_checkpoint(server, WEIGHTS, weights=7)
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    seen = endpoints(server)
    for endpoint in (
        "get_weights_info",
        "load_weights",
        "save_weights_external",
        "get_external_weights_urls",
        "delete_checkpoint",
        "unload_model",
    ):
        assert endpoint in seen, endpoint
    assert seen.index("save_weights_external") < seen.index("get_external_weights_urls")
    (export,) = server.requests_to("save_weights_external")
    assert export.json["ttl_seconds"] == 3600
    files = tree(out)
    assert set(files) == {"adapter_config.json", "adapter_model.safetensors"}
    assert b'"weights": 7' in files["adapter_config.json"]  # the exported state is the saved one
    assert [c for c in server.checkpoints.values() if c.checkpoint_type == "external"] == []
    assert all(m.unloaded for m in server.models.values())


def test_signed_urls_are_renewed_before_they_expire(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.signed_url_ttl = 60.0  # inside the 5-minute margin: ask again before each file
    server.external_files[EXTERNAL] = {"a.bin": b"a", "b.bin": b"b", "c.bin": b"c"}
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert tree(out) == {"a.bin": b"a", "b.bin": b"b", "c.bin": b"c"}
    assert len(server.requests_to("get_external_weights_urls")) == 4


def test_the_api_key_goes_only_to_the_api_origin(
    server: FakeTinker,
    fake_tinker: object,
    rest: tinker.RestClient,
    out: Path,
) -> None:
    storage = FakeTinker().start()
    try:
        server.external_files[EXTERNAL] = {
            "here.bin": b"1",
            "elsewhere.bin": storage.blob_url(b"2"),
        }
        rest.download_checkpoint(EXTERNAL, out, progress=False)
        assert tree(out) == {"here.bin": b"1", "elsewhere.bin": b"2"}
        (foreign,) = storage.requests_to("storage")
        assert "x-api-key" not in foreign.headers
        (local,) = server.requests_to("storage")
        assert local.headers.get("x-api-key") == API_KEY
    finally:
        storage.stop()


def test_sampler_path_on_the_export_route_is_refused(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    add_checkpoint(server, SAMPLER)
    with pytest.raises(DownloadError, match="sampler_weights") as info:
        rest.download_checkpoint(SAMPLER, out, progress=False)
    assert SAMPLER in str(info.value)
    assert not {"load_weights", "save_weights_external", "create_session"} & set(endpoints(server))
    assert not out.exists()
    no_leftovers(out.parent)


def test_a_server_with_neither_route(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.external_weights_urls = False
    with pytest.raises(DownloadError, match="neither"):
        rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert not out.exists()


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "path",
    ["run-1/weights/a", "tinker://run-1/a", "tinker://run-1/nonsense/a", "tinker://run-1//a", ""],
)
def test_a_path_that_does_not_parse(
    server: FakeTinker, rest: tinker.RestClient, out: Path, path: str
) -> None:
    with pytest.raises(InvalidTinkerPathError) as info:
        rest.download_checkpoint(path, out, progress=False)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, tinker.TinkerError)
    assert repr(path) in str(info.value)
    assert server.requests == []
    assert not out.exists()


@pytest.mark.parametrize(
    ("mode", "path"),
    [
        ("redirect", f"tinker://{RUN}/sampler_weights/missing"),
        ("json", f"tinker://{RUN}/weights/missing"),
        (None, f"tinker://{RUN}/weights/missing"),
        (None, f"tinker://{RUN}/external_weights/missing"),
    ],
)
def test_a_checkpoint_that_does_not_exist(
    server: FakeTinker, rest: tinker.RestClient, out: Path, mode: str | None, path: str
) -> None:
    server.archive_mode = mode
    with pytest.raises(CheckpointNotFoundError) as info:
        rest.download_checkpoint(path, out, progress=False)
    assert path in str(info.value)
    assert "load_weights" not in endpoints(server)  # no temporary export was attempted
    assert not out.exists()
    no_leftovers(out.parent)


def test_an_existing_directory_is_refused_before_any_request(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    add_checkpoint(server, EXTERNAL)
    with pytest.raises(OutputExistsError, match="force"):
        rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert server.requests == []
    assert tree(out) == {"mine.txt": b"keep me"}


def test_force_replaces_a_previous_download_of_the_checkpoint(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    add_checkpoint(server, EXTERNAL)
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    server.external_files[EXTERNAL] = {"new.bin": b"new"}
    rest.download_checkpoint(EXTERNAL, out, force=True, progress=False)
    assert tree(out) == {"new.bin": b"new"}
    no_leftovers(out.parent)


def test_force_keeps_the_old_directory_when_the_download_fails(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.archive_mode = "redirect"
    server.archives[WEIGHTS] = make_tar([("old.txt", b"old")])
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    server.archives[WEIGHTS] = make_tar([("w.bin", os.urandom(200_000))])
    server.inject("download_checkpoint_archive", faults.truncate_after())
    with pytest.raises(DownloadError):
        rest.download_checkpoint(WEIGHTS, out, force=True, progress=False)
    assert tree(out) == {"old.txt": b"old"}
    no_leftovers(out.parent)


def test_force_refuses_the_working_directory(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sandbox / "parent")
    with pytest.raises(DownloadError, match="refusing to replace"):
        rest.download_checkpoint(EXTERNAL, sandbox / "parent", force=True, progress=False)
    with pytest.raises(DownloadError, match="refusing to replace"):
        rest.download_checkpoint(EXTERNAL, sandbox, force=True, progress=False)
    assert server.requests == []


# ---------------------------------------------------------------------- failures mid-way


def test_a_dropped_connection_leaves_nothing_and_a_retry_succeeds(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    data = make_tar([("w.bin", os.urandom(300_000))], "w:gz")
    server.archive_mode = "redirect"
    server.archives[WEIGHTS] = data
    server.inject("download_checkpoint_archive", faults.truncate_after())
    before = snapshot(out.parent.parent)
    with pytest.raises(DownloadError, match="failed") as info:
        rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert WEIGHTS in str(info.value)
    assert snapshot(out.parent.parent) == before
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert set(tree(out)) == {"w.bin"}
    no_leftovers(out.parent)


def test_a_dropped_connection_on_an_external_file(
    server: FakeTinker, rest: tinker.RestClient, out: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2_000_000))
    server.external_files[EXTERNAL] = {"a.bin": b"a", "big.bin": big}
    server.inject("storage", faults.truncate_after())
    with pytest.raises(DownloadError):
        rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert not out.exists()
    no_leftovers(out.parent)
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert tree(out) == {"a.bin": b"a", "big.bin": big.read_bytes()}


class _FullDisk:
    """A writer that fails with ENOSPC once ``room`` bytes have been written."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.failures = 0

    def __call__(self, handle: IO[bytes], data: bytes) -> None:
        if len(data) > self.room:
            self.failures += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        handle.write(data)


@pytest.mark.parametrize("where", ["download", "extraction"])
def test_a_full_disk_leaves_nothing_and_a_retry_succeeds(
    server: FakeTinker,
    rest: tinker.RestClient,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    payload = os.urandom(3 * 1024 * 1024)
    data = make_tar([("model.safetensors", payload)])
    server.archive_mode = "json"
    server.archives[WEIGHTS] = data
    # While downloading, the disk fills after 1 MiB; while extracting, after the archive is in.
    disk = _FullDisk(1 << 20 if where == "download" else len(data) + 1000)
    monkeypatch.setattr(download_run, "_write_chunk", disk)
    before = snapshot(out.parent.parent)
    with pytest.raises(DownloadError, match="disk full"):
        rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert disk.failures == 1
    assert snapshot(out.parent.parent) == before
    monkeypatch.undo()
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert tree(out) == {"model.safetensors": payload}


def test_an_unwritable_directory(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path
) -> None:
    locked = sandbox / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running with privileges that write to a read-only directory (root)")
        with pytest.raises(DownloadError, match="cannot write"):
            rest.download_checkpoint(EXTERNAL, locked / "out", progress=False)
        assert os.listdir(locked) == []
        assert server.requests == []
    finally:
        locked.chmod(0o755)


def test_an_unwritable_directory_simulated(
    server: FakeTinker, rest: tinker.RestClient, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root the chmod test cannot fail a write: make creating the working directory fail."""

    def refuse(*args: object, **kwargs: object) -> str:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr("tinkex._download.checkpoint.tempfile.mkdtemp", refuse)
    with pytest.raises(DownloadError, match="cannot write to"):
        rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert server.requests == []
    assert not out.exists()


def test_missing_parents_are_made_and_removed_again_on_failure(
    server: FakeTinker, rest: tinker.RestClient, sandbox: Path
) -> None:
    deep = sandbox / "a" / "b" / "out"
    with pytest.raises(CheckpointNotFoundError):
        rest.download_checkpoint(EXTERNAL, deep, progress=False)
    assert not (sandbox / "a").exists()
    add_checkpoint(server, EXTERNAL)
    rest.download_checkpoint(EXTERNAL, deep, progress=False)
    assert tree(deep) == expected_files(server, EXTERNAL)


def test_a_stalled_body_times_out(
    server: FakeTinker, rest: tinker.RestClient, out: Path, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 2_000_000)
    server.external_files[EXTERNAL] = {"big.bin": big}
    server.stall_body = (1_000_000, 20.0)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="Timeout"):
        rest.download_checkpoint(EXTERNAL, out, progress=False, read_timeout=0.5)
    assert time.monotonic() - started < 10
    assert not out.exists()
    no_leftovers(out.parent)


def test_leftovers_of_a_killed_attempt_are_removed(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    stale = out.parent / f".{out.name}.abcd1234.tinkex-partial"
    (stale / "content").mkdir(parents=True)
    (stale / "content" / "half.bin").write_bytes(b"half")
    (stale / "owner.pid").write_text(str(gone.pid))
    live = out.parent / f".{out.name}.live.tinkex-partial"
    live.mkdir()
    (live / "owner.pid").write_text(str(os.getpid()))  # ours: not touched
    add_checkpoint(server, EXTERNAL)
    rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert not stale.exists()
    assert live.exists()


def test_progress_callback(server: FakeTinker, rest: tinker.RestClient, out: Path) -> None:
    server.archive_mode = "json"
    server.download_chunk = 64 * 1024
    data = make_tar([("w.bin", os.urandom(3 * 1024 * 1024))])
    server.archives[WEIGHTS] = data
    seen: list[tuple[str, int, int | None]] = []
    rest.download_checkpoint(WEIGHTS, out, progress=lambda *args: seen.append(args))
    assert seen[0] == ("step-5", 0, len(data))
    assert seen[-1] == ("step-5", len(data), len(data))
    done = [d for _, d, _ in seen]
    assert done == sorted(done)


def test_progress_bar_goes_to_stderr(
    server: FakeTinker,
    rest: tinker.RestClient,
    out: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_checkpoint(server, EXTERNAL)
    rest.download_checkpoint(EXTERNAL, out)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "adapter_model.safetensors" in captured.err


def test_the_size_limit_applies_to_exports_too(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.external_files[EXTERNAL] = {"a.bin": b"a" * 600, "b.bin": b"b" * 600}
    with pytest.raises(UnsafeArchiveError, match="size limit"):
        rest.download_checkpoint(EXTERNAL, out, progress=False, max_expanded_bytes=1000)
    assert not out.exists()
    no_leftovers(out.parent)


def test_a_closed_client_refuses(server: FakeTinker, make_rest: RestFactory, out: Path) -> None:
    client = make_rest(server)
    client.close()
    add_checkpoint(server, EXTERNAL)
    with pytest.raises(tinker.TinkerError):
        client.download_checkpoint(EXTERNAL, out, progress=False)
    assert not out.exists()
    no_leftovers(out.parent)


def test_not_an_archive(server: FakeTinker, rest: tinker.RestClient, out: Path) -> None:
    server.archive_mode = "json"
    server.archives[WEIGHTS] = io.BytesIO(b"this is not an archive" * 100).getvalue()
    with pytest.raises(DownloadError, match="not a valid tar or zip"):
        rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert not out.exists()
    no_leftovers(out.parent)


def test_an_error_status_from_storage(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.external_files[EXTERNAL] = {"gone.bin": f"{server.base_url}/storage/nope"}
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        rest.download_checkpoint(EXTERNAL, out, progress=False)
    assert API_KEY not in str(info.value)
    assert not out.exists()
    no_leftovers(out.parent)


def test_a_transient_error_of_the_archive_route_is_retried(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.archive_mode = "redirect"
    add_checkpoint(server, WEIGHTS)
    server.inject("get_checkpoint_archive_url", faults.status(503))
    rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert tree(out) == expected_files(server, WEIGHTS)
    assert len(server.requests_to("get_checkpoint_archive_url")) == 2


def test_an_error_of_the_archive_route_that_persists(
    server: FakeTinker, rest: tinker.RestClient, out: Path
) -> None:
    server.archive_mode = "redirect"
    server.inject("get_checkpoint_archive_url", faults.status(403, body={"detail": "no access"}))
    with pytest.raises(tinker.PermissionDeniedError, match="no access"):
        rest.download_checkpoint(WEIGHTS, out, progress=False)
    assert not out.exists()
    no_leftovers(out.parent)
