"""``tinkex run ...``: training runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._app import Context, add_command, add_group, non_negative_int
from ._checkpoint import PAGE_SIZE, take
from ._errors import EXIT_OK, CLIError

#: ``run list --columns``: name -> (header, value); the names are the official CLI's.
_COLUMNS: dict[str, tuple[str, Callable[[models.TrainingRun], Any]]] = {
    "id": ("run id", lambda r: r.training_run_id),
    "model": ("base model", lambda r: r.base_model),
    "owner": ("owner", lambda r: r.model_owner),
    "lora": ("lora rank", lambda r: r.lora_rank if r.is_lora else "full"),
    "updated": ("last request", lambda r: r.last_request_time),
    "status": ("status", lambda r: "corrupted" if r.corrupted else "ok"),
    "checkpoint": (
        "last checkpoint",
        lambda r: _last(r.last_checkpoint) or _last(r.last_sampler_checkpoint),
    ),
    "checkpoint_time": (
        "checkpoint time",
        lambda r: r.last_checkpoint.time if r.last_checkpoint is not None else None,
    ),
}
_DEFAULT = ("id", "model", "lora", "updated", "checkpoint")


def _columns(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in _COLUMNS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown column(s) {', '.join(unknown) or repr(text)}; choose from "
            f"{', '.join(_COLUMNS)}"
        )
    return names


if TYPE_CHECKING:
    from .._generated import models

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "run",
        common,
        help="list and inspect training runs",
        description="Training runs: one per LoRA (or full) fine-tune, holding its checkpoints.",
    )
    p = add_command(sub, "list", common, _list, help="list your training runs, newest first")
    p.add_argument(
        "--limit",
        type=non_negative_int,
        default=20,
        metavar="N",
        help="show at most N runs; 0 shows all (default: 20)",
    )
    p.add_argument(
        "-c",
        "--columns",
        type=_columns,
        metavar="NAMES",
        help=f"the table's columns, comma-separated, from: {', '.join(_COLUMNS)} "
        f"(default: {','.join(_DEFAULT)})",
    )
    p = add_command(sub, "info", common, _info, help="show one training run")
    p.add_argument("run_id", metavar="RUN_ID", help="the training run id")


def _last(c: models.Checkpoint | None) -> str | None:
    return c.tinker_path if c is not None else None


def _list(ctx: Context) -> int:
    limit: int = ctx.args.limit
    page = PAGE_SIZE if limit == 0 else min(limit + 1, PAGE_SIZE)
    runs, more = take(ctx.rest().iter_training_runs(page_size=page), limit, ctx, "training runs")
    if ctx.out.json:
        ctx.out.emit_json(
            {
                "training_runs": [r.model_dump(mode="json") for r in runs],
                "count": len(runs),
                "truncated": more,
            }
        )
        return EXIT_OK
    if not runs:
        ctx.out.note("no training runs")
        return EXIT_OK
    names = ctx.args.columns or _DEFAULT
    ctx.out.table(
        [_COLUMNS[n][0] for n in names], [[_COLUMNS[n][1](r) for n in names] for r in runs]
    )
    if more:
        ctx.out.note(f"showing the first {len(runs)}; --limit 0 shows all")
    return EXIT_OK


def _info(ctx: Context) -> int:
    from sdkgen.runtime import NotFoundError

    run_id: str = ctx.args.run_id
    try:
        run = ctx.rest().get_training_run(run_id).result()
    except NotFoundError as err:
        raise CLIError(
            f"training run {run_id!r} not found ({err.detail}); 'tinkex run list' shows your runs"
        ) from err
    if ctx.out.json:
        ctx.out.emit_json(run.model_dump(mode="json"))
        return EXIT_OK
    ctx.out.fields(
        [
            ("run id", run.training_run_id),
            ("base model", run.base_model),
            ("owner", run.model_owner),
            ("lora rank", run.lora_rank if run.is_lora else "full fine-tune"),
            ("corrupted", run.corrupted),
            ("last request", run.last_request_time),
            ("last checkpoint", _last(run.last_checkpoint)),
            ("last sampler checkpoint", _last(run.last_sampler_checkpoint)),
            ("metadata", run.user_metadata),
        ]
    )
    return EXIT_OK
