"""The `tinkex` command against the real backend: list a run's checkpoints and download one;
check the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def tinkex(backend: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TINKER_BASE_URL": backend.base_url, "TINKER_API_KEY": "tml-local"}
    return subprocess.run(
        [sys.executable, "-m", "tinkex.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_cli_lists_and_downloads_a_checkpoint(backend: Any, training: Any, tmp_path: Path) -> None:
    path = training.save_weights_for_sampler("cli-e2e").result(timeout=300).path
    run_id = training.model_id
    listed = tinkex(backend, "checkpoint", "list", "--run-id", run_id, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    paths = [c["tinker_path"] for c in json.loads(listed.stdout)["checkpoints"]]
    assert path in paths
    out = tmp_path / "ckpt"
    got = tinkex(backend, "checkpoint", "download", path, "--output", str(out))
    assert got.returncode == 0, got.stderr
    files = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert "adapter_model.safetensors" in files
    assert "tml-local" not in got.stdout + got.stderr
    again = tinkex(backend, "checkpoint", "download", path, "--output", str(out))
    assert again.returncode == 1
    assert "--force" in again.stderr


def test_cli_auth_status_against_a_server_that_cannot_describe_keys(backend: Any) -> None:
    got = tinkex(backend, "auth", "status", "--format", "json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["accepted"] is True
    assert doc["key_source"] == "TINKER_API_KEY"
    assert doc["key"] is None  # skyrl-tx has no key endpoint: its capabilities answered instead
    assert "tml-local" not in got.stdout + got.stderr
