"""``tinkex metrics plot``: the training curves of a metrics JSONL file, as an image."""

from __future__ import annotations

import argparse
from typing import Any

from ._app import Context, add_command, add_group
from ._errors import EXIT_OK

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "metrics",
        common,
        help="draw the training curves logged by tinkex.metrics.MetricsLogger",
        description=(
            "Training metrics logged as JSON lines by tinkex.metrics.MetricsLogger. "
            "Needs matplotlib: pip install 'tinkex[plot]'."
        ),
    )
    p = add_command(
        sub,
        "plot",
        common,
        _plot,
        help="draw the loss (or --key metrics) against the step into an image",
        description=(
            "Draw the curves of a metrics JSONL file into an image (PNG, SVG or PDF by the "
            "suffix of -o), one panel per metric. Without --key: the first of loss, loss:mean, "
            "loss:sum the file has. A step lower than the one before starts a new run (runs "
            "appended to one file are drawn as separate curves)."
        ),
        epilog=(
            "examples:\n"
            "  tinkex metrics plot runs/sft/metrics.jsonl -o loss.png\n"
            "  tinkex metrics plot metrics.jsonl -o curves.svg --key loss --key learning_rate"
        ),
    )
    p.add_argument("file", metavar="FILE", help="the metrics JSONL file")
    p.add_argument(
        "-o", "--output", metavar="IMAGE", default="loss.png", help="the image (default: loss.png)"
    )
    p.add_argument(
        "-k",
        "--key",
        action="append",
        default=[],
        metavar="NAME",
        help="a metric to draw (repeat for more; default: the loss)",
    )
    p.add_argument("--title", metavar="TEXT", help="the figure's title (default: the file name)")


def _plot(ctx: Context) -> int:
    from ..metrics import plot_metrics

    args = ctx.args
    drawn = plot_metrics(args.file, args.output, keys=args.key, title=args.title)
    if ctx.out.json:
        ctx.out.emit_json({"output": args.output, "keys": drawn})
    else:
        ctx.out.line(f"wrote {args.output} ({', '.join(drawn)})")
    return EXIT_OK
