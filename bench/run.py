"""``make bench``: tinkex against a bare-httpx floor, on a zero-compute stub server.

A benchmark, not a test (``make test`` never runs it). It starts ``bench/stub_server.py`` on
127.0.0.1 in its own process, runs every workload through tinkex and through a bare
``httpx.AsyncClient`` whose pool is sized to the concurrency (the floor), prints one table with
the tinkex / floor ratio and the target of each row, and stops the stub (``/_shutdown``, then by
PID). Sampling runs each side in its own subprocess (its peak RSS is a row); training runs both
sides in one subprocess, in alternating blocks, because this machine's speed drifts by tens of
percent from one process to the next and a ratio is only meaningful within one run.

Both sides do the same HTTP exchanges per operation: submit (``asample``, ``forward_backward``,
``optim_step``), then ``retrieve_future``, which the stub answers with the result at once. The
floor parses every reply with ``json.loads``; tinkex does what it always does (pydantic models,
retries, telemetry, futures, its background loop). Workloads:

* sampling: 2,000 requests (128-token prompt, 16 max tokens) at concurrency 1, 32 and 256,
  throughput and p50 / p99 latency; the user side is one asyncio loop with C workers awaiting
  ``SamplingClient.sample_async`` (the asyncio API: it runs on the caller's loop, as the floor
  does); an info row gives c=1 through ``await sample()``, whose APIFuture runs on the SDK's
  loop thread (the path of synchronous code); peak RSS of that subprocess (``ru_maxrss``);
* a training step of 64 datums x 2,048 tokens: build the batch from token lists, submit
  ``forward_backward`` and ``optim_step`` back to back, wait for both (synchronous code, as
  training loops are written: two hand-offs to the SDK's loop thread and back per step);
  client time and bytes sent (headers and bodies, counted by the stub) per step;
* the small loop: the same with 1 datum x 16 tokens, p50;
* ``import tinkex`` against ``import httpx`` (fresh interpreters, median of several runs).

Usage: ``python bench/run.py [--quick] [--profile sampling|small|train]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable
API_KEY = "tml-bench-key"
BASE_MODEL = "stub/model"
MODEL_ID = "bench-session:train:0"
SAMPLING_SESSION = "bench-session:sample:0"
PROMPT_TOKENS = 128
MAX_TOKENS = 16
CONCURRENCY = (1, 32, 256)
WORKER_TIMEOUT = 600.0


# ---------------------------------------------------------------------- shared helpers


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A request to the stub's control endpoints (stdlib, so the floor imports no extra)."""
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


async def drive(one: Callable[[], Awaitable[None]], concurrency: int, total: int) -> dict[str, Any]:
    """``total`` calls of ``one`` by ``concurrency`` workers: wall time and latencies."""
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
    }


def token_lists(datums: int, tokens: int) -> list[tuple[list[int], list[int], list[float]]]:
    rows = []
    for d in range(datums):
        seq = [(d * 7919 + i * 104729) % 150_000 for i in range(tokens + 1)]
        rows.append((seq[:-1], seq[1:], [1.0] * tokens))
    return rows


def sample_body(seq_id: int, prompt: list[int]) -> bytes:
    # The same JSON tinkex sends for SampleRequest (field for field).
    return json.dumps(
        {
            "num_samples": 1,
            "prompt": {"chunks": [{"tokens": prompt, "type": "encoded_text"}]},
            "sampling_params": {
                "max_tokens": MAX_TOKENS,
                "temperature": 1.0,
                "top_k": -1,
                "top_p": 1.0,
            },
            "sampling_session_id": SAMPLING_SESSION,
            "seq_id": seq_id,
            "prompt_logprobs": False,
            "topk_prompt_logprobs": 0,
            "topk_sample_logprobs": 0,
            "prompt_alt_tokens_k": 0,
            "record_stability_info": False,
            "type": "sample",
            "target_prompt_logprobs": None,
            "prompt_logprobs_last_n": None,
        },
        separators=(",", ":"),
    ).encode()


