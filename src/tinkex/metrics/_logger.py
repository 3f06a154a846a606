"""Per-step training metrics as JSON lines, a file a crash cannot leave half-written."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeGuard

__all__ = ["MetricsLogger", "MetricsSink", "read_metrics"]


class MetricsSink(Protocol):
    """Where a :class:`MetricsLogger` forwards each step's numbers (an experiment tracker)."""

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record ``metrics`` at ``step``."""

    def close(self) -> None:
        """Flush and release what the sink holds."""


def _jsonable(value: Any) -> Any:
    """numpy and torch scalars as plain numbers; anything else JSON does not know as text."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    return str(value)


def _numbers(record: Mapping[str, Any]) -> dict[str, float]:
    """The values of ``record`` a tracker can plot (not ``step`` and ``time``, not text)."""
    out: dict[str, float] = {}
    for key, value in record.items():
        if key in ("step", "time") or isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out[key] = float(value)
        elif callable(getattr(value, "item", None)):
            number = value.item()
            if isinstance(number, int | float) and not isinstance(number, bool):
                out[key] = float(number)
    return out


class MetricsLogger:
    """Appends one JSON line per training step to ``path`` and forwards the numbers to trackers.

    Each line is ``{"step": ..., "time": <unix seconds>, "loss": ..., <metrics>...}``, written
    with one ``write`` on a file opened for appending, so a line is whole or absent, and lines
    of several processes appending to one file do not interleave. Each line reaches the
    operating system when :meth:`log` returns (``fsync=True`` also waits for the disk). Nothing
    is kept in memory but the last record. Non-finite floats are written as ``NaN`` and
    ``Infinity``, as Python's ``json`` does (``read_metrics`` reads them back).

    Args:
        path: the JSONL file; its folder is made; an existing file is appended to.
        forward_to: trackers to send each step's numbers to, e.g.
            :class:`~tinkex.metrics.TensorBoardSink`, :class:`~tinkex.metrics.WandbSink`,
            :class:`~tinkex.metrics.MLflowSink`; closed with the logger.
        fsync: wait for the disk after each line (slower; survives a power cut).

    Example::

        from tinkex.metrics import MetricsLogger

        with MetricsLogger("runs/sft/metrics.jsonl") as log:
            for step in range(steps):
                fb = training.forward_backward(data, "cross_entropy").result()
                log.log(step, fb.metrics, loss=fb.metrics.get("loss:mean"))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        forward_to: Sequence[MetricsSink] = (),
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._sinks = list(forward_to)
        self._fsync = fsync
        self._lock = threading.Lock()
        self.last: dict[str, Any] | None = None

    def log(
        self,
        step: int,
        metrics: Mapping[str, Any] | None = None,
        *,
        loss: float | None = None,
        **values: Any,
    ) -> dict[str, Any]:
        """Write one step's record and forward its numbers; returns the record.

        Args:
            step: the training step (the x axis of the curves).
            metrics: any mapping, e.g. ``ForwardBackwardOutput.metrics``.
            loss: the step's loss, stored as ``"loss"`` (what ``tinkex metrics plot`` draws
                first).
            values: more fields, e.g. ``learning_rate=1e-4``.

        Example::

            log.log(3, fb.metrics, loss=1.25, learning_rate=1e-4)
        """
        record: dict[str, Any] = {"step": int(step), "time": time.time()}
        if loss is not None:
            record["loss"] = loss
        if metrics:
            record.update(metrics)
        record.update(values)
        line = (json.dumps(record, default=_jsonable) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise ValueError(f"MetricsLogger for {self.path} is closed")
            view = memoryview(line)
            while view:  # one write for a whole line; a partial one (disk full) is finished
                view = view[os.write(self._fd, view) :]
            if self._fsync:
                os.fsync(self._fd)
            self.last = record
            numbers = _numbers(record)
            for sink in self._sinks:
                sink.log(record["step"], numbers)
        return record

    def close(self) -> None:
        """Close the file and every tracker (each once; a second close does nothing)."""
        with self._lock:
            fd, self._fd = self._fd, None
            sinks, self._sinks = self._sinks, []
        if fd is not None:
            os.close(fd)
        for sink in sinks:
            sink.close()

    def __enter__(self) -> MetricsLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_metrics(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The records of a metrics JSONL file, in order; a line that is not a whole JSON object
    (a run killed mid-write, stray text) is skipped.

    Example::

        losses = [r["loss"] for r in read_metrics("metrics.jsonl") if "loss" in r]
    """
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def finite(value: Any) -> TypeGuard[float]:
    """``value`` is a number that can be drawn (not a bool, NaN or infinity)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
