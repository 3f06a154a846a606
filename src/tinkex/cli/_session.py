"""``tinkex session ...``: client sessions (one per ServiceClient) and what they created."""

from __future__ import annotations

import argparse
from typing import Any

from ._app import Context, add_command, add_group, non_negative_int
from ._checkpoint import PAGE_SIZE, take
from ._errors import EXIT_OK, CLIError

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "session",
        common,
        help="list sessions and show what one created",
        description=(
            "Sessions: one per ServiceClient, holding the training runs and samplers it made."
        ),
    )
    p = add_command(sub, "list", common, _list, help="list your session ids, newest first")
    p.add_argument(
        "--limit",
        type=non_negative_int,
        default=20,
        metavar="N",
        help="show at most N sessions; 0 shows all (default: 20)",
    )
    p = add_command(sub, "info", common, _info, help="show a session's training runs and samplers")
    p.add_argument("session_id", metavar="SESSION_ID", help="the session id")


def _list(ctx: Context) -> int:
    limit: int = ctx.args.limit
    page = PAGE_SIZE if limit == 0 else min(limit + 1, PAGE_SIZE)
    ids, more = take(ctx.rest().iter_sessions(page_size=page), limit, ctx, "sessions")
    if ctx.out.json:
        ctx.out.emit_json({"sessions": ids, "count": len(ids), "truncated": more})
        return EXIT_OK
    if not ids:
        ctx.out.note("no sessions")
        return EXIT_OK
    ctx.out.table(("session id",), [[i] for i in ids])
    if more:
        ctx.out.note(f"showing the first {len(ids)}; --limit 0 shows all")
    return EXIT_OK


def _info(ctx: Context) -> int:
    from sdkgen.runtime import NotFoundError

    session_id: str = ctx.args.session_id
    try:
        session = ctx.rest().get_session(session_id).result()
    except NotFoundError as err:
        raise CLIError(
            f"session {session_id!r} not found ({err.detail}); 'tinkex session list' shows yours"
        ) from err
    if ctx.out.json:
        ctx.out.emit_json({"session_id": session_id, **session.model_dump(mode="json")})
        return EXIT_OK
    ctx.out.fields(
        [
            ("session id", session_id),
            ("display name", session.display_name),
            ("training runs", ", ".join(session.training_run_ids) or None),
            ("samplers", ", ".join(session.sampler_ids) or None),
            ("metadata", session.user_metadata),
        ]
    )
    return EXIT_OK
