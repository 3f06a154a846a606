"""Exit codes, one-line errors, ``--debug``, the API key, real subprocesses and terminals."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_tinker import FakeTinker, faults

from .conftest import API_KEY, CLI, run_subprocess

A0 = "tinker://run-a/weights/step-0"


def assert_one_line_error(err: str, starts: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(starts), lines[0]
    assert "Traceback" not in err


# -- API errors --------------------------------------------------------------------------------


def test_rejected_key_exits_1_and_never_shows_the_key(cli: CLI, server: FakeTinker) -> None:
    # a server that echoes the key back in its error must not get it printed either
    server.inject("*", faults.status(401, body={"detail": f"unknown key {API_KEY}"}))
    result = cli("checkpoint", "list")
    assert result.code == 1
    assert result.out == ""
    assert_one_line_error(result.err, f"error: {server.base_url} rejected the API key (401)")
    assert "--api-key" in result.err
    assert "TINKER_API_KEY" in result.err
    assert "tinkex auth login" in result.err


def test_debug_shows_the_traceback_without_the_key(cli: CLI, server: FakeTinker) -> None:
    server.inject("*", faults.status(401, body={"detail": f"unknown key {API_KEY}"}))
    result = cli("--debug", "run", "list")
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.err
    assert "AuthenticationError" in result.err
    assert result.error_line.startswith("error: ")
    assert "DEBUG tinkex" in result.err  # requests are logged
    assert API_KEY not in result.all


def test_debug_traceback_of_a_missing_checkpoint(cli: CLI) -> None:
    quiet = cli("checkpoint", "info", "tinker://ghost/weights/x")
    assert quiet.code == 1
    assert_one_line_error(quiet.err, "error: checkpoint tinker://ghost/weights/x not found")
    loud = cli("checkpoint", "info", "tinker://ghost/weights/x", "--debug")
    assert loud.code == 1
    assert "Traceback (most recent call last)" in loud.err
    assert "NotFoundError" in loud.err
    assert loud.error_line == quiet.error_line


def test_server_error_after_retries_exits_1(cli: CLI, server: FakeTinker) -> None:
    server.inject("get_server_capabilities", faults.status(500, body={"detail": "boom"}), times=9)
    result = cli("--max-retries", "1", "model", "list")
    assert result.code == 1
    assert_one_line_error(result.err, f"error: {server.base_url} answered with an error: boom")
    assert "gave up after 2 attempts" in result.err


def test_unreachable_server_exits_1_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from tinkex.cli import main

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    code = main(["--base-url", f"http://127.0.0.1:{port}", "--max-retries", "0", "run", "list"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1
    assert_one_line_error(err, f"error: cannot reach http://127.0.0.1:{port}")
    assert "--base-url" in err
    assert elapsed < 3


def test_a_server_never_reached_is_said_once_in_its_own_words() -> None:
    import httpx
    from sdkgen.runtime import APIConnectionError
    from sdkgen.runtime._liveness import first_contact_error

    from tinkex.cli._errors import explain

    last = APIConnectionError(
        "ConnectError: [Errno 111] Connection refused",
        endpoint="list_checkpoints",
        method="GET",
        path="/api/v1/checkpoints",
    )
    last.__cause__ = httpx.ConnectError("[Errno 111] Connection refused")
    err = first_contact_error(last, base_url="http://127.0.0.1:9", limit=10)
    code, message = explain(err, base_url="http://127.0.0.1:9")
    assert code == 1
    assert message == str(err)  # not wrapped in "cannot reach ... (could not reach ...)"
    assert message.startswith("could not reach http://127.0.0.1:9: connection refused")
    assert "\n" not in message


def test_invalid_settings_exit_2(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("--base-url", "ftp://example", "run", "list", base=False)
    assert result.code == 2
    assert_one_line_error(result.err, "error: invalid setting: base_url='ftp://example'")
    monkeypatch.setenv("TINKER_BASE_URL", "localhost:8000")
    result = cli("run", "list", base=False)
    assert result.code == 2
    assert "TINKER_BASE_URL='localhost:8000' must start with http://" in result.err


def test_environment_supplies_url_and_key(
    cli: CLI, server: FakeTinker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_BASE_URL", server.base_url)
    monkeypatch.setenv("TINKER_API_KEY", API_KEY)
    result = cli("--debug", "run", "list", base=False)
    assert result.code == 0, result.err
    (request,) = server.requests_to("list_training_runs")
    assert request.headers["x-api-key"] == API_KEY  # sent, but never printed (checked by cli)


def test_interrupt_exits_130(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(ctx: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("tinkex.cli._model._list", interrupted)
    result = cli("model", "list")
    assert result.code == 130
    assert_one_line_error(result.err, "error: interrupted")


def test_unexpected_errors_point_to_debug(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: object) -> int:
        raise RuntimeError("something odd")

    monkeypatch.setattr("tinkex.cli._run._list", broken)
    result = cli("run", "list")
    assert result.code == 1
    assert_one_line_error(
        result.err,
        "error: unexpected RuntimeError: something odd (run with --debug to see the traceback)",
    )
    assert "Traceback" in cli("run", "list", "--debug").err


# -- real subprocesses -------------------------------------------------------------------------


def test_subprocess_exit_codes_0_1_2(server: FakeTinker, tmp_path: Path) -> None:
    env = {"TINKER_BASE_URL": server.base_url, "TINKER_API_KEY": API_KEY}
    ok = run_subprocess("checkpoint", "list", "--format", "json", env=env, cwd=tmp_path)
    assert ok.code == 0, ok.err
    assert len(json.loads(ok.out)["checkpoints"]) == 5
    assert ok.err == ""

    failed = run_subprocess("checkpoint", "info", "tinker://run-a/nope", env=env)
    assert failed.code == 1
    assert_one_line_error(failed.err, "error: invalid checkpoint path: ")

    missing = run_subprocess("run", "info", "ghost", "--debug", env=env)
    assert missing.code == 1
    assert "Traceback (most recent call last)" in missing.err
    assert missing.err.strip().splitlines()[-1].startswith("error: training run 'ghost'")

    usage = run_subprocess("checkpoint", "list", "--limit", "lots", env=env)
    assert usage.code == 2
    assert usage.err.strip().splitlines()[-1].startswith("error: argument --limit")

    refused = run_subprocess("checkpoint", "delete", A0, env=env)  # stdin: /dev/null
    assert refused.code == 2
    assert "pass --yes" in refused.err
    assert ("run-a", "weights/step-0") in server.checkpoints

    exists = tmp_path / "out"
    exists.mkdir()
    dl = run_subprocess("checkpoint", "download", A0, "--output", str(exists), env=env)
    assert dl.code == 1
    assert_one_line_error(dl.err, f"error: {exists} already exists; pass --force")


def test_subprocess_key_from_the_command_line_is_never_printed(server: FakeTinker) -> None:
    server.inject("*", faults.status(403, body={"detail": f"key {API_KEY} may not"}))
    result = run_subprocess(
        "--base-url", server.base_url, "--api-key", API_KEY, "--debug", "checkpoint", "list"
    )
    assert result.code == 1
    assert "permission denied" in result.error_line
    # run_subprocess asserts that API_KEY appears in neither stdout nor stderr


def test_delete_confirmation_on_a_real_terminal(server: FakeTinker) -> None:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINKER_")}
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tinkex.cli",
                "--base-url",
                server.base_url,
                "checkpoint",
                "delete",
                A0,
            ],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        os.write(master, b"y\n")
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, err
    assert "delete it? [y/N]" in err
    assert out.strip() == f"deleted {A0}"
    assert ("run-a", "weights/step-0") not in server.checkpoints


# -- terminals: progress and tables ------------------------------------------------------------


def _stderr_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    real = __import__("tinkex.cli._output", fromlist=["isatty"]).isatty

    def fake(stream: object) -> bool:
        return stream is sys.stderr or real(stream)

    monkeypatch.setattr("tinkex.cli._output.isatty", fake)


def test_no_progress_when_stderr_is_not_a_terminal(cli: CLI) -> None:
    result = cli("checkpoint", "list", "--limit", "0", "-f", "json")
    assert result.err == ""


def test_plain_progress_on_a_terminal_without_rich(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tinkex.cli._output.rich_available", lambda: False)
    _stderr_is_a_terminal(monkeypatch)
    result = cli("checkpoint", "list", "--limit", "0", "-f", "json")
    assert result.code == 0
    assert json.loads(result.out)["count"] == 5  # stdout stays one JSON document
    assert "\rfetching checkpoints: 5" in result.err
    result = cli("checkpoint", "delete", A0, "tinker://run-b/weights/only", "--yes")
    assert "\rdeleting: 2/2" in result.err


def test_rich_progress_and_table_on_a_terminal(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("rich")
    monkeypatch.setattr("tinkex.cli._output.isatty", lambda stream: True)
    result = cli("checkpoint", "list")
    assert result.code == 0
    assert "fetching checkpoints" in result.err
    lines = result.out.splitlines()
    header = next(line for line in lines if "PATH" in line)
    assert header.split() == ["PATH", "TYPE", "SIZE", "PUBLIC", "CREATED", "EXPIRES"]
    for path in ("tinker://run-a/sampler_weights/final", "tinker://run-b/weights/only"):
        assert any(line.split()[:1] == [path] for line in lines if line.strip())
    info = cli("run", "info", "run-a")
    assert "base model" in info.out
    assert "fake/tiny-model" in info.out


def test_plain_table_when_rich_is_missing(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tinkex.cli._output.rich_available", lambda: False)
    monkeypatch.setattr("tinkex.cli._output.isatty", lambda stream: True)
    result = cli("model", "list")
    assert result.out.splitlines() == [
        "MODEL            MAX CONTEXT  TRAINABLE  SAMPLEABLE",
        "fake/tiny-model  4096         yes        yes",
    ]


def test_timeout_option_bounds_each_attempt(cli: CLI, server: FakeTinker) -> None:
    server.inject("get_server_capabilities", faults.delay(10.0))
    started = time.monotonic()
    result = cli("--timeout", "0.3", "--max-retries", "0", "model", "list")
    assert time.monotonic() - started < 6.0  # far below the 10 s the server would take
    assert result.code == 1
    assert_one_line_error(result.err, f"error: {server.base_url} did not answer in time")
    assert "--timeout" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--apikey", API_KEY, "version"],  # misspelt: argparse quotes the value back
        ["version", f"--api_key={API_KEY}"],
        ["--key", API_KEY, "version"],
    ],
)
def test_a_misspelt_key_option_does_not_print_the_key(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from tinkex.cli import main

    assert main(argv) == 2
    captured = capsys.readouterr()
    assert API_KEY not in captured.out + captured.err
    assert "***" in captured.err


def test_an_abbreviated_key_option_is_used_and_masked(cli: CLI, server: FakeTinker) -> None:
    result = cli(
        "--base-url", server.base_url, "--api", API_KEY, "--debug", "run", "list", base=False
    )
    assert result.code == 0
    assert server.requests_to("list_training_runs")[0].headers["x-api-key"] == API_KEY
