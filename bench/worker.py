"""One contender in one fresh process: ``python bench/worker.py CONTENDER TASK URL PARAMS``.

Every task first times the contender's import (``import tinker`` / ``import tinkex`` /
``import httpx``: this process has imported nothing heavy before), then the same plus the names
user code touches next (``ServiceClient``, ``types.Datum``, ...: a lazy package loads its modules
there), then its start (a session, a LoRA training client and a sampling client ready), and
records RSS then. Tasks:

* ``startup``: only that;
* ``sampling``: for each concurrency, a warm-up then ``total`` timed sampling calls (and the CPU
  time they took, in this process and in the stub);
* ``training``: the 64 x 2,048 step (``steps`` timed after 2 untimed), then the 1 x 16 small loop
  (``small_steps`` timed after 10 untimed); the stub's byte counts of the timed steps, and this
  process's CPU time;
* ``probe``: what this tinkex's ServiceClient accepts (``contenders/tinkex_modes.py``).

Prints one JSON line on stdout (the last line); a failure exits non-zero with the traceback.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from common import (
    SMALL_SHAPE,
    TRAIN_SHAPE,
    control,
    drive,
    peak_rss_kb,
    rss_kb,
    token_lists,
)
from contenders import make


def sampling(contender: Any, url: str, total: int, concs: list[int]) -> dict[str, Any]:
    """Per concurrency: throughput, latencies, this process's CPU time per call (every thread
    of it) and the share of a core the stub used meanwhile."""
    import asyncio

    out: dict[str, Any] = {}

    async def main() -> None:
        for c in concs:
            async with contender.sampler(c) as one:
                await drive(one, c, min(total, max(50, c)))  # warm-up: connections, pools
                stub_cpu, cpu = control(url, "/_stats")["cpu_s"], time.process_time()
                got = await drive(one, c, total)
                got["client_cpu_us"] = (time.process_time() - cpu) / total * 1e6
                stub_cpu = control(url, "/_stats")["cpu_s"] - stub_cpu
                got["stub_cpu_share"] = stub_cpu / got["wall_s"]
                out[f"c{c}"] = got

    asyncio.run(main())
    return out


def training(contender: Any, url: str, steps: int, small_steps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (datums, tokens), n, warm in (
        ("train", TRAIN_SHAPE, steps, 2),
        ("small", SMALL_SHAPE, small_steps, 10),
    ):
        rows = token_lists(datums, tokens)
        control(url, "/_config", {"fb_datums": datums, "fb_tokens": tokens})
        for i in range(warm):
            contender.train_step(rows, check_result=i == 0)
        control(url, "/_reset", {})
        times = []
        cpu = time.process_time()
        for _ in range(n):
            start = time.perf_counter()
            contender.train_step(rows)
            times.append(time.perf_counter() - start)
        cpu = time.process_time() - cpu
        stats = control(url, "/_stats")
        out[name] = {
            "times": times,
            "cpu_s": cpu,
            "bytes_in": sum(r["bytes_in"] for r in stats["routes"].values()),
            "requests": sum(r["requests"] for r in stats["routes"].values()),
            "routes": stats["routes"],
            "encodings": stats["encodings"],
            "checks": stats["checks"],
        }
    return out


def main() -> int:
    name, task, url, params_json = sys.argv[1:5]
    params: dict[str, Any] = json.loads(params_json)
    if task == "probe":
        from contenders.tinkex_modes import probe

        print(json.dumps(probe()))
        return 0
    contender = make(name, params.pop("service_kwargs", {}))
    start = time.perf_counter()
    contender.load()
    loaded = time.perf_counter()
    contender.resolve()
    resolved = time.perf_counter()
    contender.connect(url)
    ready = time.perf_counter()
    out: dict[str, Any] = {
        "import_ms": (loaded - start) * 1000,
        "import_full_ms": (resolved - start) * 1000,
        "ready_ms": (ready - resolved) * 1000,
        "start_rss_kb": rss_kb(),
        "start_peak_rss_kb": peak_rss_kb(),
    }
    try:
        if task == "sampling":
            out["sampling"] = sampling(contender, url, params["total"], params["concs"])
        elif task == "training":
            out["training"] = training(contender, url, params["steps"], params["small_steps"])
        out["peak_rss_kb"] = peak_rss_kb()
        out["describe"] = contender.describe()
    finally:
        contender.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
