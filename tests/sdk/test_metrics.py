"""tinkex.metrics: the JSONL log (always), the trackers and the plot (where installed)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinkex.metrics import MetricsLogger, plot_metrics, read_metrics


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


HAS_MATPLOTLIB = _installed("matplotlib")
HAS_TENSORBOARD = _installed("tensorboardX") or (_installed("torch") and _installed("tensorboard"))
HAS_WANDB = _installed("wandb")
HAS_MLFLOW = _installed("mlflow")


class RecordingSink:
    def __init__(self) -> None:
        self.logged: list[tuple[int, dict[str, float]]] = []
        self.closed = 0

    def log(self, step: int, metrics: Any) -> None:
        self.logged.append((step, dict(metrics)))

    def close(self) -> None:
        self.closed += 1


# ---------------------------------------------------------------------- the JSONL log


def test_each_step_is_one_json_line_on_disk_when_log_returns(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "a" / "metrics.jsonl"  # the folder is made
    with MetricsLogger(path) as log:
        log.log(0, {"loss:sum": 4.0, "loss:mean": 2.0}, loss=2.0, learning_rate=1e-4)
        # read before the logger is closed: the line is already there
        (first,) = [json.loads(line) for line in path.read_text().splitlines()]
        log.log(1, loss=np.float32(1.5), note="warmup done")
    records = list(read_metrics(path))
    assert first["step"] == 0
    assert first["loss"] == 2.0
    assert first["loss:sum"] == 4.0
    assert first["learning_rate"] == 1e-4
    assert isinstance(first["time"], float)
    assert records[1]["loss"] == 1.5
    assert records[1]["note"] == "warmup done"
    assert [r["step"] for r in records] == [0, 1]


def test_an_existing_file_is_appended_to_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with MetricsLogger(path) as log:
        log.log(0, loss=3.0)
    with path.open("a") as f:
        f.write('{"step": 1, "loss"')  # a run killed mid-line (not by this logger)
        f.write("\n")
    with MetricsLogger(path) as log:
        log.log(0, loss=2.5)
    assert [(r["step"], r["loss"]) for r in read_metrics(path)] == [(0, 3.0), (0, 2.5)]


def test_non_finite_values_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with MetricsLogger(path) as log:
        log.log(0, loss=float("nan"), grad=float("inf"))
    (record,) = read_metrics(path)
    assert math.isnan(record["loss"])
    assert record["grad"] == math.inf


def test_threads_logging_at_once_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    payload = "x" * 5000  # lines longer than any stdio buffer
    with MetricsLogger(path) as log:

        def work(worker: int) -> None:
            for step in range(50):
                log.log(step, worker=worker, payload=payload)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 200
    assert all(json.loads(line)["payload"] == payload for line in lines)


def test_the_numbers_are_forwarded_and_sinks_closed_once(tmp_path: Path) -> None:
    sink = RecordingSink()
    log = MetricsLogger(tmp_path / "m.jsonl", forward_to=[sink])
    log.log(3, {"loss:sum": 1.0, "flag": True}, loss=0.5, note="text", lr=np.float64(0.1))
    log.close()
    log.close()
    assert sink.logged == [(3, {"loss": 0.5, "loss:sum": 1.0, "lr": 0.1})]
    assert sink.closed == 1
    with pytest.raises(ValueError, match="closed"):
        log.log(4, loss=1.0)


def test_memory_stays_bounded(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path / "m.jsonl") as log:
        for step in range(2000):
            log.log(step, loss=1.0 / (step + 1))
        assert log.last is not None
        assert log.last["step"] == 1999
        assert [k for k, v in vars(log).items() if isinstance(v, list | dict) and len(v) > 20] == []


# ---------------------------------------------------------------------- the trackers


def _logged(tmp_path: Path, sink: Any) -> None:
    with MetricsLogger(tmp_path / "m.jsonl", forward_to=[sink]) as log:
        for step in range(3):
            log.log(step, {"loss:sum": 10.0 - step}, loss=5.0 - step)


@pytest.mark.skipif(
    not HAS_TENSORBOARD, reason="needs tensorboardX: pip install 'tinkex[tensorboard]'"
)
def test_tensorboard_sink_writes_event_files(tmp_path: Path) -> None:
    from tinkex.metrics import TensorBoardSink

    _logged(tmp_path, TensorBoardSink(tmp_path / "tb"))
    events = list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert events
    assert events[0].stat().st_size > 0


@pytest.mark.skipif(not HAS_WANDB, reason="needs wandb: pip install 'tinkex[wandb]'")
def test_wandb_sink_logs_an_offline_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinkex.metrics import WandbSink

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    sink = WandbSink(project="tinkex-test", dir=str(tmp_path))
    log = MetricsLogger(tmp_path / "m.jsonl", forward_to=[sink])
    for step in range(3):
        log.log(step, {"loss:sum": 10.0 - step}, loss=5.0 - step)
    # wandb commits a step's row when a later step comes (or at finish): step 1 is in.
    assert sink.run.summary["loss"] == 4.0
    assert sink.run.summary["loss:sum"] == 9.0
    log.close()
    (offline,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    assert offline.stat().st_size > 0


@pytest.mark.skipif(not HAS_MLFLOW, reason="needs mlflow: pip install 'tinkex[mlflow]'")
def test_mlflow_sink_logs_to_a_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3.x: opt in to file stores

    from tinkex.metrics import MLflowSink

    uri = (tmp_path / "mlruns").as_uri()
    sink = MLflowSink(uri, experiment="tinkex-test", run_name="sft", params={"rank": 8})
    _logged(tmp_path, sink)
    client = mlflow.MlflowClient(tracking_uri=uri)
    history = client.get_metric_history(sink.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 5.0), (1, 4.0), (2, 3.0)]
    run = client.get_run(sink.run_id)
    assert run.data.params == {"rank": "8"}
    assert run.info.status == "FINISHED"


@pytest.mark.parametrize(
    ("name", "extra", "module"),
    [("TensorBoardSink", "tensorboard", "tensorboardX"), ("WandbSink", "wandb", "wandb"),
     ("MLflowSink", "mlflow", "mlflow")],
)  # fmt: skip
def test_a_missing_tracker_names_its_extra(name: str, extra: str, module: str) -> None:
    # A fresh interpreter where the tracker (and torch's writer) cannot be imported.
    code = (
        "import sys\n"
        f"for m in ({module!r}, 'torch'): sys.modules[m] = None\n"
        "import tinkex.metrics as tm\n"
        f"try:\n    getattr(tm, {name!r})()\n"
        "except ImportError as e:\n    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert f"pip install 'tinkex[{extra}]'" in out.stdout, out.stderr


# ---------------------------------------------------------------------- the plot


def _write_run(path: Path, losses: list[float], **extra: float) -> None:
    with MetricsLogger(path) as log:
        for step, loss in enumerate(losses):
            log.log(step, loss=loss, **extra)


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib: pip install 'tinkex[plot]'")
def test_plot_writes_a_png_of_the_loss(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    _write_run(path, [3.0, 2.5, float("nan"), 2.0], lr=0.1)
    _write_run(path, [2.8, 2.2])  # a second run appended: a second curve
    out = tmp_path / "plots" / "loss.png"
    assert plot_metrics(path, out) == ["loss"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_metrics(path, tmp_path / "two.svg", keys=["loss", "lr"]) == ["loss", "lr"]
    assert "<svg" in (tmp_path / "two.svg").read_text()


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib: pip install 'tinkex[plot]'")
def test_plot_falls_back_to_the_servers_loss_keys_and_names_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    with MetricsLogger(path) as log:
        log.log(0, {"loss:mean": 2.0, "grad_norm": 1.0})
    assert plot_metrics(path, tmp_path / "a.png") == ["loss:mean"]
    with pytest.raises(ValueError, match=r"no finite values for accuracy.*grad_norm, loss:mean"):
        plot_metrics(path, tmp_path / "b.png", keys=["accuracy"])
