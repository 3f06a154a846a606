"""``tinkex billing ...``: hourly usage of the organisation, and checkpoint storage now.

Both need billing rights in the organisation; self-hosted servers have neither route.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._app import Context, add_command, add_group
from ._checkpoint import utc_time
from ._errors import EXIT_OK, CLIError, route_missing

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "billing",
        common,
        help="show billed usage and checkpoint storage (needs billing rights)",
        description="Billed usage of your organisation and its checkpoint storage. Costs are "
        "estimates before credits and commitments, not invoice amounts.",
    )
    p = add_command(
        sub,
        "usage",
        common,
        _usage,
        help="hourly usage rows between two times (at most 14 days apart)",
        description="Hourly usage rows (hour x usage type x base model x session x user) between "
        "STARTING_ON (inclusive) and ENDING_BEFORE (exclusive): RFC 3339 times on UTC hour "
        "boundaries, at most 14 days apart. Each row's event_info is flattened into it in the "
        "table and CSV; JSON keeps the response as sent, sessions and cost_data_through "
        "included.",
        epilog="example:\n  tinkex billing usage 2026-07-13T00:00:00Z 2026-07-14T00:00:00Z "
        "--csv usage.csv",
    )
    p.add_argument("starting_on", type=utc_time, metavar="STARTING_ON")
    p.add_argument("ending_before", type=utc_time, metavar="ENDING_BEFORE")
    p.add_argument(
        "--csv",
        dest="csv_path",
        metavar="PATH",
        help="write the rows as CSV to PATH ('-': stdout) instead of a table",
    )
    p.add_argument(
        "--sessions-csv",
        dest="sessions_csv_path",
        metavar="PATH",
        help="also write session_id and user_metadata per session as CSV to PATH ('-': stdout)",
    )
    p = add_command(
        sub,
        "checkpoint-storage",
        common,
        _checkpoint_storage,
        help="checkpoint storage now, per project and user, with its projected monthly cost",
    )
    p.add_argument("--project-id", metavar="ID", help="only this project")
    p.add_argument(
        "--csv",
        dest="csv_path",
        metavar="PATH",
        help="write the rows as CSV to PATH ('-': stdout) instead of a table",
    )


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in the order first seen."""
    return list(dict.fromkeys(key for row in rows for key in row))


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A usage row with its event_info's fields beside the others."""
    info = row.get("event_info")
    if not isinstance(info, dict):
        return row
    return {**{k: v for k, v in row.items() if k != "event_info"}, **info}


def _write_csv(ctx: Context, rows: list[dict[str, Any]], path: str) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_columns(rows), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if path == "-":
        ctx.out.line(buffer.getvalue().rstrip("\n"))
        return
    Path(path).write_text(buffer.getvalue(), encoding="utf-8", newline="")
    ctx.out.note(f"wrote {len(rows)} row(s) to {path}")


def _call(ctx: Context, what: str, call: Any) -> Any:
    from sdkgen.runtime import NotFoundError

    try:
        return call().result()
    except NotFoundError as err:
        if route_missing(err):
            raise CLIError(
                f"{ctx.base_url} has no {what} endpoint (404 on the route itself): this server "
                "keeps no billing records (self-hosted servers do not)"
            ) from err
        raise


def _usage(ctx: Context) -> int:
    args = ctx.args
    rest = ctx.rest()
    reply = _call(
        ctx,
        "get_billing_usage",
        lambda: rest.get_billing_usage(args.starting_on, args.ending_before),
    )
    document = reply.model_dump(mode="json")
    rows = [_flat(row) for row in document["data"]]
    if args.sessions_csv_path is not None:
        sessions = [
            {
                "session_id": session_id,
                "user_metadata": json.dumps(fields.get("user_metadata"))
                if isinstance(fields, dict) and fields.get("user_metadata") is not None
                else None,
            }
            for session_id, fields in document.get("sessions", {}).items()
        ]
        _write_csv(ctx, sessions, args.sessions_csv_path)
    if args.csv_path is not None:
        _write_csv(ctx, rows, args.csv_path)
    if args.csv_path is not None or args.sessions_csv_path is not None:
        return EXIT_OK
    if ctx.out.json:
        ctx.out.emit_json(document)
        return EXIT_OK
    if not rows:
        ctx.out.note("no billed usage in this window")
        return EXIT_OK
    columns = _columns(rows)
    ctx.out.table(columns, [[row.get(c) for c in columns] for row in rows])
    ctx.out.note(f"{len(rows)} hourly usage row(s); costs are estimates, not invoice amounts")
    return EXIT_OK


def _checkpoint_storage(ctx: Context) -> int:
    args = ctx.args
    rest = ctx.rest()
    reply = _call(
        ctx,
        "get_current_checkpoint_storage_usage",
        lambda: rest.get_current_checkpoint_storage_usage(project_id=args.project_id),
    )
    document = reply.model_dump(mode="json")
    rate = document.get("effective_rate_usd_per_gigabyte_month")
    rows = [{"effective_rate_usd_per_gigabyte_month": rate, **row} for row in document["data"]]
    if args.csv_path is not None:
        _write_csv(ctx, rows, args.csv_path)
        return EXIT_OK
    if ctx.out.json:
        ctx.out.emit_json(document)
        return EXIT_OK
    if not rows:
        ctx.out.note("no checkpoint storage in use")
        return EXIT_OK
    columns = _columns(rows)
    ctx.out.table(columns, [[row.get(c) for c in columns] for row in rows])
    return EXIT_OK
