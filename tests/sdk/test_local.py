"""tinkex.local's parts that need no server: a cheap import, the build steps' progress and
failures, the model alias's link, the torch source check, the files the package ships."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinkex.local as local
from tinkex.local import _build, _common, _proc, _server


def test_importing_it_loads_the_standard_library_only() -> None:
    code = (
        "import sys, tinkex.local\n"
        "heavy = [m for m in ('httpx', 'pydantic', 'numpy', 'sdkgen', 'urllib.request')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_package_ships_the_uv_stand_in_and_the_model_script() -> None:
    assert _common.UV_STANDIN.read_text().startswith("#!/bin/sh")
    assert "def build_model" in _common.TINY_MODEL_SCRIPT.read_text()
    # The model directory is keyed on the script: the same script, the same directory.
    assert _build.model_dir() == _build.model_dir()
    assert _build.model_dir().name.startswith("tiny-qwen3-")


def test_a_step_prints_what_it_does_and_a_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINKEX_BACKEND_CACHE", str(tmp_path))
    monkeypatch.setattr(_build, "HEARTBEAT_SECONDS", 0.3)
    watched = tmp_path / "venv"
    watched.mkdir()
    code = (
        "import pathlib, sys, time\n"
        "print('Collecting something', flush=True)\n"
        "pathlib.Path(sys.argv[1], 'f').write_bytes(b'x' * 4096)\n"
        "time.sleep(1.5)\n"
    )
    seconds = _build.run_step(
        "demo", "1/1 do a thing", [sys.executable, "-c", code, str(watched)], watch=watched
    )
    assert seconds > 1
    err = capsys.readouterr().err
    assert "[tinkex backend] demo: 1/1 do a thing (log: " in err
    beats = [line for line in err.splitlines() if "demo: still running" in line]
    assert beats, err
    assert "log " in beats[-1]
    assert "venv 4.0 KiB (+4.0 KiB)" in beats[-1]
    assert beats[-1].endswith("last: Collecting something")
    assert "demo: done in" in err
    assert (tmp_path / "logs" / "install-demo.log").read_text().startswith("$ ")


def test_a_failed_step_names_itself_its_exit_code_and_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKEX_BACKEND_CACHE", str(tmp_path))
    cmd = [sys.executable, "-c", "print('ERROR: no matching distribution'); raise SystemExit(3)"]
    with pytest.raises(local.BackendError) as caught:
        _build.run_step("deps", "install", cmd)
    message = str(caught.value)
    assert "install step 'deps' failed (exit 3)" in message
    assert str(tmp_path / "logs" / "install-deps.log") in message
    assert "ERROR: no matching distribution" in message  # the log's tail


def test_build_steps_do_not_inherit_tinkex_python_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKEX_BACKEND_CACHE", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", "/somewhere/tinkex/src")
    _build.run_step(
        "env", "show", [sys.executable, "-c", "import os; print(os.environ.get('PYTHONPATH'))"]
    )
    assert (tmp_path / "logs" / "install-env.log").read_text().splitlines()[-1] == "None"


def test_the_alias_link_points_at_the_model_and_is_replaced_when_stale(tmp_path: Path) -> None:
    run, old, new = tmp_path / "run", tmp_path / "m-old", tmp_path / "m-new"
    for d in (run, old, new):
        d.mkdir()
    _server._link_model(run, old)
    assert os.readlink(run / "tiny-qwen3") == str(old)
    _server._link_model(run, old)  # again: unchanged
    _server._link_model(run, new)  # a new model (the script changed): the link follows
    assert os.readlink(run / "tiny-qwen3") == str(new)
    assert sorted(p.name for p in run.iterdir()) == ["tiny-qwen3"]


def test_torch_from_an_index_or_with_cuda_is_refused() -> None:
    local_wheel = {
        "install": [
            {
                "metadata": {"name": "torch", "version": "2.13.0+cpu"},
                "download_info": {"url": "file:///opt/wheels/torch.whl"},
            }
        ]
    }
    assert _build.torch_download_problem(local_wheel) is None
    remote = {"install": [{**local_wheel["install"][0], "download_info": {"url": "https://x"}}]}
    assert "instead of a local CPU wheel" in str(_build.torch_download_problem(remote))
    cuda = {"install": [{"metadata": {"name": "nvidia-cublas-cu12", "version": "1"}}]}
    assert "CUDA" in str(_build.torch_download_problem(cuda))


def test_a_port_in_use_is_seen_and_a_free_one_is_not(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        assert _proc.port_taken(holder.getsockname()[1])
    assert not _proc.port_taken(_proc.free_port())


def test_start_backend_on_a_taken_port_fails_before_building(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    def no_build() -> Path:
        raise AssertionError("must not build")

    monkeypatch.setattr(_server, "ensure_env", no_build)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(local.PortInUseError) as caught:
            local.start_backend(port=port)
    assert caught.value.port == port
    assert f"port {port}" in str(caught.value)


def test_waiting_for_another_builder_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl
    import threading

    monkeypatch.setenv("TINKEX_BACKEND_CACHE", str(tmp_path))
    with open(tmp_path / ".build.lock", "w") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another launcher is building
        got = threading.Event()

        def take() -> None:
            with _common.file_lock(".build.lock"):
                got.set()

        taker = threading.Thread(target=take)
        taker.start()
        try:
            for _ in range(100):
                if "waiting for it" in capsys.readouterr().err:
                    break
                taker.join(timeout=0.05)
            else:
                pytest.fail("no message while waiting for the lock")
            assert not got.is_set()
        finally:
            fcntl.flock(other, fcntl.LOCK_UN)
        taker.join(timeout=10)
    assert got.is_set()


def test_the_alias_resolves_to_the_built_model_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinkex._tokenizer import _local_alias
    from tinkex.local import MODEL_ALIAS, alias_model_dir, venv_python
    from tinkex.local._build import model_dir

    monkeypatch.setenv("TINKEX_BACKEND_CACHE", str(tmp_path))
    assert alias_model_dir(MODEL_ALIAS) is None  # nothing built: no model to point at
    venv_python().parent.mkdir(parents=True)
    venv_python().touch()
    built = model_dir()
    built.mkdir(parents=True)
    (built / "tinkex_tiny_model.json").write_text("{}")  # the marker of a finished build
    assert alias_model_dir(MODEL_ALIAS) == built
    assert alias_model_dir("Qwen/Qwen3-8B") is None
    assert _local_alias(MODEL_ALIAS) == str(built)  # what the tokenizer loader is given
    monkeypatch.chdir(tmp_path)
    (tmp_path / MODEL_ALIAS).mkdir()
    assert _local_alias(MODEL_ALIAS) is None  # a directory of that name here wins
