"""``tinkex session ...``: client sessions (one per ServiceClient) and what they created."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._app import Context, add_command, add_group, non_negative_int
from ._checkpoint import PAGE_SIZE, take
from ._errors import EXIT_OK, CLIError, route_missing

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "session",
        common,
        help="list sessions, show what one created, export its trace",
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
    p = add_command(
        sub,
        "export-trace",
        common,
        _export_trace,
        help="export a session's timeline as a Perfetto trace (.pftrace)",
        description="Ask the server for a Perfetto trace of a session's training and sampling "
        "requests (it may take a while), then download it. Open the file in "
        "https://ui.perfetto.dev.",
        epilog="examples:\n  tinkex session export-trace SESSION_ID            "
        "writes ./SESSION_ID.pftrace\n"
        "  tinkex session export-trace SESSION_ID -o t.pftrace\n"
        "  tinkex session export-trace SESSION_ID --url-only  the signed URL (valid ~1 hour)",
    )
    p.add_argument("session_id", metavar="SESSION_ID", help="the session id")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="where to write it (default: ./SESSION_ID.pftrace)"
    )
    p.add_argument(
        "--url-only", action="store_true", help="print the signed download URL, download nothing"
    )


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


def _export_trace(ctx: Context) -> int:
    from sdkgen.runtime import NotFoundError, open_url

    session_id: str = ctx.args.session_id
    rest = ctx.rest()
    if not ctx.out.json:
        ctx.out.note(f"exporting the trace of session {session_id} (this may take a while)...")
    try:
        url = rest.export_session_trace(session_id).result()
    except NotFoundError as err:
        if route_missing(err):
            raise CLIError(
                f"{ctx.base_url} has no export_session_trace endpoint (404 on the route "
                "itself): this server cannot export traces"
            ) from err
        raise CLIError(f"session {session_id!r} not found ({err.detail})") from err
    if ctx.args.url_only:
        if ctx.out.json:
            ctx.out.emit_json({"session_id": session_id, "url": url})
        else:
            ctx.out.line(url)  # bare, for $(tinkex session export-trace ID --url-only)
        return EXIT_OK
    target = Path(ctx.args.output) if ctx.args.output else Path.cwd() / f"{session_id}.pftrace"
    target.parent.mkdir(parents=True, exist_ok=True)
    holder = ctx.service().holder

    async def download() -> int:
        # The kit's open_url: the API key goes only to the API's own origin, never to the
        # signed URL's host; the file appears only once complete.
        async with await open_url(holder.api, url, timeout=60.0) as body:
            return await body.write_to_file(target)

    size = holder.submit(download(), "download_session_trace").result()
    if ctx.out.json:
        ctx.out.emit_json({"session_id": session_id, "output": str(target), "bytes": size})
    else:
        ctx.out.line(f"wrote the trace of session {session_id} to {target} ({size} bytes)")
    return EXIT_OK
