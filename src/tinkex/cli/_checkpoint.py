"""``tinkex checkpoint ...``: list, inspect, download, delete, publish and expire checkpoints."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _output
from ._app import Context, add_command, add_group, non_negative_int, positive_int
from ._errors import EXIT_FAILURE, EXIT_OK, CLIError, UsageError, route_missing

if TYPE_CHECKING:
    from .._generated import models
    from ..types import ParsedCheckpointTinkerPath

__all__ = ["parse_path", "register", "size_bytes"]

#: Page size of listings; small enough that a first page comes back quickly.
PAGE_SIZE = 100

_COLUMNS = ("path", "type", "size", "public", "created", "expires")

#: ``--type`` of ``delete``: the path's kinds and the server's names for them.
_TYPES = {
    "weights": "training",
    "sampler_weights": "sampler",
    "external_weights": "external",
    "training": "training",
    "sampler": "sampler",
    "external": "external",
}


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "checkpoint",
        common,
        help="list, inspect, download, delete, publish and expire checkpoints",
        description="Checkpoints are named by tinker:// paths: "
        "tinker://<run id>/<weights|sampler_weights|external_weights>/<name>.",
    )
    p = add_command(
        sub,
        "list",
        common,
        _list,
        help="list your checkpoints, newest first, or those of one training run",
        epilog="examples:\n  tinkex checkpoint list --limit 0\n"
        "  tinkex checkpoint list --run-id RUN -f json",
    )
    p.add_argument("--run-id", metavar="RUN", help="only the checkpoints of this training run")
    p.add_argument(
        "--limit",
        type=non_negative_int,
        default=20,
        metavar="N",
        help="show at most N checkpoints; 0 shows all (default: 20)",
    )

    p = add_command(sub, "info", common, _info, help="show one checkpoint and its training run")
    p.add_argument("path", metavar="PATH", help="tinker:// path of the checkpoint")

    p = add_command(
        sub,
        "download",
        common,
        _download,
        help="download a checkpoint's files into a directory",
        description="Download a checkpoint's files into a directory. The files land in a "
        "temporary directory first and are moved into place when complete.",
        epilog="example:\n  tinkex checkpoint download tinker://RUN/sampler_weights/final "
        "--output ./final",
    )
    p.add_argument("path", metavar="PATH", help="tinker:// path of the checkpoint")
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="directory to create (default: ./<run id>_<kind>_<name>)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace DIR if it is empty or an earlier download of this same checkpoint "
        "(anything else is refused, never deleted)",
    )
    p.add_argument(
        "--max-expanded",
        type=size_bytes,
        metavar="SIZE",
        help="the most the checkpoint may take on disk, e.g. 500M or 50G (K, M, G, T are "
        "powers of 1024; default: 100 times the archive's size, at most 20G)",
    )

    p = add_command(
        sub,
        "delete",
        common,
        _delete,
        help="delete checkpoints by path, or a run's checkpoints by filter (asks first)",
        description="Delete checkpoints: the PATHs given, or those of --run-id that match "
        "--type, --before and --after (all of them without filters). Without --yes it asks "
        "for confirmation on a terminal and refuses when stdin is not one; --dry-run only "
        "lists what would be deleted.",
        epilog="examples:\n  tinkex checkpoint delete tinker://RUN/weights/0001 --yes\n"
        "  tinkex checkpoint delete --run-id RUN --type weights --before 2024-06-01 --dry-run\n"
        "  tinkex checkpoint delete --run-id RUN --after 2024-01-01 --before 2024-02-01",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="tinker:// paths to delete")
    p.add_argument(
        "--run-id", metavar="RUN", help="delete the checkpoints of this training run (filtered)"
    )
    p.add_argument(
        "--type",
        dest="checkpoint_type",
        choices=sorted(_TYPES),
        help="only checkpoints of this kind (weights = training, sampler_weights = sampler)",
    )
    p.add_argument(
        "--before",
        type=utc_time,
        metavar="DATE",
        help="only those created before DATE, in UTC (ISO 8601: 2024-06-01, 2024-06-01T08:00:00Z)",
    )
    p.add_argument(
        "--after", type=utc_time, metavar="DATE", help="only those created after DATE, in UTC"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
    )
    p.add_argument("-y", "--yes", action="store_true", help="delete without asking")

    p = add_command(sub, "publish", common, _publish, help="make a checkpoint public")
    p.add_argument("path", metavar="PATH", help="tinker:// path of the checkpoint")

    p = add_command(sub, "unpublish", common, _unpublish, help="make a checkpoint private again")
    p.add_argument("path", metavar="PATH", help="tinker:// path of the checkpoint")

    p = add_command(
        sub,
        "set-ttl",
        common,
        _set_ttl,
        help="set when a checkpoint expires, or keep it indefinitely",
        epilog="examples:\n  tinkex checkpoint set-ttl PATH --ttl 86400   expires in a day\n"
        "  tinkex checkpoint set-ttl PATH --remove      never expires",
    )
    p.add_argument("path", metavar="PATH", help="tinker:// path of the checkpoint")
    ttl = p.add_mutually_exclusive_group(required=True)
    ttl.add_argument("--ttl", type=positive_int, metavar="SECONDS", help="expire SECONDS from now")
    ttl.add_argument("--remove", action="store_true", help="remove the expiry")

    from . import _hub

    _hub.register(sub, common)


# -- helpers ---------------------------------------------------------------------------------


def parse_path(path: str) -> ParsedCheckpointTinkerPath:
    """The parsed path, or an error (exit 1) saying what a path looks like."""
    from ..types import ParsedCheckpointTinkerPath

    try:
        return ParsedCheckpointTinkerPath.from_tinker_path(path)
    except ValueError as err:
        raise CLIError(f"invalid checkpoint path: {err}") from None


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_bytes(text: str) -> int:
    """A size such as ``500M``, ``20G``, ``1.5T`` or ``4096`` in bytes (powers of 1024; a
    trailing ``B`` or ``iB`` is allowed), for ``--max-expanded``.

    Args:
        text: the size as typed.

    Example::

        size_bytes("500M")  # 524288000
    """
    spelled = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = spelled[-1:] if spelled[-1:] in _UNITS else ""
    number = spelled[: len(spelled) - len(unit)].strip()
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    size = int(value * _UNITS[unit]) if value == value and value < 1e18 else -1
    if size < 1:
        raise argparse.ArgumentTypeError(
            f"not a positive size: {text!r} (examples: 500M, 20G, 1.5T, 4096)"
        )
    return size


def utc_time(text: str) -> dt.datetime:
    """An ISO 8601 date or time as an aware datetime; UTC when it names no zone.

    Args:
        text: e.g. ``2024-06-01``, ``2024-06-01T08:00:00Z`` or ``2024-06-01T10:00:00+02:00``.

    Example::

        utc_time("2024-06-01")  # datetime(2024, 6, 1, 0, 0, tzinfo=UTC)
    """
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date: {text!r} (examples: 2024-06-01, 2024-06-01T08:00:00Z)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _not_found(ctx: Context, path: str, verb: str, err: Exception) -> CLIError:
    if route_missing(err):
        endpoint = getattr(err, "endpoint", None) or "such"
        return CLIError(
            f"cannot {verb} {path}: {ctx.base_url} has no {endpoint} endpoint "
            f"({getattr(err, 'status_code', 404)} on the route itself), so this server cannot "
            f"{verb} checkpoints"
        )
    detail = getattr(err, "detail", None) or str(err)
    return CLIError(f"cannot {verb} {path}: it does not exist ({detail})")


def checkpoint_row(c: models.Checkpoint) -> list[Any]:
    return [
        c.tinker_path,
        c.checkpoint_type,
        _output.format_bytes(c.size_bytes),
        c.public,
        c.time,
        c.expires_at,
    ]


def take(items: Iterable[Any], limit: int, ctx: Context, what: str) -> tuple[list[Any], bool]:
    """At most ``limit`` items (all for 0) and whether more were left, with progress."""
    iterator: Iterator[Any] = iter(items)
    with ctx.out.progress(f"fetching {what}", total=limit or None) as bar:

        def counted() -> Iterator[Any]:
            for n, item in enumerate(iterator, 1):
                if limit == 0 or n <= limit:
                    bar.advance()
                yield item

        if limit == 0:
            return list(counted()), False
        got = list(itertools.islice(counted(), limit + 1))
    return got[:limit], len(got) > limit


# -- commands --------------------------------------------------------------------------------


def _list(ctx: Context) -> int:
    args = ctx.args
    rest = ctx.rest()
    if args.run_id:
        from sdkgen.runtime import NotFoundError

        try:
            listed = rest.list_checkpoints(args.run_id).result().checkpoints
        except NotFoundError as err:
            raise CLIError(
                f"cannot list the checkpoints of training run {args.run_id!r}: "
                f"{err.detail} ('tinkex run list' shows your runs)"
            ) from err
        listed = sorted(listed, key=lambda c: c.time, reverse=True)
        checkpoints = listed if args.limit == 0 else listed[: args.limit]
        more = len(checkpoints) < len(listed)
    else:
        from sdkgen.runtime import NotFoundError

        page = PAGE_SIZE if args.limit == 0 else min(args.limit + 1, PAGE_SIZE)
        try:
            checkpoints, more = take(
                rest.iter_user_checkpoints(page_size=page), args.limit, ctx, "checkpoints"
            )
        except NotFoundError as err:
            if not route_missing(err):
                raise
            raise CLIError(
                f"{ctx.base_url} has no list_user_checkpoints endpoint (404 on the route "
                "itself): it cannot list checkpoints across runs (self-hosted servers such as "
                "skyrl-tx do not); add --run-id RUN ('tinkex run list' shows the runs)"
            ) from err
    if ctx.out.json:
        ctx.out.emit_json(
            {
                "checkpoints": [c.model_dump(mode="json") for c in checkpoints],
                "count": len(checkpoints),
                "truncated": more,
            }
        )
        return EXIT_OK
    if not checkpoints:
        ctx.out.note("no checkpoints")
        return EXIT_OK
    ctx.out.table(_COLUMNS, [checkpoint_row(c) for c in checkpoints])
    if more:
        ctx.out.note(f"showing the first {len(checkpoints)}; --limit 0 shows all")
    return EXIT_OK


def find_checkpoint(ctx: Context, path: str) -> tuple[models.Checkpoint, models.TrainingRun]:
    from sdkgen.runtime import NotFoundError

    parsed = parse_path(path)
    rest = ctx.rest()
    try:
        run = rest.get_training_run(parsed.training_run_id).result()
        listed = rest.list_checkpoints(parsed.training_run_id).result().checkpoints
    except NotFoundError as err:
        if route_missing(err):
            raise  # explained as a missing route, not a missing checkpoint
        raise CLIError(f"checkpoint {path} not found: {err.detail}") from err
    for c in listed:
        if c.tinker_path == path or c.checkpoint_id == parsed.checkpoint_id:
            return c, run
    raise CLIError(
        f"checkpoint {path} not found: training run {parsed.training_run_id} has no "
        f"{parsed.checkpoint_id} ('tinkex checkpoint list --run-id {parsed.training_run_id}' "
        "lists its checkpoints)"
    )


def _info(ctx: Context) -> int:
    c, run = find_checkpoint(ctx, ctx.args.path)
    if ctx.out.json:
        ctx.out.emit_json(
            {
                **c.model_dump(mode="json"),
                "training_run_id": run.training_run_id,
                "base_model": run.base_model,
                "is_lora": run.is_lora,
                "lora_rank": run.lora_rank,
            }
        )
        return EXIT_OK
    ctx.out.fields(
        [
            ("path", c.tinker_path),
            ("type", c.checkpoint_type),
            ("training run", run.training_run_id),
            ("base model", run.base_model),
            ("lora rank", run.lora_rank if run.is_lora else "full fine-tune"),
            ("size", _output.format_bytes(c.size_bytes)),
            ("public", c.public),
            ("created", c.time),
            ("expires", c.expires_at or "never"),
            ("metadata", c.user_metadata),
        ]
    )
    return EXIT_OK


def _download(ctx: Context) -> int:
    args = ctx.args
    parsed = parse_path(args.path)
    name = parsed.checkpoint_id.replace("/", "_")
    output = Path(args.output) if args.output else Path.cwd() / f"{parsed.training_run_id}_{name}"
    if output.exists() and not args.force:
        raise CLIError(
            f"{output} already exists; pass --force to replace it, or choose another --output"
        )
    rest = ctx.rest()
    download = getattr(rest, "download_checkpoint", None)
    if download is None:
        raise CLIError("this version of tinkex cannot download checkpoints; upgrade tinkex")
    from sdkgen.runtime import NotFoundError

    try:
        result = Path(
            download(
                args.path,
                output,
                force=args.force,
                progress=ctx.out.interactive,
                max_expanded_bytes=args.max_expanded,
            )
        )
    except NotFoundError as err:
        raise _not_found(ctx, args.path, "download", err) from err
    files = [p for p in result.rglob("*") if p.is_file()] if result.is_dir() else [result]
    size = sum(p.stat().st_size for p in files)
    if ctx.out.json:
        ctx.out.emit_json(
            {"path": args.path, "output": str(result), "files": len(files), "bytes": size}
        )
    else:
        ctx.out.line(
            f"downloaded {args.path} to {result} ({len(files)} files, {_output.format_bytes(size)})"
        )
    return EXIT_OK


def _selected(ctx: Context) -> list[str]:
    """The paths ``delete`` is asked to delete: those given, or those of ``--run-id`` that
    pass the filters, oldest first."""
    args = ctx.args
    filters = [
        name
        for name, value in (
            ("--type", args.checkpoint_type),
            ("--before", args.before),
            ("--after", args.after),
        )
        if value is not None
    ]
    if filters and not args.run_id:
        raise UsageError(
            f"{', '.join(filters)} filter the checkpoints of --run-id RUN: add it (see "
            "'tinkex checkpoint delete --help')"
        )
    if args.paths and args.run_id:
        raise UsageError(
            "give checkpoint paths or --run-id, not both (see 'tinkex checkpoint delete --help')"
        )
    if not args.paths and not args.run_id:
        raise UsageError(
            "the following arguments are required: PATH (or --run-id RUN with filters; see "
            "'tinkex checkpoint delete --help')"
        )
    if args.paths:
        paths = list(dict.fromkeys(args.paths))  # once each, in the order given
        for path in paths:
            parse_path(path)
        return paths
    from sdkgen.runtime import NotFoundError

    try:
        listed = ctx.rest().list_checkpoints(args.run_id).result().checkpoints
    except NotFoundError as err:
        if route_missing(err):
            raise
        raise CLIError(
            f"cannot list the checkpoints of training run {args.run_id!r}: {err.detail} "
            "('tinkex run list' shows your runs)"
        ) from err

    def created(c: models.Checkpoint) -> dt.datetime:
        return c.time if c.time.tzinfo is not None else c.time.replace(tzinfo=dt.UTC)

    kind = _TYPES.get(args.checkpoint_type or "")
    chosen = [
        c
        for c in sorted(listed, key=created)
        if (kind is None or c.checkpoint_type == kind)
        and (args.before is None or created(c) < args.before)
        and (args.after is None or created(c) > args.after)
    ]
    return [c.tinker_path for c in chosen]


def _delete(ctx: Context) -> int:
    args = ctx.args
    paths = _selected(ctx)
    if not paths:
        if ctx.out.json:
            ctx.out.emit_json({"deleted": [], "failed": [], "dry_run": args.dry_run})
        else:
            ctx.out.note(f"no checkpoint of training run {args.run_id} matches: nothing to delete")
        return EXIT_OK
    if args.dry_run:
        if ctx.out.json:
            ctx.out.emit_json({"would_delete": paths, "dry_run": True})
        else:
            for path in paths:
                ctx.out.line(f"would delete {path}")
            ctx.out.note(f"dry run: {len(paths)} checkpoint(s) would be deleted; none was")
        return EXIT_OK
    if not args.yes:
        if not _output.isatty(sys.stdin):
            raise UsageError(
                "refusing to delete without confirmation: stdin is not a terminal; "
                "pass --yes to delete"
            )
        listing = "\n".join(f"  {p}" for p in paths)
        noun = "1 checkpoint" if len(paths) == 1 else f"{len(paths)} checkpoints"
        them = "it" if len(paths) == 1 else "them"
        if not ctx.out.confirm(f"about to delete {noun}:\n{listing}\ndelete {them}?"):
            raise CLIError("aborted: nothing was deleted")
    from sdkgen.runtime import APIError, NotFoundError

    rest = ctx.rest()
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    with ctx.out.progress("deleting", total=len(paths)) as bar:
        for path in paths:
            try:
                rest.delete_checkpoint_from_tinker_path(path).result()
            except NotFoundError as err:
                failed.append({"path": path, "error": str(_not_found(ctx, path, "delete", err))})
            except APIError as err:
                failed.append({"path": path, "error": f"cannot delete {path}: {err}"})
            else:
                deleted.append(path)
            bar.advance()
    if ctx.out.json:
        ctx.out.emit_json({"deleted": deleted, "failed": failed})
    else:
        for path in deleted:
            ctx.out.line(f"deleted {path}")
    for failure in failed:
        ctx.out.error(failure["error"])
    return EXIT_FAILURE if failed else EXIT_OK


def _simple(ctx: Context, verb: str, call: Any, document: dict[str, Any], done: str) -> int:
    from sdkgen.runtime import NotFoundError

    path = ctx.args.path
    parse_path(path)
    try:
        call(path).result()
    except NotFoundError as err:
        raise _not_found(ctx, path, verb, err) from err
    if ctx.out.json:
        ctx.out.emit_json({"path": path, **document})
    else:
        ctx.out.line(f"{path}: {done}")
    return EXIT_OK


def _publish(ctx: Context) -> int:
    rest = ctx.rest()
    return _simple(
        ctx, "publish", rest.publish_checkpoint_from_tinker_path, {"public": True}, "published"
    )


def _unpublish(ctx: Context) -> int:
    rest = ctx.rest()
    return _simple(
        ctx,
        "unpublish",
        rest.unpublish_checkpoint_from_tinker_path,
        {"public": False},
        "unpublished",
    )


def _set_ttl(ctx: Context) -> int:
    ttl: int | None = None if ctx.args.remove else ctx.args.ttl
    rest = ctx.rest()

    def call(path: str) -> Any:
        return rest.set_checkpoint_ttl_from_tinker_path(path, ttl)

    done = "kept indefinitely (expiry removed)" if ttl is None else f"expires in {ttl} s"
    return _simple(ctx, "set the TTL of", call, {"ttl_seconds": ttl}, done)