def fb_body(rows: list[tuple[list[int], list[int], list[float]]], seq_id: int) -> bytes:
    data = [
        {
            "model_input": {"chunks": [{"tokens": inp, "type": "encoded_text"}]},
            "loss_fn_inputs": {
                "target_tokens": {"data": tgt, "dtype": "int64", "shape": [len(tgt)]},
                "weights": {"data": w, "dtype": "float32", "shape": [len(w)]},
            },
        }
        for inp, tgt, w in rows
    ]
    body = {
        "forward_backward_input": {"data": data, "loss_fn": "cross_entropy"},
        "model_id": MODEL_ID,
        "seq_id": seq_id,
        "type": "forward_backward",
    }
    return json.dumps(body, separators=(",", ":")).encode()


def optim_body(seq_id: int) -> bytes:
    adam = {"learning_rate": 1e-4, "beta1": 0.9, "beta2": 0.95, "eps": 1e-12}
    adam |= {"weight_decay": 0.0, "grad_clip_norm": 0.0}
    body = {"model_id": MODEL_ID, "seq_id": seq_id, "adam_params": adam, "type": "optim_step"}
    return json.dumps(body, separators=(",", ":")).encode()


JSON_HEADERS = {"content-type": "application/json", "x-api-key": API_KEY}
MOCK_URL = "http://stub.invalid"
MOCK_SAMPLES = 2000


def mock_transport() -> Any:
    """An httpx transport that answers like the stub, in-process: no socket, no server time,
    so what remains is the client's own CPU per request."""
    import httpx

    sys.path.insert(0, str(HERE))
    import stub_server

    stub = stub_server.Stub()

    def handler(request: httpx.Request) -> httpx.Response:
        raw = stub.route(request.method.encode(), request.url.raw_path, request.content)
        head, body = raw.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    return httpx.MockTransport(handler)


