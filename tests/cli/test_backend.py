"""``tinkex backend up|status|down`` without a real server: the launcher's build and start are
faked where they would take minutes; processes are real ``sleep`` processes of the test's own
(stopped by PID), and "healthy" is a tiny HTTP server on 127.0.0.1 answering healthz."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tinkex.local as local
from tinkex.cli import _backend as cli_backend, main
from tinkex.local import _proc, _record


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test has a cache of its own, and nothing may build or start a real server."""
    root = tmp_path / "cache"
    monkeypatch.setenv("TINKEX_BACKEND_CACHE", str(root))

    def no_start(*args: object, **kwargs: object) -> local.Backend:
        raise AssertionError("this test must not start a server")

    monkeypatch.setattr(_record, "start_backend", no_start)
    return root


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process group of the test's own, standing in for a server (stopped by PID at the end)."""
    proc = subprocess.Popen(["sleep", "120"], start_new_session=True)
    try:
        yield proc
    finally:
        _proc.stop_process_group(proc.pid, proc, grace=5)


class _Healthz(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/v1/healthz" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def healthz() -> Iterator[int]:
    """A port on 127.0.0.1 that answers ``GET /api/v1/healthz`` with 200."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _backend(pid: int, port: int, cache: Path) -> local.Backend:
    run = cache / "runs" / "r1"
    run.mkdir(parents=True, exist_ok=True)
    return local.Backend(
        base_url=f"http://127.0.0.1:{port}",
        base_model="tiny-qwen3",
        model_dir=cache / "models" / "tiny-qwen3-x",
        pid=pid,
        port=port,
        log_path=run / "server.log",
        run_dir=run,
        python=cache / "venv" / "bin" / "python",
        started_at=time.time(),
        ready_seconds=1.0,
    )


def _record_server(backend: local.Backend, **override: Any) -> None:
    local.state_file().parent.mkdir(parents=True, exist_ok=True)
    local.state_file().write_text(json.dumps({**backend.to_json(), **override}))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["backend", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_cli_constants_are_the_launchers() -> None:
    assert cli_backend.DEFAULT_PORT == local.DEFAULT_PORT
    assert cli_backend.MODEL_ALIAS == local.MODEL_ALIAS
    assert cli_backend.MAX_LORA_RANK == local.MAX_LORA_RANK


def test_status_without_a_record_is_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "status")
    assert code == 1
    assert out.startswith("not running: no server recorded in ")
    assert "tinkex backend up" in out
    code, out, _ = _run(capsys, "status", "--json")
    assert code == 1
    doc = json.loads(out)
    assert (doc["running"], doc["healthy"], doc["base_url"]) == (False, False, None)


def test_down_without_a_record_has_nothing_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "down")
    assert (code, out.startswith("nothing to stop: no server recorded")) == (0, True)


def test_down_with_a_stale_pid_removes_the_record(
    cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    _record_server(_backend(gone.pid, _proc.free_port(), cache))
    code, out, _ = _run(capsys, "status")
    assert code == 1
    assert f"pid {gone.pid} is gone" in out
    code, out, _ = _run(capsys, "down")
    assert code == 0
    assert f"pid {gone.pid} was not running" in out
    assert not local.state_file().exists()


def test_a_reused_pid_is_never_stopped(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The record names a PID that is alive but started at another time: another process.
    with subprocess.Popen(["sleep", "30"], start_new_session=True) as other:
        try:
            _record_server(_backend(other.pid, _proc.free_port(), cache), pid_start="1")
            code, out, _ = _run(capsys, "down", "--json")
            assert code == 0
            assert json.loads(out)["stopped"] is False
            assert other.poll() is None  # still running
        finally:
            other.kill()


def test_down_stops_the_recorded_process_group(
    cache: Path, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    _record_server(_backend(sleeper.pid, _proc.free_port(), cache))
    code, out, _ = _run(capsys, "down")
    assert code == 0
    assert "stopped the local backend at http://127.0.0.1:" in out
    assert sleeper.wait(timeout=20) is not None
    assert not local.state_file().exists()


def test_status_of_a_running_server(
    cache: Path,
    sleeper: subprocess.Popen[bytes],
    healthz: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _record_server(_backend(sleeper.pid, healthz, cache))
    code, out, _ = _run(capsys, "status")
    assert code == 0
    assert "running, healthy" in out
    assert f"http://127.0.0.1:{healthz}" in out
    assert "tiny-qwen3" in out
    assert str(sleeper.pid) in out
    code, out, _ = _run(capsys, "status", "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["running"], doc["healthy"], doc["pid"]) == (True, True, sleeper.pid)


def test_status_of_a_server_that_does_not_answer(
    cache: Path, sleeper: subprocess.Popen[bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    _record_server(_backend(sleeper.pid, _proc.free_port(), cache))
    code, out, _ = _run(capsys, "status")
    assert code == 1
    assert "NOT answering /api/v1/healthz" in out


def test_up_on_a_taken_port_names_the_port_and_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, out, err = _run(capsys, "up", "--port", str(port))
    assert code == 1
    assert out == ""
    assert f"port {port} on 127.0.0.1 is in use" in err
    assert "--port" in err


@pytest.mark.parametrize("value", ["0", "70000", "http"])
def test_up_rejects_a_bad_port(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "up", "--port", value)
    assert code == 2
    assert "--port" in err


def test_up_when_already_running_prints_the_same_and_starts_nothing(
    cache: Path,
    sleeper: subprocess.Popen[bytes],
    healthz: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _record_server(_backend(sleeper.pid, healthz, cache))
    code, out, _ = _run(capsys, "up")
    assert code == 0
    assert "already running" in out
    assert out.splitlines()[-1] == f"export TINKER_BASE_URL=http://127.0.0.1:{healthz}"
    code, out, _ = _run(capsys, "up", "--json")
    doc = json.loads(out)
    assert (code, doc["already_running"], doc["base_model"]) == (0, True, "tiny-qwen3")
    code, _, err = _run(capsys, "up", "--port", str(_proc.free_port()))
    assert code == 1
    assert "already runs at" in err
    assert "tinkex backend down" in err


def test_up_starts_records_and_prints_an_eval_able_block(
    cache: Path,
    sleeper: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = _proc.free_port()
    calls: list[dict[str, Any]] = []

    def fake_start(**kwargs: Any) -> local.Backend:
        calls.append(kwargs)
        return _backend(sleeper.pid, kwargs["port"], cache)

    monkeypatch.setattr(_record, "start_backend", fake_start)
    code, out, _ = _run(capsys, "up", "--port", str(port))
    assert code == 0
    assert calls == [{"timeout": None, "detach": True, "port": port}]
    lines = out.splitlines()
    assert all(line.startswith(("# ", "export ")) for line in lines), out  # eval "$(...)"
    assert lines[-1] == f"export TINKER_BASE_URL=http://127.0.0.1:{port}"
    assert "base model: tiny-qwen3 (LoRA rank up to 8)" in out
    record = json.loads(local.state_file().read_text())
    assert (record["pid"], record["port"], record["base_model"]) == (
        sleeper.pid,
        port,
        "tiny-qwen3",
    )
    assert local.status().running
