"""Training curves drawn from a metrics JSONL file (matplotlib, an optional extra)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._logger import finite, read_metrics

__all__ = ["DEFAULT_KEYS", "plot_metrics"]

#: The curve drawn when none is named: the first of these the file has.
DEFAULT_KEYS = ("loss", "loss:mean", "loss:sum")


def _non_finite_steps(records: list[dict[str, Any]], key: str) -> list[float]:
    """The steps where ``key`` is NaN or infinite (a diverged run is worth seeing)."""
    return [
        r["step"]
        for r in records
        if finite(r.get("step")) and isinstance(r.get(key), float) and not finite(r[key])
    ]


def _runs(records: list[dict[str, Any]], key: str) -> list[tuple[list[float], list[float]]]:
    """``(steps, values)`` of ``key`` per run: a step lower than the one before starts a new
    run (several runs appended to one file)."""
    runs: list[tuple[list[float], list[float]]] = []
    last: float | None = None
    for record in records:
        step, value = record.get("step"), record.get(key)
        if not finite(step) or not finite(value):
            continue
        if last is None or step < last:
            runs.append(([], []))
        runs[-1][0].append(step)
        runs[-1][1].append(value)
        last = step
    return runs


def plot_metrics(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    keys: Sequence[str] = (),
    title: str | None = None,
) -> list[str]:
    """Draw ``keys`` (one panel each) against ``step`` from the JSONL at ``path`` into the image
    ``output`` (its format from the suffix: ``.png``, ``.svg``, ``.pdf``); returns the keys drawn.

    Needs ``pip install 'tinkex[plot]'`` (matplotlib).

    Args:
        path: a file written by :class:`~tinkex.metrics.MetricsLogger`.
        output: the image to write (its folder is made).
        keys: the metrics to draw; empty: the first of ``DEFAULT_KEYS`` in the file.
        title: the figure's title (default: the file's name).

    Raises ``ValueError`` when none of the keys has a finite value in the file.

    Example::

        plot_metrics("runs/sft/metrics.jsonl", "loss.png")
    """
    try:
        figure_module = importlib.import_module("matplotlib.figure")
        ticker = importlib.import_module("matplotlib.ticker")
    except ImportError:
        raise ImportError(
            "plotting needs `matplotlib`; install it with: pip install 'tinkex[plot]'"
        ) from None
    records = list(read_metrics(path))
    present = {k for r in records for k, v in r.items() if finite(v)} - {"step", "time"}
    wanted = list(keys) or [next((k for k in DEFAULT_KEYS if k in present), DEFAULT_KEYS[0])]
    drawn = [k for k in wanted if k in present]
    if not drawn:
        shown = ", ".join(sorted(present)) or "none"
        raise ValueError(
            f"{path}: no finite values for {', '.join(wanted)} (numeric keys there: {shown})"
        )
    figure = figure_module.Figure(figsize=(7.0, 2.6 * len(drawn) + 0.8), layout="constrained")
    axes = figure.subplots(len(drawn), 1, squeeze=False, sharex=True)[:, 0]
    for ax, key in zip(axes, drawn, strict=True):
        runs = _runs(records, key)
        for i, (steps, values) in enumerate(runs):
            label = f"run {i + 1}" if len(runs) > 1 else None
            ax.plot(steps, values, marker="o" if len(steps) <= 50 else None, label=label)
        for i, step in enumerate(_non_finite_steps(records, key)):
            ax.axvline(
                step, color="tab:red", linestyle="--", alpha=0.6, label=None if i else "NaN/inf"
            )
        client = any(r.get("loss:client_computed") for r in records) and key.startswith("loss")
        ax.set_ylabel(key + (" (client-computed)" if client else ""))
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend()
    axes[-1].set_xlabel("step")
    axes[-1].xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    figure.suptitle(title if title is not None else Path(path).name)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    return drawn
