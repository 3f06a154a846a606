"""``tinkex backend up|status|down``: a local Tinker server (skyrl-tx on CPU, a tiny model)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._app import Context, add_command, add_group
from ._errors import EXIT_FAILURE, EXIT_OK, CLIError

if TYPE_CHECKING:
    from ..local import Backend, ServerStatus

__all__ = ["register"]

# The same values as tinkex.local's (a test checks), here so that `tinkex --help` does not
# import the launcher.
DEFAULT_PORT = 8000
MODEL_ALIAS = "tiny-qwen3"
MAX_LORA_RANK = 8


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sub = add_group(
        commands,
        "backend",
        common,
        help="start, check or stop a local Tinker server (skyrl-tx on CPU, a tiny model)",
        description=(
            "A real Tinker server on this machine, for trying tinkex with no account and no "
            f"GPU: skyrl-tx 0.3.0 on CPU with a tiny random-weight Qwen3, model "
            f"'{MODEL_ALIAS}', LoRA rank up to {MAX_LORA_RANK}. Its environment (about 2.2 GB) "
            "is built on first use and cached under ~/.cache/tinkex (TINKEX_BACKEND_CACHE). "
            "The server listens on 127.0.0.1 only and needs no API key."
        ),
    )
    up = add_command(
        sub,
        "up",
        common,
        _up,
        help="build what is missing, start the server in the background, print its address",
        description=(
            "Build the server's environment and model if missing (several minutes the first "
            "time, with progress on stderr), start the server detached on 127.0.0.1:PORT, "
            "wait until it is ready, and print its URL, its model and an export line for "
            "TINKER_BASE_URL (stdout can be eval'd). The server runs until 'tinkex backend "
            "down'. Already running: prints the same."
        ),
        epilog=(
            "examples:\n"
            "  tinkex backend up\n"
            '  eval "$(tinkex backend up)"          # sets TINKER_BASE_URL in this shell\n'
            "  tinkex backend up --port 8123 --json"
        ),
    )
    up.add_argument(
        "--port",
        type=_port,
        default=None,
        metavar="PORT",
        help=f"the port on 127.0.0.1 (default {DEFAULT_PORT})",
    )
    _json_flag(up)
    status = add_command(
        sub,
        "status",
        common,
        _status,
        help="say whether the server runs and answers: URL, model, pid, log (exit 1 if not)",
    )
    _json_flag(status)
    down = add_command(
        sub,
        "down",
        common,
        _down,
        help="stop the server by PID (SIGTERM to its process group, SIGKILL after 15 s)",
    )
    _json_flag(down)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        dest="json_output",
        action="store_true",
        help="print one JSON document (the same as -f json)",
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {text!r}")
    return value


def _setup(ctx: Context) -> None:
    if getattr(ctx.args, "json_output", False):
        ctx.out.format = "json"


def _record(backend: Backend) -> dict[str, Any]:
    return {
        "base_url": backend.base_url,
        "base_model": backend.base_model,
        "pid": backend.pid,
        "port": backend.port,
        "log_path": str(backend.log_path),
        "run_dir": str(backend.run_dir),
        "model_dir": str(backend.model_dir),
    }


def _up(ctx: Context) -> int:
    from .. import local

    _setup(ctx)
    port: int | None = ctx.args.port
    before = local.status()
    try:
        backend = local.up(port=port)
    except local.PortInUseError as exc:
        raise CLIError(
            f"port {exc.port} on 127.0.0.1 is in use by another program: choose a free one "
            "with --port PORT"
        ) from exc
    except local.BackendError as exc:
        raise CLIError(str(exc)) from exc
    already = before.running and before.backend is not None and before.backend.pid == backend.pid
    export = f"export TINKER_BASE_URL={backend.base_url}"
    if ctx.out.json:
        ctx.out.emit_json({**_record(backend), "already_running": already, "export": export})
        return EXIT_OK
    how = "already running" if already else f"ready in {backend.ready_seconds:.0f}s"
    ctx.out.line(f"# local Tinker backend at {backend.base_url} ({how}; pid {backend.pid})")
    ctx.out.line(
        f"# base model: {backend.base_model} (LoRA rank up to {MAX_LORA_RANK}); no API key "
        "needed on this machine"
    )
    ctx.out.line(f"# log: {backend.log_path}")
    ctx.out.line("# stop it with: tinkex backend down")
    ctx.out.line(export)
    return EXIT_OK


def _status(ctx: Context) -> int:
    from .. import local

    _setup(ctx)
    found = local.status()
    ok = found.running and found.healthy
    if ctx.out.json:
        ctx.out.emit_json(found.to_json())
        return EXIT_OK if ok else EXIT_FAILURE
    backend = found.backend
    if backend is None:
        ctx.out.line(
            f"not running: no server recorded in {found.state_file}; start one with "
            "'tinkex backend up'"
        )
        return EXIT_FAILURE
    if not found.running:
        ctx.out.line(
            f"not running: pid {backend.pid} is gone (its log: {backend.log_path}); start one "
            "with 'tinkex backend up'"
        )
        return EXIT_FAILURE
    state = "running, healthy" if found.healthy else "running, NOT answering /api/v1/healthz"
    ctx.out.fields(
        [
            ("state", state),
            ("base url", backend.base_url),
            ("base model", backend.base_model),
            ("pid", backend.pid),
            ("log", str(backend.log_path)),
        ]
    )
    return EXIT_OK if ok else EXIT_FAILURE


def _down(ctx: Context) -> int:
    from .. import local

    _setup(ctx)
    try:
        found = local.down()
    except local.BackendError as exc:  # pragma: no cover - stopping raises none today
        raise CLIError(str(exc)) from exc
    if ctx.out.json:
        ctx.out.emit_json({**found.to_json(), "stopped": found.running})
        return EXIT_OK
    ctx.out.line(_down_text(found))
    return EXIT_OK


def _down_text(found: ServerStatus) -> str:
    backend = found.backend
    if backend is None:
        return f"nothing to stop: no server recorded in {found.state_file}"
    if not found.running:
        return f"pid {backend.pid} was not running any more; removed its record"
    return f"stopped the local backend at {backend.base_url} (pid {backend.pid})"
