"""Helpers shared by the bench's orchestrator, its workers and its contenders.

Stdlib only and nothing heavy at import time: a worker imports this module before it times the
import of the SDK it runs, so what this module imports would otherwise be charged to nobody.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

API_KEY = "tml-bench-key"
BASE_MODEL = "stub/model"
PROMPT_TOKENS = 128
MAX_TOKENS = 16
CONCURRENCY = (1, 32, 256)
TRAIN_SHAPE = (64, 2048)  # datums x tokens of the training step
SMALL_SHAPE = (1, 16)  # the small loop

Rows = list[tuple[list[int], list[int], list[float]]]


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A request to the stub's control endpoints (stdlib: no client library involved)."""
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def token_lists(datums: int, tokens: int) -> Rows:
    """Deterministic token rows: inputs, targets (the inputs shifted by one), weights."""
    rows = []
    for d in range(datums):
        seq = [(d * 7919 + i * 104729) % 150_000 for i in range(tokens + 1)]
        rows.append((seq[:-1], seq[1:], [1.0] * tokens))
    return rows


async def drive(one: Callable[[], Awaitable[None]], concurrency: int, total: int) -> dict[str, Any]:
    """``total`` calls of ``one`` by ``concurrency`` workers: throughput and latencies."""
    import asyncio

    latencies: list[float] = []
    left = total

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            start = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    return {
        "throughput": total / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "wall_s": wall,
        "requests": total,
    }


def check(condition: bool, what: str) -> None:
    """A result check that survives ``python -O``."""
    if not condition:
        raise AssertionError(what)
