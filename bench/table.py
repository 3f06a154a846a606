"""The bench's one table: a row per measure, a column per contender, the ratios of the two tinkex
modes to the official SDK, and the issue's targets with PASS / FAIL."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from common import CONCURRENCY, percentile
from contenders import NAMES, TITLES

NA = "n/a"


@dataclass
class Row:
    metric: str
    values: dict[str, float | str | None]  # contender -> value (None: not measured)
    source: str  # how many rounds / runs the row is from
    higher_is_better: bool = False
    target: float | None = None  # the limit of the ratio of ``against`` to official
    against: str = "tinkex-pb"
    fmt: str = "{:,.1f}"
    show_ratios: bool = True
    ratios: dict[str, float | None] = field(default_factory=dict)
    verdict: str = "info"

    def evaluate(self) -> None:
        official = self.values.get("official")
        for name in ("tinkex-pb", "tinkex-json") if self.show_ratios else ():
            value = self.values.get(name)
            ok = isinstance(value, float | int) and isinstance(official, float | int) and official
            self.ratios[name] = value / official if ok else None  # type: ignore[operator]
        if self.target is None:
            return
        ratio = self.ratios.get(self.against)
        if ratio is None:
            self.verdict = NA
        elif self.higher_is_better:
            self.verdict = "PASS" if ratio >= self.target else "FAIL"
        else:
            self.verdict = "PASS" if ratio <= self.target else "FAIL"

    def target_text(self) -> str:
        if self.target is None:
            return "-"
        mode = "pb" if self.against == "tinkex-pb" else "json"
        return f"{mode} {'>=' if self.higher_is_better else '<='} {self.target}x"

    def cells(self, columns: list[str], missing: dict[str, str]) -> list[str]:
        out = [self.metric]
        for name in columns:
            value = self.values.get(name)
            if name in missing:
                out.append(NA)
            elif value is None:
                out.append("-")
            elif isinstance(value, str):
                out.append(value)
            else:
                out.append(self.fmt.format(value))
        for name in ("tinkex-pb", "tinkex-json"):
            ratio = self.ratios.get(name)
            out.append("-" if ratio is None else f"{ratio:.2f}x")
        return [*out, self.target_text(), self.verdict, self.source]


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def best_sampling(runs: list[dict[str, Any]], c: int) -> dict[str, Any] | None:
    """The round with the highest throughput at concurrency ``c`` (its latencies with it)."""
    got = [r["sampling"][f"c{c}"] for r in runs if "sampling" in r]
    return max(got, key=lambda x: x["throughput"]) if got else None


def pooled_training(runs: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """Every timed step of every round of one contender, pooled."""
    got = [r["training"][name] for r in runs if "training" in r]
    if not got:
        return None
    times = [t for g in got for t in g["times"]]
    steps = len(times)
    encodings: dict[str, int] = {}
    for g in got:
        for enc, n in g["encodings"].items():
            encodings[enc] = encodings.get(enc, 0) + n
    return {
        "mean_ms": statistics.fmean(times) * 1000,
        "p50_ms": percentile(times, 50) * 1000,
        "p99_ms": percentile(times, 99) * 1000,
        "bytes_per_step": sum(g["bytes_in"] for g in got) / steps,
        "requests_per_step": sum(g["requests"] for g in got) / steps,
        "steps": steps,
        "cpu_ms_per_step": sum(g["cpu_s"] for g in got) / steps * 1000,
        "encodings": ", ".join(sorted(encodings)) or "-",
        "checks_ok": all(c["ok"] for g in got for c in g["checks"]),
    }


def build_rows(
    results: dict[str, dict[str, list[dict[str, Any]]]], plan: dict[str, Any]
) -> list[Row]:
    """``results[contender][task]``: the worker outputs of each task, one per process."""

    def each(fn: Any) -> dict[str, Any]:
        return {name: fn(results.get(name, {})) for name in NAMES}

    rounds = plan["rounds"]
    n_proc = min((len(every_of(r)) for r in results.values() if every_of(r)), default=0)
    start_src = f"median of {n_proc}+ processes"
    samp_src = f"best of {rounds} rounds x {plan['total']} req"
    train = each(lambda r: pooled_training(r.get("training", []), "train"))
    small = each(lambda r: pooled_training(r.get("training", []), "small"))
    steps = next((t["steps"] for t in train.values() if t), 0)
    small_steps = next((t["steps"] for t in small.values() if t), 0)
    train_src = f"{rounds} rounds, {steps} steps pooled"
    small_src = f"{rounds} rounds, {small_steps} steps pooled"

    def mib(kb: float | None) -> float | None:
        return kb / 1024 if kb is not None else None

    def get(d: dict[str, Any] | None, key: str) -> Any:
        return d.get(key) if d else None

    rows = [
        Row("import (ms)", each(lambda r: median_of(every_of(r), "import_ms")), start_src),
        Row(
            "import + ServiceClient, types (ms)",
            each(lambda r: median_of(every_of(r), "import_full_ms")),
            start_src,
            target=0.5,
        ),
        Row("client ready (ms)", each(lambda r: median_of(every_of(r), "ready_ms")), start_src),
        Row(
            "peak RSS at start (MiB)",
            each(lambda r: mib(median_of(every_of(r), "start_peak_rss_kb"))),
            start_src,
            target=0.7,
        ),
    ]
    sampling_targets = {1: 1.1, 32: 1.5, 256: 1.5}
    for c in CONCURRENCY:
        best = each(lambda r, c=c: best_sampling(r.get("sampling", []), c))
        rows.append(
            Row(
                f"sampling c={c} throughput (req/s)",
                {k: get(v, "throughput") for k, v in best.items()},
                samp_src,
                higher_is_better=True,
                target=sampling_targets.get(c),
            )
        )
        for q in ("p50", "p99"):
            rows.append(
                Row(
                    f"sampling c={c} {q} (ms)",
                    {k: get(v, f"{q}_ms") for k, v in best.items()},
                    samp_src,
                    target=0.7 if (c, q) == (256, "p99") else None,
                )
            )
        rows.append(
            Row(
                f"sampling c={c} client CPU / call (us)",
                {k: get(v, "client_cpu_us") for k, v in best.items()},
                samp_src,
                fmt="{:,.0f}",
            )
        )
        rows.append(
            Row(
                f"sampling c={c} stub's CPU share",
                {k: get(v, "stub_cpu_share") for k, v in best.items()},
                samp_src,
                fmt="{:.0%}",
                show_ratios=False,
            )
        )
    train_ms = {k: get(v, "mean_ms") for k, v in train.items()}
    rows += [
        Row("train step 64x2048 mean (ms)", train_ms, train_src, target=0.8),
        Row(
            "train step 64x2048 mean, JSON mode",
            train_ms,
            train_src,
            target=2.0,
            against="tinkex-json",
        ),
        Row(
            "train step 64x2048 p50 (ms)",
            {k: get(v, "p50_ms") for k, v in train.items()},
            train_src,
        ),
        Row(
            "train step 64x2048 p99 (ms)",
            {k: get(v, "p99_ms") for k, v in train.items()},
            train_src,
        ),
        Row(
            "train step 64x2048 client CPU (ms)",
            {k: get(v, "cpu_ms_per_step") for k, v in train.items()},
            train_src,
        ),
        Row(
            "request bytes / train step (KiB)",
            {k: (v["bytes_per_step"] / 1024 if v else None) for k, v in train.items()},
            train_src,
            target=1.0,
        ),
        Row(
            "requests / train step",
            {k: get(v, "requests_per_step") for k, v in train.items()},
            train_src,
        ),
        Row(
            "fwd/bwd body seen by the stub",
            {k: get(v, "encodings") for k, v in train.items()},
            train_src,
        ),
        Row(
            "small loop 1x16 p50 (ms)",
            {k: get(v, "p50_ms") for k, v in small.items()},
            small_src,
            target=0.6,
        ),
        Row("small loop 1x16 p99 (ms)", {k: get(v, "p99_ms") for k, v in small.items()}, small_src),
        Row(
            "peak RSS during training (MiB)",
            each(
                lambda r: mib(max((x["peak_rss_kb"] for x in r.get("training", [])), default=None))
            ),
            f"max of {rounds} training processes",
            target=1.0,
        ),
        Row(
            "pyqwest in the process",
            each(
                lambda r: (
                    {True: "yes", False: "no"}.get(
                        any(x["describe"]["pyqwest_loaded"] for x in r.get("training", []))
                    )
                    if r.get("training")
                    else None
                )
            ),
            "training processes",
        ),
    ]
    for row in rows:
        row.evaluate()
    return rows


def every_of(r: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [x for task in r.values() for x in task]


def render(rows: list[Row], missing: dict[str, str]) -> str:
    columns = list(NAMES)
    header = [
        "metric",
        *(TITLES[n] for n in columns),
        "pb/off",
        "json/off",
        "target",
        "result",
        "from",
    ]
    cells = [header] + [row.cells(columns, missing) for row in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = []
    for i, c in enumerate(cells):
        first = c[0].ljust(widths[0])
        rest = [c[j].rjust(widths[j]) for j in range(1, len(header) - 1)]
        lines.append("  ".join([first, *rest, c[-1].ljust(widths[-1])]).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "metric": r.metric,
            "values": r.values,
            "ratios": r.ratios,
            "target": r.target_text(),
            "result": r.verdict,
            "from": r.source,
        }
        for r in rows
    ]