async def sequential_us(one: Callable[[], Awaitable[None]], n: int) -> float:
    for _ in range(max(50, n // 10)):
        await one()
    start = time.perf_counter()
    for _ in range(n):
        await one()
    return (time.perf_counter() - start) / n * 1e6


# ---------------------------------------------------------------------- sampling workers


def sampling_floor(url: str, total: int, concs: list[int]) -> dict[str, Any]:
    import httpx

    prompt = list(range(PROMPT_TOKENS))
    out: dict[str, Any] = {"baseline_rss_kb": rss_kb()}

    async def main() -> None:
        for c in concs:
            # One client per endpoint, each sized to the concurrency (as tinkex has a pool for
            # submissions and one for polls): httpcore's cost per request grows with the
            # requests queued on one pool, and the floor should not pay for sharing one.
            limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
            async with (
                httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as submit,
                httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as poll,
            ):
                seq = iter(range(10**9))

                async def one(
                    submit: httpx.AsyncClient = submit,
                    poll: httpx.AsyncClient = poll,
                    seq: Any = seq,
                ) -> None:
                    r = await submit.post(
                        "/api/v1/asample",
                        content=sample_body(next(seq), prompt),
                        headers=JSON_HEADERS,
                    )
                    r.raise_for_status()
                    body = {"request_id": r.json()["request_id"], "allow_metadata_only": True}
                    r = await poll.post(
                        "/api/v1/retrieve_future",
                        content=json.dumps(body).encode(),
                        headers=JSON_HEADERS,
                    )
                    r.raise_for_status()
                    assert len(r.json()["sequences"][0]["tokens"]) == MAX_TOKENS

                await drive(one, c, min(total, max(50, c)))  # warm-up: connections
                out[f"c{c}"] = await drive(one, c, total)

    asyncio.run(main())
    out["peak_rss_kb"] = peak_rss_kb()

    async def mock() -> float:
        async with httpx.AsyncClient(base_url=MOCK_URL, transport=mock_transport()) as client:

            async def one() -> None:
                r = await client.post(
                    "/api/v1/asample", content=sample_body(0, prompt), headers=JSON_HEADERS
                )
                poll = {"request_id": r.json()["request_id"], "allow_metadata_only": True}
                r = await client.post(
                    "/api/v1/retrieve_future",
                    content=json.dumps(poll).encode(),
                    headers=JSON_HEADERS,
                )
                assert len(r.json()["sequences"][0]["tokens"]) == MAX_TOKENS

            return await sequential_us(one, MOCK_SAMPLES)

    out["mock_us"] = asyncio.run(mock())
    return out


def sampling_tinkex(url: str, total: int, concs: list[int]) -> dict[str, Any]:
    import tinkex
    from tinkex import types

    service = tinkex.ServiceClient(base_url=url, api_key=API_KEY)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result()
    prompt = types.ModelInput.from_ints(list(range(PROMPT_TOKENS)))
    params = types.SamplingParams(max_tokens=MAX_TOKENS)
    out: dict[str, Any] = {"baseline_rss_kb": rss_kb()}

    async def one() -> None:
        result = await sampler.sample_async(prompt, 1, params)
        assert len(result.sequences[0].tokens) == MAX_TOKENS

    async def one_via_loop_thread() -> None:
        result = await sampler.sample(prompt, 1, params)
        assert len(result.sequences[0].tokens) == MAX_TOKENS

    async def main() -> None:
        for c in concs:
            await drive(one, c, min(total, max(50, c)))
            out[f"c{c}"] = await drive(one, c, total)
        # The same calls through the APIFuture of sample(), which runs on the SDK's own loop
        # thread (the path synchronous code takes): one thread hop each way per call.
        await drive(one_via_loop_thread, 1, 50)
        out["c1_future"] = await drive(one_via_loop_thread, 1, total)

    try:
        asyncio.run(main())
    finally:
        service.close()
    out["peak_rss_kb"] = peak_rss_kb()

    mocked = tinkex.ServiceClient(base_url=MOCK_URL, api_key=API_KEY, transport=mock_transport())
    try:
        mock_sampler = mocked.create_sampling_client(base_model=BASE_MODEL).result()

        async def one_mocked() -> None:
            result = await mock_sampler.sample_async(prompt, 1, params)
            assert len(result.sequences[0].tokens) == MAX_TOKENS

        out["mock_us"] = asyncio.run(sequential_us(one_mocked, MOCK_SAMPLES))
    finally:
        mocked.close()
    return out


# ---------------------------------------------------------------------- training worker

Rows = list[tuple[list[int], list[int], list[float]]]
TRAINING_BLOCKS = 6  # alternating blocks of each side per workload


def floor_steps(url: str, rows: Rows, n: int) -> list[float]:
    """``n`` timed steps through a bare httpx.AsyncClient on a loop of its own (after a few
    untimed ones that open its connections)."""
    import httpx

    async def main() -> list[float]:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
            seq = iter(range(1, 10**9))

            async def retrieve(request_id: str) -> Any:
                poll = {"request_id": request_id, "allow_metadata_only": True}
                r = await client.post(
                    "/api/v1/retrieve_future",
                    content=json.dumps(poll).encode(),
                    headers=JSON_HEADERS,
                )
                r.raise_for_status()
                return r.json()

            async def step() -> None:
                r1 = await client.post(
                    "/api/v1/forward_backward",
                    content=fb_body(rows, next(seq)),
                    headers=JSON_HEADERS,
                )
                r1.raise_for_status()
                r2 = await client.post(
                    "/api/v1/optim_step", content=optim_body(next(seq)), headers=JSON_HEADERS
                )
                r2.raise_for_status()
                fb, opt = await asyncio.gather(
                    retrieve(r1.json()["request_id"]), retrieve(r2.json()["request_id"])
                )
                assert len(fb["loss_fn_outputs"]) == len(rows)
                assert "metrics" in opt

            for _ in range(2):
                await step()
            control(url, "/_reset", {})
            times = []
            for _ in range(n):
                start = time.perf_counter()
                await step()
                times.append(time.perf_counter() - start)
            return times

    return asyncio.run(main())


def tinkex_step(client: Any, rows: Rows, adam: Any) -> None:
    """One step as training code writes it: build the batch from token lists, submit
    ``forward_backward`` and ``optim_step`` back to back, wait for both."""
    from tinkex import types

    data = [
        types.Datum(
            model_input=types.ModelInput.from_ints(inp),
            loss_fn_inputs={"target_tokens": tgt, "weights": w},
        )
        for inp, tgt, w in rows
    ]
    fb = client.forward_backward(data, "cross_entropy")
    opt = client.optim_step(adam)
    assert len(fb.result().loss_fn_outputs) == len(rows)
    assert opt.result().metrics is not None


def training(url: str, steps: int, small_steps: int) -> dict[str, Any]:
    """Both sides in one process, in alternating blocks (floor first, then tinkex first, ...),
    so that whatever else the machine does meanwhile falls on both alike. tinkex is used as
    training code uses it: synchronous calls, ``forward_backward`` and ``optim_step``
    submitted back to back, then both results waited for."""
    import tinkex
    from tinkex import types

    out: dict[str, Any] = {"floor": {}, "tinkex": {}}
    service = tinkex.ServiceClient(base_url=url, api_key=API_KEY)
    try:
        client = service.create_lora_training_client(BASE_MODEL, rank=8).result()
        adam = types.AdamParams(learning_rate=1e-4)

        def tinkex_steps(rows: Rows, n: int, timed: bool = True) -> list[float]:
            times = []
            for i in range(n + 2):
                if i == 2 and timed:
                    control(url, "/_reset", {})
                start = time.perf_counter()
                tinkex_step(client, rows, adam)
                if i >= 2:
                    times.append(time.perf_counter() - start)
            return times

        for name, (datums, tokens, n) in {
            "train": (64, 2048, steps),
            "small": (1, 16, small_steps),
        }.items():
            rows = token_lists(datums, tokens)
            control(url, "/_config", {"fb_datums": datums, "fb_tokens": tokens})
            tinkex_steps(rows, max(3, n // 10), timed=False)  # first use: models, pools
            times: dict[str, list[float]] = {"floor": [], "tinkex": []}
            totals = {side: {"bytes_in": 0, "requests": 0} for side in times}
            per_block = max(1, n // TRAINING_BLOCKS)
            for block in range(TRAINING_BLOCKS):
                order = ("floor", "tinkex") if block % 2 == 0 else ("tinkex", "floor")
                for side in order:
                    run = floor_steps if side == "floor" else None
                    got = run(url, rows, per_block) if run else tinkex_steps(rows, per_block)
                    times[side] += got
                    stats = control(url, "/_stats")
                    for key in totals[side]:
                        totals[side][key] += stats[key]
            for side, measured in times.items():
                out[side][name] = {"times": measured, **totals[side]}
    finally:
        service.close()
    return out


def summarize(times: list[float], stats: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "mean_ms": statistics.fmean(times) * 1000,
        "p50_ms": percentile(times, 50) * 1000,
        "p99_ms": percentile(times, 99) * 1000,
        "bytes_per_step": stats["bytes_in"] / n,
        "requests_per_step": stats["requests"] / n,
    }


# ---------------------------------------------------------------------- import time


IMPORTS = {
    "httpx": "import httpx",
    "tinkex": "import tinkex",
    "tinkex_full": "import tinkex; tinkex.ServiceClient; tinkex.types.Datum",
}


def import_times(runs: int) -> dict[str, float]:
    out = {}
    for name, stmt in IMPORTS.items():
        code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
        samples = []
        for _ in range(runs):
            proc = subprocess.run(
                [PY, "-c", code], capture_output=True, text=True, timeout=60, check=True
            )
            samples.append(float(proc.stdout.strip()))
        out[name] = statistics.median(samples) * 1000
    return out


# ---------------------------------------------------------------------- orchestration


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "sampling-floor": sampling_floor,
    "sampling-tinkex": sampling_tinkex,
    "training": training,
}


def run_worker(name: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [
            PY,
            str(Path(__file__).resolve()),
            "--worker",
            name,
            "--url",
            url,
            "--params",
            json.dumps(params),
        ],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


class StubServer:
    """The stub in its own process; stopped by /_shutdown, then by PID if need be."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PY, str(HERE / "stub_server.py")],
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

    def stop(self) -> None:
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
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> StubServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


Row = tuple[str, float, float, str, str, str]  # name, tinkex, floor, ratio, target, verdict


def row(
    name: str, tinkex: float, floor: float, *, higher_is_better: bool, limit: float | None
) -> Row:
    ratio = tinkex / floor if floor else float("inf")
    if limit is None:
        return (name, tinkex, floor, f"{ratio:.2f}x", "-", "info")
    ok = ratio >= limit if higher_is_better else ratio <= limit
    target = f"{'>=' if higher_is_better else '<='} {limit}x"
    return (name, tinkex, floor, f"{ratio:.2f}x", target, "PASS" if ok else "FAIL")


def render(rows: list[Row]) -> str:
    header = ("metric", "tinkex", "floor", "ratio", "target", "result")
    cells = [header] + [(n, f"{t:,.1f}", f"{f:,.1f}", r, g, v) for n, t, f, r, g, v in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = []
    for i, c in enumerate(cells):
        first = c[0].ljust(widths[0])
        rest = [c[j].rjust(widths[j]) for j in range(1, len(header))]
        lines.append("  ".join([first, *rest]))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def best_sampling(runs: list[dict[str, Any]], concs: list[int]) -> dict[str, Any]:
    """Per concurrency, the run with the highest throughput (its latencies with it)."""
    best: dict[str, Any] = {
        "c1_future": max(
            (r.get("c1_future", {"throughput": 0.0}) for r in runs), key=lambda x: x["throughput"]
        ),
        "peak_rss_kb": max(r["peak_rss_kb"] for r in runs),
        "mock_us": min(r["mock_us"] for r in runs),
        "baseline_rss_kb": max(r["baseline_rss_kb"] for r in runs),
    }
    for c in concs:
        best[f"c{c}"] = max((r[f"c{c}"] for r in runs), key=lambda x: x["throughput"])
    return best


def pooled_training(runs: list[dict[str, Any]], side: str) -> dict[str, Any]:
    """Per workload, every timed step of every run of one side (the sides were interleaved
    within each run, so pooling keeps them comparable)."""
    out = {}
    for name in runs[0][side]:
        times = [t for r in runs for t in r[side][name]["times"]]
        stats = {key: sum(r[side][name][key] for r in runs) for key in ("bytes_in", "requests")}
        out[name] = summarize(times, stats, len(times))
    return out


def bench(quick: bool, rounds: int) -> int:
    total = 400 if quick else 2000
    steps, small_steps = (5, 50) if quick else (20, 300)
    concs = list(CONCURRENCY)
    started = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in WORKERS}
    with StubServer() as stub:
        print(
            f"stub server pid {stub.proc.pid} at {stub.url}; {os.cpu_count()} CPUs; "
            f"{rounds} round(s); sampling: a process per side, sides alternated (ABBA), best "
            "run of each side kept; training: both sides in one process, in alternating blocks",
            flush=True,
        )
        for i in range(rounds):
            order = ("floor", "tinkex") if i % 2 == 0 else ("tinkex", "floor")
            for side in order:
                name = f"sampling-{side}"
                t0 = time.perf_counter()
                runs[name].append(run_worker(name, stub.url, {"total": total, "concs": concs}))
                print(f"  {name} (round {i + 1}): {time.perf_counter() - t0:.1f}s", flush=True)
        for i in range(rounds):
            t0 = time.perf_counter()
            params = {"steps": steps, "small_steps": small_steps}
            runs["training"].append(run_worker("training", stub.url, params))
            print(
                f"  training, both sides interleaved (round {i + 1}): "
                f"{time.perf_counter() - t0:.1f}s",
                flush=True,
            )
    imports = import_times(5 if quick else 9)
    results = {
        "sampling-floor": best_sampling(runs["sampling-floor"], concs),
        "sampling-tinkex": best_sampling(runs["sampling-tinkex"], concs),
        "training-floor": pooled_training(runs["training"], "floor"),
        "training-tinkex": pooled_training(runs["training"], "tinkex"),
    }

    sf, st = results["sampling-floor"], results["sampling-tinkex"]
    tf, tt = results["training-floor"], results["training-tinkex"]
    rows: list[Row] = []
    for c in concs:
        rows.append(
            row(
                f"sampling c={c} throughput (req/s)",
                st[f"c{c}"]["throughput"],
                sf[f"c{c}"]["throughput"],
                higher_is_better=True,
                limit=0.8,
            )
        )
        for q in ("p50", "p99"):
            rows.append(
                row(
                    f"sampling c={c} {q} latency (ms)",
                    st[f"c{c}"][f"{q}_ms"],
                    sf[f"c{c}"][f"{q}_ms"],
                    higher_is_better=False,
                    limit=None,
                )
            )
    rows += [
        row(
            "sampling c=1 via sample() future (req/s)",
            st["c1_future"]["throughput"],
            sf["c1"]["throughput"],
            higher_is_better=True,
            limit=None,
        ),
        row(
            "sample, no socket: client CPU (us)",
            st["mock_us"],
            sf["mock_us"],
            higher_is_better=False,
            limit=None,
        ),
        row(
            "train step 64x2048 mean (ms)",
            tt["train"]["mean_ms"],
            tf["train"]["mean_ms"],
            higher_is_better=False,
            limit=1.2,
        ),
        row(
            "train step 64x2048 sent (KiB)",
            tt["train"]["bytes_per_step"] / 1024,
            tf["train"]["bytes_per_step"] / 1024,
            higher_is_better=False,
            limit=None,
        ),
        row(
            "small loop 1x16 p50 (ms)",
            tt["small"]["p50_ms"],
            tf["small"]["p50_ms"],
            higher_is_better=False,
            limit=1.3,
        ),
        row(
            "small loop 1x16 p99 (ms)",
            tt["small"]["p99_ms"],
            tf["small"]["p99_ms"],
            higher_is_better=False,
            limit=None,
        ),
        row(
            "small loop sent/step (bytes)",
            tt["small"]["bytes_per_step"],
            tf["small"]["bytes_per_step"],
            higher_is_better=False,
            limit=None,
        ),
        row(
            "import tinkex vs httpx (ms)",
            imports["tinkex"],
            imports["httpx"],
            higher_is_better=False,
            limit=2.0,
        ),
        row(
            "import + ServiceClient, types (ms)",
            imports["tinkex_full"],
            imports["httpx"],
            higher_is_better=False,
            limit=None,
        ),
        row(
            "sampling run peak RSS (MiB)",
            st["peak_rss_kb"] / 1024,
            sf["peak_rss_kb"] / 1024,
            higher_is_better=False,
            limit=1.3,
        ),
        row(
            "RSS before sampling (MiB)",
            st["baseline_rss_kb"] / 1024,
            sf["baseline_rss_kb"] / 1024,
            higher_is_better=False,
            limit=None,
        ),
    ]
    print()
    print(render(rows))
    verdicts = [r[5] for r in rows if r[5] != "info"]
    print(
        f"\n{verdicts.count('PASS')} of {len(verdicts)} targets met; "
        f"sampling {total} requests per concurrency; {steps} training steps, "
        f"{small_steps} small-loop steps; bench took {time.perf_counter() - started:.0f}s"
    )
    return 0


# ---------------------------------------------------------------------- profiling


def profile(kind: str) -> None:
    """cProfile of tinkex's side of one workload: the caller's thread and tinkex's loop thread."""
    import cProfile
    import pstats

    import tinkex
    from tinkex import types

    with StubServer() as stub:
        service = tinkex.ServiceClient(base_url=stub.url, api_key=API_KEY)
        main_prof, loop_prof = cProfile.Profile(), cProfile.Profile()
        loop = service.holder.loop.loop
        try:
            if kind == "sampling":
                sampler = service.create_sampling_client(base_model=BASE_MODEL).result()
                prompt = types.ModelInput.from_ints(list(range(PROMPT_TOKENS)))
                params = types.SamplingParams(max_tokens=MAX_TOKENS)

                async def one() -> None:
                    await sampler.sample(prompt, 1, params)

                asyncio.run(drive(one, 32, 200))
                loop.call_soon_threadsafe(loop_prof.enable)
                main_prof.enable()
                asyncio.run(drive(one, 32, 2000))
            else:
                datums, tokens, n = (64, 2048, 10) if kind == "train" else (1, 16, 500)
                control(stub.url, "/_config", {"fb_datums": datums, "fb_tokens": tokens})
                training = service.create_lora_training_client(BASE_MODEL, rank=8).result()
                rows = token_lists(datums, tokens)

                def step() -> None:
                    tinkex_step(training, rows, types.AdamParams(learning_rate=1e-4))

                for _ in range(3):
                    step()
                loop.call_soon_threadsafe(loop_prof.enable)
                main_prof.enable()
                for _ in range(n):
                    step()
            main_prof.disable()
            done = asyncio.run_coroutine_threadsafe(_disable(loop_prof), loop)
            done.result(10)
        finally:
            service.close()
    for title, prof in (("caller's thread", main_prof), ("tinkex loop thread", loop_prof)):
        print(f"\n===== {kind}: {title} (by own time) =====")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        print(f"\n===== {kind}: {title} (cumulative) =====")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


async def _disable(prof: Any) -> None:
    prof.disable()


def main() -> int:
    parser = argparse.ArgumentParser(description="tinkex vs a bare-httpx floor on a stub server")
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side (default 2)")
    parser.add_argument("--profile", choices=("sampling", "small", "train"))
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        params = json.loads(args.params)
        print(json.dumps(WORKERS[args.worker](args.url, **params)))
        return 0
    if args.profile:
        profile(args.profile)
        return 0
    return bench(args.quick, max(1, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
