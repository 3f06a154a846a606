"""Run every example against one server and print a pass / skip / fail table.

    python examples/run_all.py                      # starts ONE local skyrl-tx backend for all
    python examples/run_all.py quickstart async_usage   # only these
    TINKER_BASE_URL=... TINKER_API_KEY=... python examples/run_all.py   # against that server

Each example runs as its own process with a timeout (``--timeout``, default 300 s); its output
is shown as it comes, indented. Exit code: 0 when none failed (skips are fine), 1 otherwise,
130 on Ctrl-C. The local backend is stopped by PID at the end, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
EXIT_SKIP = 3

# The order they run in: the quickstart first, then roughly simple to involved.
ORDER = [
    "quickstart",
    "basic_sampling",
    "forward_inference",
    "metrics_logging",
    "compute_logprobs",
    "custom_loss",
    "regularized_training",
    "adam_and_chunking",
    "save_and_sample",
    "training_persistence",
    "checkpoint_management",
    "checkpoint_download",
    "sessions_and_runs",
    "model_info_and_unload",
    "queue_state_observer",
    "retry_and_timeout",
    "async_usage",
    "multiprocess_sampling",
    "rollouts",
]


@dataclasses.dataclass
class Outcome:
    name: str
    status: str  # pass, skip, FAIL
    seconds: float
    note: str = ""
    parts_skipped: list[str] = dataclasses.field(default_factory=list)


def discover() -> list[str]:
    found = {p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_")} - {"run_all"}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


@contextlib.contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    """Point ``env`` at the configured server, or at a local backend started for the run."""
    if os.environ.get("TINKER_BASE_URL"):
        yield f"{os.environ['TINKER_BASE_URL']} (TINKER_BASE_URL)"
        return
    from tinkex.local import running_backend

    with running_backend() as backend:
        env["TINKEX_EXAMPLE_BASE_URL"] = backend.base_url
        env["TINKEX_EXAMPLE_BASE_MODEL"] = backend.base_model
        env["TINKEX_EXAMPLE_MODEL_DIR"] = backend.tokenizer_dir
        yield (
            f"local skyrl-tx at {backend.base_url} (pid {backend.pid}, ready in "
            f"{backend.ready_seconds:.0f}s; log {backend.log_path})"
        )


def run_one(name: str, env: dict[str, str], timeout: float, quiet: bool) -> Outcome:
    path = HERE / f"{name}.py"
    print(f"\n---------- {name} ----------", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(path)],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: a timeout stops its workers too
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if not quiet:
                print(f"  | {lines[-1]}", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop_group(proc)
    except BaseException:  # Ctrl-C: stop the example, then let the backend stop
        stop_group(proc)
        raise
    reader.join(timeout=10)
    seconds = time.monotonic() - t0
    parts = [ln.removeprefix("SKIP-PART: ") for ln in lines if ln.startswith("SKIP-PART: ")]
    if timed_out:
        return Outcome(name, "FAIL", seconds, f"timed out after {timeout:.0f}s", parts)
    if proc.returncode == 0:
        return Outcome(name, "pass", seconds, "", parts)
    if proc.returncode == EXIT_SKIP:
        reasons = [ln.removeprefix("SKIP: ") for ln in lines if ln.startswith("SKIP: ")]
        return Outcome(
            name, "skip", seconds, reasons[-1] if reasons else "(no reason given)", parts
        )
    failed = [ln.removeprefix("FAILED: ") for ln in lines if ln.startswith("FAILED: ")]
    note = failed[-1] if failed else (lines[-1] if lines else "(no output)")
    return Outcome(name, "FAIL", seconds, f"exit {proc.returncode}: {note}", parts)


def stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the example's process group (it leads it), SIGKILL it if it lingers."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def table(outcomes: list[Outcome]) -> str:
    width = max(len(o.name) for o in outcomes)
    rows = [f"{'example':{width}}  result  time    notes", f"{'-' * width}  ------  ------  -----"]
    for o in outcomes:
        rows.append(f"{o.name:{width}}  {o.status:6}  {o.seconds:5.1f}s  {o.note}")
        for part in o.parts_skipped:
            rows.append(f"{'':{width}}                  skipped part: {part}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("pass", "skip", "FAIL")}
    total = sum(o.seconds for o in outcomes)
    rows.append(
        f"\n{counts['pass']} passed, {counts['skip']} skipped, {counts['FAIL']} failed "
        f"({total:.0f}s in examples)"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the examples against one server.")
    parser.add_argument("names", nargs="*", help="examples to run (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per example")
    parser.add_argument("--quiet", action="store_true", help="only the table, not the output")
    parser.add_argument("--list", action="store_true", help="list the examples and exit")
    args = parser.parse_args(argv)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [n for n in args.names if n.removesuffix(".py") not in available]
    if unknown:
        parser.error(f"unknown example(s): {', '.join(unknown)}; see --list")
    names = [n.removesuffix(".py") for n in args.names] or available

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    outcomes: list[Outcome] = []
    t0 = time.monotonic()
    try:
        with server(env) as where:
            print(f"running {len(names)} example(s) against {where}", flush=True)
            for name in names:
                outcomes.append(run_one(name, env, args.timeout, args.quiet))
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        if outcomes:
            print(table(outcomes))
        return 130
    except Exception as exc:
        print(f"\nFAILED to run the examples: {type(exc).__name__}: {exc}", flush=True)
        if outcomes:
            print(table(outcomes))
        return 1
    print(f"\n{table(outcomes)}\ntotal {time.monotonic() - t0:.0f}s (with the server's start)")
    return 1 if any(o.status == "FAIL" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
