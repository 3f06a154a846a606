"""``tinkex model list``: the base models the server offers."""

from __future__ import annotations

import argparse
from typing import Any

from ._app import Context, add_command, add_group
from ._errors import EXIT_OK

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "model",
        common,
        help="list the base models the server can train and sample",
        description="Base models offered by the server.",
    )
    p = add_command(
        sub,
        "list",
        common,
        _list,
        help="list the server's base models, optionally only those whose name contains SUBSTRING",
        epilog="example:\n  tinkex model list qwen",
    )
    p.add_argument(
        "substring", nargs="?", metavar="SUBSTRING", help="filter by name (case-insensitive)"
    )


def _list(ctx: Context) -> int:
    caps = ctx.rest().get_server_capabilities().result()
    needle = (ctx.args.substring or "").lower()
    found = sorted(
        (m for m in caps.supported_models if needle in (m.model_name or "").lower()),
        key=lambda m: m.model_name or "",
    )
    if ctx.out.json:
        ctx.out.emit_json({"models": [m.model_dump(mode="json") for m in found]})
        return EXIT_OK
    if not found:
        ctx.out.note(f"no model matches {ctx.args.substring!r}" if needle else "no models")
        return EXIT_OK
    ctx.out.table(
        ("model", "max context", "trainable", "sampleable"),
        [[m.model_name, m.max_context_length, m.trainable, m.sampleable] for m in found],
    )
    return EXIT_OK
