"""Experiment trackers a :class:`~tinkex.metrics.MetricsLogger` forwards to.

Each tracker's library is imported when its sink is made, never by ``import tinkex``; a missing
one fails there with the extra that installs it.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["MLflowSink", "TensorBoardSink", "WandbSink"]


def _require(module: str, extra: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{what} needs `{module}`; install it with: pip install 'tinkex[{extra}]'"
        ) from None


class TensorBoardSink:
    """Writes each step's numbers as TensorBoard scalars to ``log_dir``.

    Uses ``torch.utils.tensorboard`` where torch and tensorboard are installed, otherwise
    tensorboardX (``pip install 'tinkex[tensorboard]'``).

    Args:
        log_dir: the folder of the event files (``tensorboard --logdir`` it); ``None``: the
            writer's default, ``runs/<date>_<host>``.

    Example::

        MetricsLogger("metrics.jsonl", forward_to=[TensorBoardSink("runs/tb")])
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None) -> None:
        try:
            writers: Any = importlib.import_module("torch.utils.tensorboard")
        except ImportError:  # no torch, or torch without the tensorboard package
            writers = _require("tensorboardX", "tensorboard", "TensorBoardSink")
        self._writer = writers.SummaryWriter(log_dir=None if log_dir is None else str(log_dir))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self._writer.add_scalar(key, value, global_step=step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbSink:
    """Logs each step's numbers to a Weights & Biases run (``wandb.init(**init)``).

    ``WANDB_MODE=offline`` (or ``mode="offline"``) keeps the run on disk, for ``wandb sync``
    later. Needs ``pip install 'tinkex[wandb]'``.

    Args:
        init: keyword arguments of ``wandb.init``: ``project``, ``name``, ``config``, ``dir``,
            ``mode``...

    Example::

        MetricsLogger("metrics.jsonl", forward_to=[WandbSink(project="sft", mode="offline")])
    """

    def __init__(self, **init: Any) -> None:
        wandb = _require("wandb", "wandb", "WandbSink")
        self.run = wandb.init(**init)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log(dict(metrics), step=step)

    def close(self) -> None:
        self.run.finish()


class MLflowSink:
    """Logs each step's numbers to an MLflow run, through an ``MlflowClient`` of its own (the
    process's active run and tracking URI are left alone).

    Needs ``pip install 'tinkex[mlflow]'``.

    Args:
        tracking_uri: where the runs are kept (a server URL, ``sqlite:///mlflow.db``, or a
            folder as ``file:///path``, which MLflow 3 takes only with
            ``MLFLOW_ALLOW_FILE_STORE=true``); ``None``: MLflow's default
            (``MLFLOW_TRACKING_URI``).
        experiment: the experiment's name, made if new (``None``: MLflow's default experiment).
        run_name: the run's name.
        params: parameters recorded once on the run (learning rate, rank...).

    Example::

        MetricsLogger("m.jsonl", forward_to=[MLflowSink("file:///tmp/mlruns", experiment="sft")])
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        experiment: str | None = None,
        run_name: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        mlflow = _require("mlflow", "mlflow", "MLflowSink")
        self._entities = importlib.import_module("mlflow.entities")
        self._client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        experiment_id = "0"
        if experiment is not None:
            found = self._client.get_experiment_by_name(experiment)
            experiment_id = (
                found.experiment_id if found else self._client.create_experiment(experiment)
            )
        run = self._client.create_run(experiment_id, run_name=run_name)
        self.run_id: str = run.info.run_id
        if params:
            self._client.log_batch(
                self.run_id,
                params=[self._entities.Param(k, str(v)) for k, v in params.items()],
            )

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        now = int(time.time() * 1000)
        batch = [self._entities.Metric(k, v, now, step) for k, v in metrics.items()]
        self._client.log_batch(self.run_id, metrics=batch)

    def close(self) -> None:
        self._client.set_terminated(self.run_id)
