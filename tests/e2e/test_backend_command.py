"""A new user's path, end to end: ``tinkex backend up`` in a subprocess from an empty directory,
the README's first snippet copied verbatim into a file and run with only ``TINKER_BASE_URL``
set (no key), its loss going down, then ``tinkex backend down`` and the server's PID gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sdk.test_docs_snippets import readme_first_snippet

BUILD_TIMEOUT = 1800.0  # `up` on a cold cache builds for minutes


def _tinkex(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinkex", "backend", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _pid_gone(pid: int) -> bool:
    """No such process, or only its zombie (stopped, not yet reaped by init)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, OSError):
        return True
    return state == "Z"


def test_backend_up_then_the_readme_snippet_then_down(tmp_path: Path) -> None:
    from tinkex.local import status
    from tinkex.local._proc import free_port

    if status().running:
        pytest.skip("a server from `tinkex backend up` is running in this cache: not stopping it")
    env = {k: v for k, v in os.environ.items() if k not in ("TINKER_BASE_URL", "TINKER_API_KEY")}
    env["TINKER_TELEMETRY"] = "0"
    port = free_port()  # not 8000: something else on this machine may hold it
    up = _tinkex(tmp_path, env, "up", "--port", str(port), "--json", timeout=BUILD_TIMEOUT)
    assert up.returncode == 0, up.stderr[-3000:]
    info = json.loads(up.stdout)
    pid = int(info["pid"])
    try:
        assert info["base_url"] == f"http://127.0.0.1:{port}"
        assert info["base_model"] == "tiny-qwen3"
        assert info["export"] == f"export TINKER_BASE_URL=http://127.0.0.1:{port}"
        again = _tinkex(tmp_path, env, "up")  # idempotent: the same server, said again
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stdout
        assert again.stdout.splitlines()[-1] == info["export"]
        checked = _tinkex(tmp_path, env, "status")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "running, healthy" in checked.stdout

        script = tmp_path / "first.py"
        script.write_text(readme_first_snippet())
        ran = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env={**env, "TINKER_BASE_URL": info["base_url"]},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
        lines = ran.stdout.splitlines()
        steps = [line.split() for line in lines[:4]]
        assert [s[0] for s in steps] == ["0", "1", "2", "3"], ran.stdout
        losses = [float(s[1]) for s in steps]
        assert losses[-1] < losses[0], losses
        sampled = json.loads(lines[4])  # the sampled token ids
        assert isinstance(sampled, list)
        assert sampled
        # The README's next line: that run's loss curve, drawn from its metrics log.
        plotted = subprocess.run(
            [sys.executable, "-m", "tinkex", "metrics", "plot", "metrics.jsonl", "-o", "loss.png"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert plotted.returncode == 0, plotted.stderr[-3000:]
        assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        down = _tinkex(tmp_path, env, "down", timeout=60)
    assert down.returncode == 0, down.stderr
    assert f"(pid {pid})" in down.stdout
    assert _pid_gone(pid)
    after = _tinkex(tmp_path, env, "status")
    assert after.returncode == 1
    assert after.stdout.startswith("not running")
