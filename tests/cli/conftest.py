"""Fixtures of the ``tinkex`` command tests: the fake server with seeded state, and runners
for the command in-process (``cli``) and in a real subprocess (``run_subprocess``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_tinker import FakeTinker, faults, server as fake_server_module
from tests.fake_tinker.plugin import fake_tinker, fake_tinker_server  # noqa: F401
from tests.fake_tinker.state import CheckpointRecord, ModelRecord
from tinkex.cli import main

#: A recognisable key: no output of any command may contain it.
API_KEY = "tml-CLI-TEST-SECRET-9f8e7d6c5b4a"
BASE_MODEL = "fake/tiny-model"
T0 = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def error_line(self) -> str:
        """The last line of stderr (where the one-line error goes)."""
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""

    @property
    def all(self) -> str:
        return self.out + self.err


def add_run(server: FakeTinker, run_id: str, *, minutes: int = 0, rank: int | None = 8) -> None:
    server.models[run_id] = ModelRecord(
        model_id=run_id,
        session_id="seeded-session",
        base_model=BASE_MODEL,
        lora_config={"rank": rank} if rank else None,
        optimizer_config={"type": "adamw"},
        created=T0 + dt.timedelta(minutes=minutes),
        last_request_time=T0 + dt.timedelta(minutes=minutes),
    )


def add_checkpoint(
    server: FakeTinker,
    run_id: str,
    checkpoint_id: str,
    *,
    seconds: int = 0,
    ttl_seconds: int | None = None,
) -> str:
    kind = {"weights": "training", "sampler_weights": "sampler"}[checkpoint_id.split("/")[0]]
    record = CheckpointRecord(
        run_id,
        checkpoint_id,
        kind,
        weights=seconds,
        time=T0 + dt.timedelta(seconds=seconds),
        ttl_seconds=ttl_seconds,
    )
    server.checkpoints[(run_id, checkpoint_id)] = record
    return record.tinker_path


@pytest.fixture
def server(fake_tinker_server: FakeTinker) -> FakeTinker:  # noqa: F811
    """The fake with two runs: run-a (3 training checkpoints, 1 sampler checkpoint with a TTL)
    and run-b (1 training checkpoint)."""
    add_run(fake_tinker_server, "run-a", minutes=1)
    add_run(fake_tinker_server, "run-b", minutes=2, rank=None)
    for i in range(3):
        add_checkpoint(fake_tinker_server, "run-a", f"weights/step-{i}", seconds=i)
    add_checkpoint(fake_tinker_server, "run-a", "sampler_weights/final", seconds=10, ttl_seconds=60)
    add_checkpoint(fake_tinker_server, "run-b", "weights/only", seconds=20)
    return fake_tinker_server


def serve_if_missing(server: FakeTinker, route: str, segment: str, times: int = 1) -> None:
    """Make the fake answer 200 to ``route`` when it does not implement it yet (the request is
    still recorded, so tests can check what was sent)."""
    if not any(r.name == route for r in fake_server_module._ROUTES):
        server.inject(segment, faults.status(200, body={}), times=times)


def tinkex_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tinkex" and t.is_alive()]


@pytest.fixture(autouse=True)
def _environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No settings leak in from the machine (nor a credential file from its home directory);
    every command's clients are closed at its end."""
    for name in (
        "TINKER_BASE_URL",
        "TINKER_API_KEY",
        "TINKER_TIMEOUT",
        "TINKER_MAX_RETRIES",
        "TINKER_CREDENTIAL_CMD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("COLUMNS", "200")
    yield
    deadline = time.monotonic() + 5
    while tinkex_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not tinkex_threads(), "a command left its client's loop thread running"


CLI = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], server: FakeTinker) -> CLI:
    """Run ``tinkex`` in-process against the seeded fake: ``cli("checkpoint", "list")``.

    ``base=False`` leaves out ``--base-url`` and ``--api-key``.
    """

    def run(*argv: str, base: bool = True) -> Result:
        capsys.readouterr()
        prefix = ["--base-url", server.base_url, "--api-key", API_KEY] if base else []
        code = main([*prefix, *argv])
        captured = capsys.readouterr()
        result = Result(code, captured.out, captured.err)
        assert API_KEY not in result.all, "the API key was printed"
        return result

    return run


def run_subprocess(
    *argv: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: Any = subprocess.DEVNULL,
    timeout: float = 30,
) -> Result:
    """``python -m tinkex.cli ARGV`` in a real process."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TINKER_") and k not in ("COLUMNS", "FORCE_COLOR")
    }
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "tinkex.cli", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        stdin=stdin,
        timeout=timeout,
        check=False,
    )
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert API_KEY not in result.all, "the API key was printed"
    return result
