"""``make bench``: tinkex against the official ``tinker`` 0.38.0 SDK, on a zero-compute stub.

A benchmark, not a test (``make test`` never runs it). ``make bench`` builds ``.venv-bench/``
(``tinker==0.38.0`` from PyPI next to an editable tinkex; cached by a stamp file, rebuilt when
pyproject.toml changes) and runs ``.venv-bench/bin/python bench/run.py``. tinkex itself never
imports ``tinker``.

Contenders (``bench/contenders/``), each in a process of its own (the official SDK and tinkex
must not share one): ``official`` (the ``tinker`` SDK as its users call it), ``tinkex
(protobuf, auto)`` (its default transport choice: pyqwest for the sampling and poll pools, where
the server's config asks for it, httpx for the training pool) and ``tinkex (JSON, httpx)``
(``ServiceClient(wire=..., <transport>=...)``,
each keyword passed only when this tinkex's ``ServiceClient`` accepts it: a mode it cannot
select is shown as "n/a (not supported by this tinkex)"), and the ``bare floor``: a bare
``httpx.AsyncClient`` sending JSON by hand, the cost of HTTP itself in Python.

The stub (``bench/stub_server.py``, its own process on 127.0.0.1, stopped by ``/_shutdown``, then
by PID, and by itself after 30 minutes) speaks the official protocol: ``/api/v1/client/config``
with the hosted service's flags (``use_pyqwest_transport: true``, ``proto_compress_fwdbwd:
true``: the official SDK sends zstd-compressed protobuf), protobuf or JSON ``forward_backward``
bodies, results in protobuf when the poll's ``Accept`` asks for it, JSON otherwise; it counts
the bytes clients send (request line, headers and bodies) per route, and checks the first
forward_backward body of each encoding it sees against the shape it was told.

Workloads (user code as written for the official SDK, identical for both SDKs,
``contenders/sdk.py``):

* startup, in every fresh worker process: the import (``import tinker`` / ``import tinkex`` /
  ``import httpx``); the import plus the names user code touches next (``ServiceClient``,
  ``types.Datum``, ``types.ModelInput``...: a lazy package loads its modules there, so this is
  the row with the target); the start of a session with a LoRA training client and a sampling
  client ("client ready"); peak RSS then;
* sampling: ``await sampling_client.sample(prompt, 1, params)`` (128-token prompt, 16 tokens)
  by C concurrent asyncio tasks, C = 1, 32, 256 (a warm-up first): throughput, p50 / p99
  latency, the client process's CPU time per call (all its threads), and the share of a core
  the stub used meanwhile (low: the stub is not what limits the clients);
* training: a step of 64 datums x 2,048 tokens from token lists (``forward_backward`` and
  ``optim_step`` submitted back to back, both results waited for, synchronous code): client time
  per step (the target is on the mean), its CPU time, bytes sent per step (request lines,
  headers, bodies, polls included), peak RSS of that process; then the small loop (1 x 16).

The table: a column per contender, then the ratios tinkex / official of both modes, the issue's
target (``pb``: the protobuf mode's ratio; ``json``: the JSON mode's), PASS / FAIL, and what the
row is from. This 2-core machine's speed drifts, so contenders are interleaved: each round runs
every contender once per task, in an order that changes from round to round (ABCD, DCBA, BCDA).
Sampling rows keep the best round of each contender; training rows pool the steps of all
rounds; startup rows are medians over all of a contender's processes. Ratios move by 10 to 20%
from run to run, more while other work runs on the machine: compare within one run.
A whole run (3 rounds of 1,000 sampling calls per concurrency, 20 steps of 64 x 2,048 and 200 of
1 x 16 per round) takes 3 to 4.5 minutes on this 2-core machine when it is otherwise idle (7 to
9 while other work runs), a third of it the floor at c=256 (httpx's pool slows down with
hundreds of connections); ``--quick`` (one round, 300 calls, 4 + 40 steps) about 1.

Usage (from the repository root)::

    make bench                                   # .venv-bench/bin/python bench/run.py
    make bench BENCH_ARGS="--quick --json /tmp/bench.json"
    .venv-bench/bin/python bench/run.py --quick  # fewer requests and steps (a smoke run)
    .venv-bench/bin/python bench/run.py --only official,tinkex-pb --try-again 2
    .venv-bench/bin/python bench/run.py --only official,tinkex-pb --tasks training
    .venv-bench/bin/python bench/run.py --client-config proto_compress_fwdbwd=false
    .venv-bench/bin/python bench/profiling.py tinkex-pb train   # cProfile, every thread

Options: ``--quick``; ``--rounds N`` (default 3, with ``--quick`` 1); ``--requests N``
sampling calls per concurrency per round; ``--only`` a comma list of contenders (official,
tinkex-pb, tinkex-json, floor); ``--tasks`` a comma list of workloads (startup, sampling,
training; every worker still times its own startup, so the startup rows keep some processes
behind them); ``--try-again N`` has the stub answer ``try_again`` N times
before each result (``--try-again-every K``: for every K-th future only); ``--client-config
KEY=VALUE`` (repeatable, JSON values) overrides a flag of ``/api/v1/client/config``, e.g.
``use_pyqwest_transport=false`` or ``pjwt_auth_enabled=true``; ``--json PATH`` also writes the
table and every worker's raw output as JSON. The exit status is 1 when a contender failed (its
column then reads "n/a" and the error is printed). The stub alone: ``python
bench/stub_server.py`` (its docstring lists its control endpoints).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import CONCURRENCY, control  # noqa: E402
from contenders import NAMES, TITLES  # noqa: E402
from table import as_json, build_rows, render  # noqa: E402

PY = sys.executable
TASKS = ("startup", "sampling", "training")
WORKER_TIMEOUT = 900.0


class StubServer:
    """The stub in its own process; stopped by /_shutdown, then by PID if need be."""

    def __init__(self, try_again: int, client_config: dict[str, Any], every: int = 1) -> None:
        cmd = [PY, str(HERE / "stub_server.py"), "--try-again", str(try_again)]
        self.proc = subprocess.Popen(
            [*cmd, "--try-again-every", str(every)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"stub server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        if client_config:
            control(self.url, "/_config", {"client_config": client_config})

    def stop(self) -> str:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                control(self.url, "/_shutdown", {})
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.terminate()  # SIGTERM to this PID only
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        err = self.proc.stderr.read() if self.proc.stderr else ""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return err

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        err = self.stop()
        if err.strip():
            print(f"stub server stderr:\n{err[-2000:]}", file=sys.stderr)


def run_worker(contender: str, task: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [PY, str(HERE / "worker.py"), contender, task, url, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{contender} {task} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def tinkex_commit() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        return out.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "src", "pyproject.toml")
    return commit + (" + uncommitted changes in src/" if dirty else "")


def order(names: list[str], i: int) -> list[str]:
    """Round i's order: rotated by i // 2, reversed on odd rounds (ABCD, DCBA, BCDA, ADCB...)."""
    k = (i // 2) % len(names)
    rotated = names[k:] + names[:k]
    return rotated if i % 2 == 0 else rotated[::-1]


def plan_contenders(only: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, str], list[str]]:
    """The contenders that can run (with their ServiceClient keywords), the ones that cannot
    (with why), and notes for the table."""
    runnable: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    notes: list[str] = []
    for name in NAMES:
        if name not in only:
            missing[name] = "not selected (--only)"
    if "official" in only:
        if importlib.util.find_spec("tinker") is None:
            missing["official"] = "n/a (tinker not installed here: run `make bench`)"
        else:
            runnable["official"] = {}
    if "floor" in only:
        runnable["floor"] = {}
    modes = [n for n in ("tinkex-pb", "tinkex-json") if n in only]
    if modes:
        from contenders.tinkex_modes import options

        try:
            support = run_worker("tinkex", "probe", "-", {})
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            last = str(exc).strip().splitlines()[-1][:200]
            for name in modes:
                missing[name] = "error: tinkex did not import"
            notes.append(f"tinkex did not import: {last}")
            return runnable, missing, notes
        notes.append(
            f"tinkex ServiceClient: wire= {'accepted' if support['wire'] else 'not accepted'}; "
            f"transport keyword: {support['transport_kw'] or 'none found'}"
        )
        for name in modes:
            kwargs, why = options(name, support)
            notes += [f"{TITLES[name]}: {w}" for w in why]
            if kwargs is None:
                missing[name] = why[0]
            else:
                runnable[name] = kwargs
                notes.append(f"{TITLES[name]}: ServiceClient(..., {fmt_kwargs(kwargs)})")
    return runnable, missing, notes


