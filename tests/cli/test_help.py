"""``--help`` of the command and every subcommand, ``version``, and argparse usage errors."""

from __future__ import annotations

import json

import pytest

from tinkex.cli import main

from .conftest import run_subprocess

SUBCOMMANDS = [
    ["version"],
    ["checkpoint"],
    ["checkpoint", "list"],
    ["checkpoint", "info"],
    ["checkpoint", "download"],
    ["checkpoint", "delete"],
    ["checkpoint", "publish"],
    ["checkpoint", "unpublish"],
    ["checkpoint", "set-ttl"],
    ["run"],
    ["run", "list"],
    ["run", "info"],
    ["sample"],
    ["model"],
    ["model", "list"],
    ["metrics"],
    ["metrics", "plot"],
    ["backend"],
    ["backend", "up"],
    ["backend", "status"],
    ["backend", "down"],
]


def test_app_help_lists_every_command_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tinkex")
    for group in ("version", "checkpoint", "run", "sample", "model", "backend"):
        assert f"    {group} " in out
    for option in ("--format", "--base-url", "--api-key", "--debug", "--timeout"):
        assert option in out
    assert "exit codes" in out


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(f"usage: tinkex {' '.join(command)}")
    assert "--format" in captured.out  # global options are accepted after the command too
    assert captured.err == ""


def test_group_help_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    main(["checkpoint", "--help"])
    out = capsys.readouterr().out
    for name in ("list", "info", "download", "delete", "publish", "unpublish", "set-ttl"):
        assert f"    {name} " in out


def test_help_in_a_subprocess() -> None:
    result = run_subprocess("--help")
    assert result.code == 0
    assert "checkpoint" in result.out
    result = run_subprocess("checkpoint", "download", "--help")
    assert result.code == 0
    assert "--force" in result.out
    assert "--output" in result.out


def test_python_dash_m_tinkex_is_the_command() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "tinkex", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint" in proc.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from tinkex._version import sdk_version

    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip().startswith(f"tinkex {sdk_version()} (Tinker API ")
    assert main(["version", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tinkex"] == sdk_version()
    assert set(doc) == {"tinkex", "api", "python"}
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("tinkex ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["checkpoint"], "the following arguments are required: COMMAND"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["checkpoint", "list", "--limit", "-1"], "argument --limit: must be 0 or more"),
        (["checkpoint", "list", "--limit", "many"], "argument --limit: not an integer"),
        (["checkpoint", "info"], "the following arguments are required: PATH"),
        (["checkpoint", "delete"], "the following arguments are required: PATH"),
        (["checkpoint", "set-ttl", "tinker://r/weights/a"], "one of the arguments --ttl --remove"),
        (
            ["checkpoint", "set-ttl", "tinker://r/weights/a", "--ttl", "5", "--remove"],
            "not allowed with argument",
        ),
        (["checkpoint", "set-ttl", "tinker://r/weights/a", "--ttl", "0"], "must be a positive"),
        (["--format", "yaml", "version"], "argument -f/--format: invalid choice: 'yaml'"),
        (["--timeout", "0", "version"], "argument --timeout: must be positive"),
        (["sample", "--tokens", "1,2"], "one of the arguments --model-path --base-model"),
        (["sample", "--base-model", "m"], "one of the arguments --prompt --prompt-file --tokens"),
        (["sample", "--base-model", "m", "--tokens", "1,x"], "expected token ids like 1,2,3"),
        (
            ["sample", "--base-model", "m", "--prompt", "a", "--tokens", "1"],
            "not allowed with argument",
        ),
        (["sample", "--base-model", "m", "--tokens", "1", "-n", "0"], "must be a positive"),
        (["run", "info"], "the following arguments are required: RUN_ID"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert message in last
    assert "--help" in last
    assert "Traceback" not in captured.err


def test_global_options_after_the_command_are_honoured(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version", "-f", "json"]) == 0
    json.loads(capsys.readouterr().out)
    # before the command, and not reset by the subcommand's own (suppressed) default
    assert main(["-f", "json", "version"]) == 0
    json.loads(capsys.readouterr().out)
