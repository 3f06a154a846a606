"""``tinkex checkpoint ...`` against the fake server, in table and JSON formats."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest

from tests.fake_tinker import FakeTinker
from tinkex import RestClient

from .conftest import CLI, T0, add_checkpoint, add_run, serve_if_missing

A0 = "tinker://run-a/weights/step-0"
A1 = "tinker://run-a/weights/step-1"
A2 = "tinker://run-a/weights/step-2"
AS = "tinker://run-a/sampler_weights/final"
B0 = "tinker://run-b/weights/only"


def all_paths(server: FakeTinker) -> set[str]:
    return {c.tinker_path for c in server.checkpoints.values()}


# -- list --------------------------------------------------------------------------------------


def test_list_table_newest_first(cli: CLI) -> None:
    result = cli("checkpoint", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["PATH", "TYPE", "SIZE", "PUBLIC", "CREATED", "EXPIRES"]
    assert [line.split()[0] for line in lines[1:]] == [B0, AS, A2, A1, A0]
    sampler = next(line for line in lines if line.startswith(AS))
    assert "sampler" in sampler
    assert "2025-03-01 12:01:10Z" in sampler  # expires: created + 60 s
    assert result.err == ""


def test_list_json_matches_the_server(cli: CLI, server: FakeTinker) -> None:
    result = cli("checkpoint", "list", "--format", "json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["count"] == 5
    assert doc["truncated"] is False
    by_path = {c["tinker_path"]: c for c in doc["checkpoints"]}
    assert set(by_path) == all_paths(server)
    final = by_path[AS]
    assert final["checkpoint_type"] == "sampler"
    assert final["checkpoint_id"] == "sampler_weights/final"
    assert (
        final["size_bytes"]
        == server.checkpoints[("run-a", "sampler_weights/final")].to_json()["size_bytes"]
    )
    assert final["expires_at"].startswith("2025-03-01T12:01:10")


def test_list_limit_truncates_and_says_so(cli: CLI) -> None:
    result = cli("checkpoint", "list", "--limit", "2")
    assert result.code == 0
    assert len(result.out.splitlines()) == 3
    assert "--limit 0 shows all" in result.err
    doc = cli("checkpoint", "list", "--limit", "2", "-f", "json").json()
    assert [c["tinker_path"] for c in doc["checkpoints"]] == [B0, AS]
    assert doc["truncated"] is True


def test_list_limit_0_fetches_every_page(cli: CLI, server: FakeTinker) -> None:
    add_run(server, "run-big")
    for i in range(230):  # more than two pages of 100
        add_checkpoint(server, "run-big", f"weights/s{i:03d}", seconds=100 + i)
    before = len(server.requests_to("list_user_checkpoints"))
    doc = cli("checkpoint", "list", "--limit", "0", "-f", "json").json()
    assert doc["count"] == 235
    assert doc["truncated"] is False
    assert {c["tinker_path"] for c in doc["checkpoints"]} == all_paths(server)
    pages = server.requests_to("list_user_checkpoints")[before:]
    assert len(pages) >= 3
    assert [int(p.query["offset"]) for p in pages][:3] == [0, 100, 200]
    # and the default limit shows 20
    table = cli("checkpoint", "list")
    assert len(table.out.splitlines()) == 21


def test_list_of_one_run(cli: CLI) -> None:
    result = cli("checkpoint", "list", "--run-id", "run-a")
    assert result.code == 0
    assert [line.split()[0] for line in result.out.splitlines()[1:]] == [AS, A2, A1, A0]
    doc = cli("checkpoint", "list", "--run-id", "run-b", "--format", "json").json()
    assert [c["tinker_path"] for c in doc["checkpoints"]] == [B0]


def test_list_of_an_unknown_run_fails(cli: CLI) -> None:
    result = cli("checkpoint", "list", "--run-id", "no-such-run")
    assert result.code == 1
    assert result.out == ""
    assert result.error_line.startswith("error: cannot list the checkpoints of training run")
    assert "no-such-run" in result.error_line
    assert "Traceback" not in result.err


def test_list_empty(cli: CLI, server: FakeTinker) -> None:
    server.checkpoints.clear()
    result = cli("checkpoint", "list")
    assert (result.code, result.out, result.err.strip()) == (0, "", "no checkpoints")
    assert cli("checkpoint", "list", "-f", "json").json()["checkpoints"] == []


# -- info --------------------------------------------------------------------------------------


def test_info_table_and_json(cli: CLI) -> None:
    result = cli("checkpoint", "info", AS)
    assert result.code == 0, result.err
    fields = {
        k.strip(): v.strip() for k, v in (line.split(":", 1) for line in result.out.splitlines())
    }
    assert fields["path"] == AS
    assert fields["type"] == "sampler"
    assert fields["training run"] == "run-a"
    assert fields["base model"] == "fake/tiny-model"
    assert fields["lora rank"] == "8"
    assert fields["expires"] == "2025-03-01 12:01:10Z"
    doc = cli("checkpoint", "info", B0, "-f", "json").json()
    assert doc["tinker_path"] == B0
    assert doc["training_run_id"] == "run-b"
    assert doc["is_lora"] is False
    assert doc["time"].startswith((T0.replace(second=20)).strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tinker://run-a/weights/nope", "training run run-a has no weights/nope"),
        ("tinker://ghost/weights/x", "checkpoint tinker://ghost/weights/x not found"),
    ],
)
def test_info_of_a_missing_checkpoint_exits_1(cli: CLI, path: str, message: str) -> None:
    result = cli("checkpoint", "info", path)
    assert result.code == 1
    assert result.out == ""
    assert result.error_line.startswith("error: ")
    assert message in result.error_line
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "command",
    [
        ["checkpoint", "info"],
        ["checkpoint", "publish"],
        ["checkpoint", "unpublish"],
        ["checkpoint", "download"],
        ["checkpoint", "delete", "--yes"],
        ["checkpoint", "set-ttl", "--remove"],
    ],
    ids=lambda c: c[1],
)
@pytest.mark.parametrize("path", ["run-a/weights/x", "tinker://run-a/x", "tinker://r/bogus/x"])
def test_unparsable_paths_exit_1_before_any_request(
    cli: CLI, server: FakeTinker, command: list[str], path: str, tmp_path: Path
) -> None:
    sent = len(server.requests)
    extra = ["--output", str(tmp_path / "out")] if command[1] == "download" else []
    result = cli(*command, path, *extra)
    assert result.code == 1
    assert result.error_line.startswith("error: invalid checkpoint path: ")
    assert repr(path) in result.error_line
    assert "Traceback" not in result.err
    assert len(server.requests) == sent
    assert not (tmp_path / "out").exists()


# -- publish, unpublish, set-ttl ---------------------------------------------------------------


def test_publish_and_unpublish(cli: CLI, server: FakeTinker) -> None:
    serve_if_missing(server, "publish_checkpoint", "publish")
    result = cli("checkpoint", "publish", A1)
    assert result.code == 0, result.err
    assert result.out.strip() == f"{A1}: published"
    serve_if_missing(server, "unpublish_checkpoint", "publish")
    doc = cli("checkpoint", "unpublish", A1, "-f", "json").json()
    assert doc == {"path": A1, "public": False}
    sent = [(r.method, r.path) for r in server.requests if r.path.endswith("/publish")]
    path = "/api/v1/training_runs/run-a/checkpoints/weights/step-1/publish"
    assert sent == [("POST", path), ("DELETE", path)]


def test_set_ttl_both_ways(cli: CLI, server: FakeTinker) -> None:
    serve_if_missing(server, "set_checkpoint_ttl", "ttl", times=2)
    result = cli("checkpoint", "set-ttl", A2, "--ttl", "3600")
    assert result.code == 0, result.err
    assert result.out.strip() == f"{A2}: expires in 3600 s"
    doc = cli("checkpoint", "set-ttl", A2, "--remove", "-f", "json").json()
    assert doc == {"path": A2, "ttl_seconds": None}
    sent = [(r.method, r.path, r.json) for r in server.requests if r.path.endswith("/ttl")]
    path = "/api/v1/training_runs/run-a/checkpoints/weights/step-2/ttl"
    assert sent == [("PUT", path, {"ttl_seconds": 3600}), ("PUT", path, {"ttl_seconds": None})]


def test_publish_of_a_missing_checkpoint_exits_1(cli: CLI, server: FakeTinker) -> None:
    from tests.fake_tinker import faults

    server.inject("publish", faults.status(404, body={"detail": "unknown checkpoint"}))
    result = cli("checkpoint", "publish", "tinker://run-a/weights/ghost")
    assert result.code == 1
    assert result.error_line == (
        "error: cannot publish tinker://run-a/weights/ghost: it does not exist (unknown checkpoint)"
    )


# -- delete ------------------------------------------------------------------------------------


def test_delete_with_yes(cli: CLI, server: FakeTinker) -> None:
    result = cli("checkpoint", "delete", A0, A1, "--yes")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [f"deleted {A0}", f"deleted {A1}"]
    assert all_paths(server) == {A2, AS, B0}
    doc = cli("checkpoint", "delete", "-y", B0, "--format", "json").json()
    assert doc == {"deleted": [B0], "failed": []}
    assert all_paths(server) == {A2, AS}


def test_delete_without_yes_refuses_when_stdin_is_not_a_terminal(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # input, but not a terminal
    result = cli("checkpoint", "delete", A0)
    assert result.code == 2
    assert result.error_line == (
        "error: refusing to delete without confirmation: stdin is not a terminal; "
        "pass --yes to delete"
    )
    assert A0 in all_paths(server)
    assert not server.requests_to("delete_checkpoint")


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("answer", "deleted"),
    [("y\n", True), ("yes\n", True), ("n\n", False), ("\n", False), ("", False)],
)
def test_delete_asks_on_a_terminal(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch, answer: str, deleted: bool
) -> None:
    monkeypatch.setattr("sys.stdin", _TTY(answer))
    result = cli("checkpoint", "delete", A0, A1)
    assert result.err.startswith(f"about to delete 2 checkpoints:\n  {A0}\n  {A1}\n")
    assert "delete them? [y/N]: \n" in result.err
    if deleted:
        assert result.code == 0
        assert A0 not in all_paths(server)
        assert A1 not in all_paths(server)
    else:
        assert result.code == 1
        assert result.error_line == "error: aborted: nothing was deleted"
        assert {A0, A1} <= all_paths(server)
        assert not server.requests_to("delete_checkpoint")


def test_delete_of_a_missing_checkpoint_exits_1_and_deletes_the_rest(
    cli: CLI, server: FakeTinker
) -> None:
    ghost = "tinker://run-a/weights/ghost"
    result = cli("checkpoint", "delete", A0, ghost, A1, "--yes", "-f", "json")
    assert result.code == 1
    doc = result.json()
    assert doc["deleted"] == [A0, A1]
    assert [f["path"] for f in doc["failed"]] == [ghost]
    assert result.error_line.startswith(f"error: cannot delete {ghost}: it does not exist")
    assert all_paths(server) == {A2, AS, B0}


# -- download ----------------------------------------------------------------------------------

needs_download = pytest.mark.skipif(
    not hasattr(RestClient, "download_checkpoint"),
    reason="RestClient.download_checkpoint is not there yet (being added in parallel)",
)


def test_download_refuses_an_existing_directory_without_force(
    cli: CLI, server: FakeTinker, tmp_path: Path
) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = cli("checkpoint", "download", A2, "--output", str(target))
    assert result.code == 1
    assert result.error_line == (
        f"error: {target} already exists; pass --force to replace it, or choose another --output"
    )
    assert (target / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]


@needs_download
def test_download_table_and_json(cli: CLI, server: FakeTinker, tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    result = cli("checkpoint", "download", A2, "--output", str(target))
    assert result.code == 0, result.err
    assert result.out.startswith(f"downloaded {A2} to {target}")
    assert result.err == ""  # no progress bar when stderr is not a terminal
    files = [p for p in target.rglob("*") if p.is_file()]
    assert files
    doc = cli("checkpoint", "download", A2, "-o", str(target), "--force", "-f", "json").json()
    assert doc["path"] == A2
    assert Path(doc["output"]) == target
    assert doc["files"] == len([p for p in target.rglob("*") if p.is_file()])
    assert doc["bytes"] == sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


@needs_download
def test_download_of_a_missing_checkpoint_exits_1(cli: CLI, tmp_path: Path) -> None:
    target = tmp_path / "ghost"
    result = cli("checkpoint", "download", "tinker://run-a/weights/ghost", "-o", str(target))
    assert result.code == 1
    assert result.error_line.startswith("error: ")
    assert "tinker://run-a/weights/ghost" in result.error_line
    assert "not found" in result.error_line
    assert "Traceback" not in result.err
    assert not target.exists()
    assert not list(tmp_path.iterdir())  # nothing left behind


@needs_download
def test_download_into_an_unwritable_place_exits_1(cli: CLI, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    target = blocker / "out"  # cannot be created, even by root
    result = cli("checkpoint", "download", A2, "-o", str(target))
    assert result.code == 1
    assert result.error_line.startswith("error: ")
    assert "Traceback" not in result.err
    assert blocker.read_text() == "not a directory"


@needs_download
@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to read-only directories")
def test_download_into_a_read_only_directory_exits_1(cli: CLI, tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        result = cli("checkpoint", "download", A2, "-o", str(parent / "out"))
    finally:
        parent.chmod(0o700)
    assert result.code == 1
    assert result.error_line.startswith("error: ")
    assert "Traceback" not in result.err
    assert not list(parent.iterdir())


@needs_download
def test_download_onto_a_full_disk_exits_1_and_leaves_nothing(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(handle: object, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tinkex._download.checkpoint._write_chunk", full)
    target = tmp_path / "out"
    result = cli("checkpoint", "download", A2, "-o", str(target))
    assert result.code == 1
    assert result.error_line.startswith("error: ")
    assert "No space left on device" in result.error_line
    assert "Traceback" not in result.err
    assert not list(tmp_path.iterdir())  # no partial files