def fmt_kwargs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) or "no extra keywords"


def parse_config(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = json.loads(value) if value not in ("", None) else True
    return out


def bench(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    only = [n.strip() for n in args.only.split(",")] if args.only else list(NAMES)
    tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else list(TASKS)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise SystemExit(f"--tasks: unknown {', '.join(unknown)} (known: {', '.join(TASKS)})")
    total = args.requests or (300 if args.quick else 1000)
    steps, small_steps = (4, 40) if args.quick else (20, 200)
    startup_runs = 1 if args.quick else 2
    plan = {"rounds": args.rounds, "total": total, "steps": steps, "small_steps": small_steps}
    runnable, missing, notes = plan_contenders(only)
    names = [n for n in NAMES if n in runnable]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {n: {} for n in names}
    errors: dict[str, str] = {}

    def run(name: str, task: str, url: str, params: dict[str, Any]) -> None:
        if name in errors:
            return
        t0 = time.perf_counter()
        try:
            out = run_worker(name, task, url, {**params, "service_kwargs": runnable[name]})
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            errors[name] = str(exc)
            print(f"  {name} {task}: FAILED\n{exc}", file=sys.stderr, flush=True)
            return
        results[name].setdefault(task, []).append(out)
        print(f"  {name} {task}: {time.perf_counter() - t0:.1f}s", flush=True)

    # A wheel install (as tinker's) compiles its bytecode at install time; an editable one does
    # not, and with PYTHONDONTWRITEBYTECODE set (as on these machines) every import would compile
    # tinkex's sources again: compile them, so that the import rows compare like with like.
    subprocess.run(
        [PY, "-m", "compileall", "-q", str(HERE.parent / "src" / "tinkex")],
        capture_output=True,
        check=False,
    )
    config = parse_config(args.client_config)
    with StubServer(args.try_again, config, args.try_again_every) as stub:
        print(
            f"stub pid {stub.proc.pid} at {stub.url}; {os.cpu_count()} CPUs; tinkex "
            f"{tinkex_commit()}; {args.rounds} round(s); contenders: {', '.join(names)}",
            flush=True,
        )
        for i in range(startup_runs if "startup" in tasks else 0):
            for name in order(names, i):
                run(name, "startup", stub.url, {})
        for i in range(args.rounds):
            for name in order(names, i) if "sampling" in tasks else ():
                run(name, "sampling", stub.url, {"total": total, "concs": list(CONCURRENCY)})
            for name in order(names, i + 1) if "training" in tasks else ():
                run(name, "training", stub.url, {"steps": steps, "small_steps": small_steps})
    for name, error in errors.items():
        missing[name] = "error (see above)"
        notes.append(f"{TITLES[name]} failed: {error.strip().splitlines()[-1][:200]}")
    for name in names:
        if name in errors:
            results.pop(name, None)
        for out in results.get(name, {}).get("training", []):
            for shape in out["training"].values():
                for c in shape["checks"]:
                    if not c["ok"]:
                        notes.append(f"{TITLES[name]}: the stub rejected a request body: {c}")

    for name in names:
        described = [x["describe"] for t in results.get(name, {}).values() for x in t]
        if described:
            d = described[0]
            notes.append(f"{TITLES[name]}: {d['module']} {d['version']} ({d.get('file') or '-'})")
    rows = build_rows(results, plan)
    print()
    print(render(rows, missing))
    verdicts = [r.verdict for r in rows if r.verdict in ("PASS", "FAIL")]
    print(
        f"\n{verdicts.count('PASS')} of {len(verdicts)} targets met (ratios: tinkex / official; "
        f"pb = protobuf mode, json = JSON mode). Sampling: {total} requests per concurrency per "
        f"round; training: {steps} steps of 64x2048 and {small_steps} of 1x16 per round; "
        f"try_again per future: {args.try_again} (every {args.try_again_every}); "
        f"bench took {time.perf_counter() - started:.0f}s."
    )
    for name, why in missing.items():
        print(f"  {TITLES[name]}: {why}")
    for note in notes:
        print(f"  {note}")
    if args.json:
        record = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "tinkex_commit": tinkex_commit(),
            "plan": plan
            | {"try_again": [args.try_again, args.try_again_every], "client_config": config},
            "missing": missing,
            "notes": notes,
            "rows": as_json(rows),
            "raw": results,
        }
        Path(args.json).write_text(json.dumps(record, indent=1))
        print(f"  written to {args.json}")
    return 0 if not errors else 1


def main() -> int:
    parser = argparse.ArgumentParser(description="tinkex vs the official tinker SDK on a stub")
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--rounds", type=int, help="rounds of every task (3; --quick: 1)")
    parser.add_argument("--requests", type=int, help="sampling calls per concurrency per round")
    parser.add_argument("--only", help="comma list of: " + ", ".join(NAMES))
    parser.add_argument(
        "--tasks", help="comma list of: " + ", ".join(TASKS) + " (every worker times startup)"
    )
    parser.add_argument("--try-again", type=int, default=0, help="try_again replies per future")
    parser.add_argument(
        "--try-again-every", type=int, default=1, help="only every K-th future gets them"
    )
    parser.add_argument(
        "--client-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a /api/v1/client/config flag (JSON value), e.g. use_pyqwest_transport=false",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    args.rounds = max(1, args.rounds or (1 if args.quick else 3))
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
