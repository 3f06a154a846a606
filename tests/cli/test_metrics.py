"""``tinkex metrics plot``: a metrics JSONL file drawn as an image (no server involved)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinkex.cli import main
from tinkex.metrics import MetricsLogger

from .conftest import run_subprocess

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None,
    reason="needs matplotlib: pip install 'tinkex[plot]'",
)


@pytest.fixture
def metrics_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics.jsonl"
    with MetricsLogger(path) as log:
        for step, loss in enumerate([3.0, 2.4, 2.1, 1.9]):
            log.log(step, {"loss:sum": loss * 10}, loss=loss, learning_rate=1e-4)
    return path


@needs_matplotlib
def test_plot_writes_the_png(
    metrics_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "loss.png"
    assert main(["metrics", "plot", str(metrics_file), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out} (loss)"
    assert out.read_bytes()[:4] == b"\x89PNG"


@needs_matplotlib
def test_plot_keys_and_json_output(
    metrics_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "curves.svg"
    argv = ["metrics", "plot", str(metrics_file), "-o", str(out), "-k", "loss:sum", "-k", "loss"]
    assert main([*argv, "-f", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": str(out), "keys": ["loss:sum", "loss"]}


@needs_matplotlib
def test_plot_of_a_missing_key_or_file_fails_with_one_line(
    metrics_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.png"
    assert main(["metrics", "plot", str(metrics_file), "-o", str(out), "-k", "accuracy"]) == 1
    err = capsys.readouterr().err
    assert "no finite values for accuracy" in err
    assert "learning_rate, loss, loss:sum" in err
    assert not out.exists()
    assert main(["metrics", "plot", str(tmp_path / "absent.jsonl"), "-o", str(out)]) == 1
    assert "absent.jsonl" in capsys.readouterr().err


def test_plot_without_matplotlib_names_the_extra(metrics_file: Path, tmp_path: Path) -> None:
    # A real process where matplotlib cannot be imported, installed or not.
    code = (
        "import sys; sys.modules['matplotlib'] = None; "
        "from tinkex.cli import main; "
        f"sys.exit(main(['metrics', 'plot', {str(metrics_file)!r}, '-o', {str(tmp_path / 'x.png')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "pip install 'tinkex[plot]'" in result.stderr


@needs_matplotlib
def test_plot_from_the_installed_command(metrics_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub.png"
    result = run_subprocess("metrics", "plot", str(metrics_file), "-o", str(out))
    assert result.code == 0, result.err
    assert out.exists()
